"""The camera entry of the policy library (``library:camera``): framing a moving subject on shots never seen (no bpy).

The camera task's observation (``envs.camera.task.CameraTask._observe``) is already in shot-independent units:
the subject's image position and size, the camera's velocities as fractions of its limits, the subject's
positions now / 6 / 12 frames ahead in the camera's frame in shot scales, occlusion, the camera's place in its
region (-1..1 per axis) and the shot's phase (0..1). Of these only the phase means nothing from one shot to the
next (frame 40 of 48 is not frame 40 of 144), so the library network is built blind to it: the first layer's
weights that read the phase are zero and stay zero while it is trained (fine-tuning on a shot may then use it).
The occlusion is read since the recipe puts boxes in the way on some of the random shots (``obstacles``): a
recipe without obstacles never changes it and builds a network blind to it too (:func:`blind_inputs`; read with
the normaliser's zero variance, any occlusion on a real shot was a 5-sigma input that threw the camera off the
subject). Nothing of what existing camera runs observe changes.

How it is made (:func:`pretrain_camera`): DAgger behaviour cloning of :func:`teacher_actions`, a scripted
operator with lead: it aims at where the subject will be next frame (with the look-at angle's own rate fed
forward), and moves toward the point at the shot's starting distance behind the subject 12 frames ahead, each
as an acceleration within the camera's limits. The random shots (:func:`random_shot`) have random subject paths
(speeds 0-6 m/s, stops, turns, sharp corners, climbs), start distances, start aims off the subject, lenses, shot
lengths and scenes scaled from tabletop to stadium; some get boxes between camera and subject
(:func:`random_obstacles`), which the teacher rises over (:func:`clear_direction`). The network is our PPO's
``ActorCritic`` (``agents/ppo.py``, 64x64, tanh), so a run fine-tunes it with ``algo = "ppo"``.

Covered: ``camera.mode = "free"`` without lens or roll (5 actions, 24 observations), any framing point's
observation (the teacher centres the subject; fine-tuning moves it to a third). Dolly, pan, Animate Lens and
Allow Roll change the spaces and are refused with what differs.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

#: the observation's phase (shot frame / last frame): the one entry that means nothing across shots
PHASE_INDEX = 23
#: the observation's occlusion: read when the recipe's random shots have obstacles (blind_inputs)
OCCLUSION_INDEX = 19
BLIND = (OCCLUSION_INDEX, PHASE_INDEX)  # inputs a network of an obstacle-free recipe does not read
VAR_FLOOR = 1e-2  # the normaliser's variance floor: an input that barely moved in pretraining is not blown up
OBS_DIM = 24  # free mode without lens (envs.camera.task.CameraTask)
LEAD = 12  # frames: the teacher's position target is where the subject will be this far ahead (the last lookahead)


@dataclass
class CameraRecipe:
    """How ``library:camera`` is trained (recorded in library/camera.json; ``./dojo pretrain camera`` repeats it)."""

    seed: int = 0
    shots: int = 48  # random shots per round (random_shot), new ones every round
    envs_per_shot: int = 8  # cameras per shot, each with its own start noise
    start_noise: float = 0.15  # random start offset (shot scales, tenths of a radian) around the shot's start
    rounds: int = 8  # DAgger rounds: each rolls fresh shots for one episode and trains on all data so far
    teacher_rounds: int = 1  # the first rounds act as the teacher; the rest as the network (labelled by the teacher)
    action_noise: float = 0.1
    updates_per_round: int = 1000
    minibatch: int = 2048
    learning_rate: float = 1e-3
    max_samples: int = 1_000_000
    net_arch: tuple = (64, 64)
    log_std: float = -1.6  # the stored exploration for fine-tuning (std 0.2 of a full action)
    obstacles: float = 0.3  # fraction of the random shots with boxes between camera and subject (random_obstacles);
    # above 0 the teacher clears occluders (clear_direction) and the network reads the occlusion input


def blind_inputs(recipe: "CameraRecipe | dict | None" = None) -> tuple[int, ...]:
    """The inputs a library network made by ``recipe`` does not read: the phase, and the occlusion unless the
    recipe's shots had obstacles (a recipe recorded before obstacles existed has none)."""
    share = recipe.get("obstacles", 0.0) if isinstance(recipe, dict) else getattr(recipe, "obstacles", 0.0)
    return (PHASE_INDEX,) if share and share > 0 else BLIND


# ---- random shots ------------------------------------------------------------------------------------------
def random_shot(rng: np.random.Generator, frames: int | None = None) -> Any:
    """A random shot without obstacles (``CameraSpec``): a subject path of straight runs, curves, corners and
    stops at 0-6 m/s, a camera 2-15 m away at a random bearing and height, aimed near the subject, a 24-85 mm
    lens, 48-144 frames at 24 fps, the whole scene scaled by 0.1-10 (tabletop to stadium)."""
    from ..envs.camera.twin import CameraSpec, look_at_angles

    n = int(frames or rng.integers(48, 145))
    fps = 24.0
    dt = 1.0 / fps
    scale = float(np.exp(rng.uniform(np.log(0.1), np.log(10.0))))
    # speed and turn rate: piecewise constant segments, smoothed (stops and sharp corners now and then)
    speed = np.empty(n)
    turn = np.empty(n)
    climb = np.empty(n)
    top = rng.uniform(0.3, 6.0)
    i = 0
    while i < n:
        length = int(rng.integers(8, 40))
        kind = rng.random()
        speed[i:i + length] = 0.0 if kind < 0.12 else rng.uniform(0.3, 1.0) * top
        turn[i:i + length] = rng.normal(0.0, 0.8) if rng.random() < 0.6 else 0.0
        climb[i:i + length] = rng.normal(0.0, 0.15) * top if rng.random() < 0.3 else 0.0
        if rng.random() < 0.25 and i > 0:  # a corner: the heading jumps
            turn[i] += rng.choice([-1, 1]) * rng.uniform(np.pi / 4, np.pi * 0.75) / dt
        i += length
    kernel = np.ones(5) / 5.0
    speed = np.convolve(np.pad(speed, 2, mode="edge"), kernel, mode="valid")
    heading = rng.uniform(-np.pi, np.pi) + np.cumsum(turn) * dt
    vel = np.stack([np.cos(heading) * speed, np.sin(heading) * speed, climb], axis=1)
    path = np.vstack([np.zeros(3), np.cumsum(vel[:-1] * dt, axis=0)])
    path[:, 2] += rng.uniform(0.3, 2.0)
    radius = rng.uniform(0.15, 0.8)
    distance = rng.uniform(2.0, 15.0)
    bearing = rng.uniform(-np.pi, np.pi)
    elevation = rng.uniform(-0.1, 0.6)
    camera = path[0] + distance * np.array([np.cos(elevation) * np.cos(bearing), np.cos(elevation) * np.sin(bearing),
                                            np.sin(elevation)])
    angles = np.zeros(3)
    angles[:2] = look_at_angles(camera, path[0]) + rng.normal(0.0, 0.08, 2)
    offsets = rng.normal(0.0, radius * 0.5, (6, 3))
    points = path[:, None, :] + offsets[None]
    return CameraSpec(camera_name="Camera", subject_name="Subject", subject_positions=path * scale,
                      subject_points=points * scale, camera_position=camera * scale, camera_angles=angles,
                      subject_radius=radius * scale, lens=float(rng.uniform(24.0, 85.0)), fps=fps,
                      frame_start=1, frame_end=n, clip_start=0.01 * scale, clip_end=1000.0 * scale)


def box_triangles(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """``(12, 3, 3)``: the closed box ``lo``..``hi`` as triangles."""
    c = np.array([[lo[0], lo[1], lo[2]], [hi[0], lo[1], lo[2]], [hi[0], hi[1], lo[2]], [lo[0], hi[1], lo[2]],
                  [lo[0], lo[1], hi[2]], [hi[0], lo[1], hi[2]], [hi[0], hi[1], hi[2]], [lo[0], hi[1], hi[2]]])
    quads = [(0, 1, 2, 3), (4, 5, 6, 7), (0, 1, 5, 4), (1, 2, 6, 5), (2, 3, 7, 6), (3, 0, 4, 7)]
    return np.array([[c[a], c[b], c[d]] for q in quads for a, b, d in ((q[0], q[1], q[2]), (q[0], q[2], q[3]))])


def random_obstacles(rng: np.random.Generator, spec: Any, count: int | None = None) -> Any:
    """``spec`` with 1-3 random boxes standing between its camera's start and its subject's path (posts, walls
    across the line of sight, crates), each from below the subject's lowest point to 0.2-1.5 subject widths
    above the line of sight's point it stands on, placed 30-70% of the way from the camera to the subject at a
    random frame: what hides a subject on the camera suite's shots, scaled with the shot."""
    import dataclasses as dc

    s = spec.scale
    path = spec.subject_positions
    cam = spec.camera_position
    bottom = path[:, 2].min() - 0.3 * s
    tris, ids = [], []
    for k in range(int(count or rng.integers(1, 4))):
        frame = int(rng.integers(0, len(path)))
        mid = cam + rng.uniform(0.3, 0.7) * (path[frame] - cam)
        sight = path[frame] - cam
        across = 0 if abs(sight[0]) < abs(sight[1]) else 1  # the horizontal axis most across the line of sight
        kind = rng.random()
        half = np.empty(3)
        if kind < 0.4:  # a post
            half[:2] = rng.uniform(0.01, 0.03) * s
        elif kind < 0.75:  # a wall across the view
            half[across], half[1 - across] = rng.uniform(0.05, 0.25) * s, rng.uniform(0.005, 0.015) * s
        else:  # a crate
            half[:2] = rng.uniform(0.03, 0.08) * s
        top = mid[2] + rng.uniform(0.2, 1.5) * spec.subject_radius * 2
        lo = np.array([mid[0] - half[0], mid[1] - half[1], bottom])
        hi = np.array([mid[0] + half[0], mid[1] + half[1], max(top, bottom + 1e-3 * s)])
        if np.all(cam > lo - 0.05 * s) and np.all(cam < hi + 0.05 * s):
            continue  # never around the camera's start
        tris.append(box_triangles(lo, hi))
        ids.append(np.full(12, len(ids)))
    if not tris:
        return spec
    names = [f"Box{i}" for i in range(len(tris))]
    return dc.replace(spec, obstacle_triangles=np.concatenate(tris), obstacle_ids=np.concatenate(ids),
                      obstacle_names=names, obstacle_closed=np.ones(len(tris), dtype=bool), region_min=None,
                      region_max=None)


# ---- the teacher --------------------------------------------------------------------------------------------
def _wrap(a: np.ndarray) -> np.ndarray:
    return (a + np.pi) % (2 * np.pi) - np.pi


#: the teacher's rises (radians of elevation above the camera's own, about the subject) tried in order to clear
RISES = np.radians([0.0, 6.0, 12.0, 18.0, 24.0, 30.0, 40.0, 50.0, 60.0])
CHECKS = (3, 6, 12, 18)  # frames ahead at which a candidate must see the whole subject and not collide
MAX_ELEVATION = np.radians(75.0)


def clear_direction(task: Any) -> np.ndarray:
    """``(n, 3)`` unit directions from the subject to where the teacher keeps the camera: the camera's own
    bearing and elevation about the subject, raised by the first of ``RISES`` whose point at the shot scale
    sees the whole subject without collision at every ``CHECKS`` frame ahead (the occlusion rays of the twin);
    with nothing in the way (or nothing clear) the camera's own direction, as the open-shot teacher keeps."""
    tw, spec = task.twin, task.spec
    last = spec.n_frames - 1
    f = task.frame_index
    n = len(f)
    offset = tw.pos - spec.subject_positions[f]
    dist = np.maximum(np.linalg.norm(offset, axis=1), 1e-9)
    bearing = np.arctan2(offset[:, 1], offset[:, 0])
    elevation = np.arcsin(np.clip(offset[:, 2] / dist, -1.0, 1.0))
    k = len(RISES)
    elev = np.minimum(elevation[:, None] + RISES[None], np.maximum(MAX_ELEVATION, elevation[:, None]))
    dirs = np.stack([np.cos(elev) * np.cos(bearing)[:, None], np.cos(elev) * np.sin(bearing)[:, None],
                     np.sin(elev)], axis=-1)  # (n, k, 3)
    clear = np.ones((n, k), dtype=bool)
    if task.obstacles.n_triangles or task.moving.n_triangles:
        for ahead in CHECKS:
            fa = np.minimum(f + ahead, last)
            points = spec.subject_positions[fa][:, None] + dirs * task.scale
            occlusion, collision, _ = task.measure_positions(points.reshape(-1, 3), np.repeat(fa, k))
            clear &= (occlusion.reshape(n, k) == 0.0) & ~collision.reshape(n, k)
    first = np.where(clear.any(axis=1), clear.argmax(axis=1), 0)
    return dirs[np.arange(n), first]


def teacher_actions(task: Any, clear: bool = False) -> np.ndarray:
    """The scripted operator's actions ``(n, 5)`` for a free-mode ``CameraTask`` without lens or roll, from its
    true state: turn toward the subject's next position (its look-at rate fed forward), move toward the point at
    the shot's starting distance from the subject ``LEAD`` frames ahead, both as accelerations within limits.
    ``clear``: that point is raised over what would hide the subject (:func:`clear_direction`)."""
    from ..envs.camera.twin import look_at_angles

    tw, lim, spec = task.twin, task.limits, task.spec
    last = spec.n_frames - 1
    f = task.frame_index
    dt = tw.dt
    subject = spec.subject_positions
    now, ahead = subject[f], subject[np.minimum(f + LEAD, last)]
    nxt = subject[np.minimum(f + 1, last)]
    # position: keep the starting distance, from where the camera is now (its bearing to the subject)
    if clear:
        goal = ahead + clear_direction(task) * task.scale
    else:
        offset = tw.pos - now
        dist = np.linalg.norm(offset, axis=1, keepdims=True)
        goal = ahead + offset / np.maximum(dist, 1e-9) * task.scale
    lead_time = max(LEAD, 1) * dt
    want_vel = (goal - tw.pos) / lead_time
    speed = np.linalg.norm(want_vel, axis=1, keepdims=True)
    want_vel *= np.minimum(1.0, lim.max_speed / np.maximum(speed, 1e-12))
    tau = 0.2  # seconds to close a velocity error (smooth: no bang-bang)
    world_acc = (want_vel - tw.vel) / tau
    local = np.einsum("nji,nj->ni", tw.rotation, world_acc) / lim.max_accel
    # rotation: aim at the subject's next position from the camera's next position, plus the aim's own rate
    next_pos = tw.pos + tw.vel * dt
    aim = look_at_angles(next_pos, nxt)
    aim_later = look_at_angles(next_pos + tw.vel * dt, subject[np.minimum(f + 2, last)])
    rate = _wrap(aim_later - aim) / dt
    err = _wrap(aim - tw.angles[:, :2])
    want_rate = np.clip(rate + err / 0.1, -lim.max_turn_rate, lim.max_turn_rate)
    turn = (want_rate - tw.ang_vel[:, :2]) / (0.08 * lim.max_turn_accel)
    return np.clip(np.concatenate([local, turn], axis=1), -1.0, 1.0).astype(np.float32)


# ---- pretraining -------------------------------------------------------------------------------------------
def _task(spec: Any, n_envs: int, start_noise: float, seed: int) -> Any:
    from ..envs.camera.task import CameraTask

    occlusion = bool(len(spec.obstacle_triangles))
    return CameraTask(spec, n_envs=n_envs, mode="free", start_noise=start_noise, occlusion=occlusion, seed=seed)


def new_network(recipe: CameraRecipe) -> Any:
    """Our PPO's network for the library's spaces (24 observations, 5 actions), blind to the phase."""
    import torch

    from .ppo import ActionLayout, ActorCritic

    layout = ActionLayout(size=5, low=(-1.0,) * 5, high=(1.0,) * 5)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(recipe.seed)
        net = ActorCritic(OBS_DIM, layout, list(recipe.net_arch), "Tanh", recipe.log_std)
    blind_to_phase(net, blind_inputs(recipe))
    return net


def blind_to_phase(net: Any, blind: tuple[int, ...] = BLIND) -> None:
    """Zero the first-layer weights that read the phase and the occlusion (``blind``; actor and critic)."""
    import torch

    with torch.no_grad():
        for mlp in (net.actor, net.critic):
            mlp[0].weight[:, list(blind)] = 0.0


def pretrain_camera(recipe: CameraRecipe | None = None, report: Callable[[str], None] | None = None
                    ) -> tuple[Any, dict]:
    """Train the camera library network by DAgger on random shots; returns ``(network, record)``."""
    import torch

    from .library import dagger_episode
    from .threads import use_training_threads

    recipe = recipe or CameraRecipe()
    use_training_threads()
    say = report or (lambda _text: None)
    began = time.perf_counter()
    rng = np.random.default_rng(recipe.seed)
    net = new_network(recipe)
    blind = list(blind_inputs(recipe))
    generator = torch.Generator().manual_seed(recipe.seed)
    optimizer = torch.optim.Adam(net.actor.parameters(), lr=recipe.learning_rate)
    observations: list[np.ndarray] = []
    labels: list[np.ndarray] = []
    loss_value = float("nan")
    x = torch.zeros(0)
    clear = recipe.obstacles > 0  # the teacher rises over occluders when the shots have any

    def act(obs: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return net.predict(obs)[0]

    for round_ in range(recipe.rounds):
        for s in range(recipe.shots):
            spec = random_shot(rng)
            if recipe.obstacles > 0 and rng.random() < recipe.obstacles:
                spec = random_obstacles(rng, spec)
            task = _task(spec, recipe.envs_per_shot, recipe.start_noise, recipe.seed * 1000 + s)
            seen, wanted = dagger_episode(task, lambda _obs, task=task: teacher_actions(task, clear=clear), act,
                                          round_ < recipe.teacher_rounds, recipe.action_noise, rng)
            observations.extend(o.astype(np.float32) for o in seen)
            labels.extend(wanted)
        while sum(len(o) for o in observations) > recipe.max_samples:
            observations.pop(0)
            labels.pop(0)
        x = torch.as_tensor(np.concatenate(observations))
        y = torch.as_tensor(np.concatenate(labels))
        if round_ == 0:  # the normaliser is part of the network (our PPO's): fixed from the teacher's states
            net.obs_norm.update(x)
            net.obs_norm.var.clamp_(min=VAR_FLOOR)
            net.obs_norm.mean[blind] = 0.0
            net.obs_norm.var[blind] = 1.0
        for _ in range(recipe.updates_per_round):
            rows = torch.randint(0, len(x), (recipe.minibatch,), generator=generator)
            loss = ((net.actor(net.obs_norm(x[rows])) - y[rows]) ** 2).mean()
            optimizer.zero_grad()
            loss.backward()
            net.actor[0].weight.grad[:, blind] = 0.0
            optimizer.step()
            loss_value = float(loss.detach())
        say(f"round {round_ + 1}/{recipe.rounds}: {len(x):,d} samples, loss {loss_value:.5f}, "
            f"{time.perf_counter() - began:.0f} s")
    blind_to_phase(net, tuple(blind))
    with torch.no_grad():
        net.log_std.fill_(recipe.log_std)
    record = {"recipe": {**dataclasses.asdict(recipe), "net_arch": list(recipe.net_arch)}, "samples": int(len(x)),
              "loss": loss_value, "seconds": round(time.perf_counter() - began, 1),
              "method": "DAgger behaviour cloning of a scripted camera operator (look-at with lead, distance "
                        "keeping, within the camera's limits) on random shots, free mode without lens or roll"
                        + (f"; {recipe.obstacles:.0%} of the shots with random boxes in the way, the operator "
                           "rising over them (the twin's occlusion rays), the occlusion input read"
                           if recipe.obstacles > 0 else "")}
    return net, record


def layout(record: dict) -> tuple[Any, Any]:
    """The config and task a camera library file records (``LibraryEntry.layout``): free mode, no lens, no roll."""
    from .config import TrainConfig, defaults_for

    config = TrainConfig()
    config.task = "camera"
    config.algo = defaults_for("ppo", "camera")
    config.algo.seed = int(record["recipe"]["seed"])
    config.algo.net_arch = list(record["recipe"].get("net_arch", [64, 64]))
    config.camera.mode = "free"
    env = _task(random_shot(np.random.default_rng(0)), 1, 0.0, 0)
    return config, env


# ---- measuring a policy on a shot ----------------------------------------------------------------------------
def shot_score(policy: Callable[[np.ndarray], np.ndarray] | None, spec: Any, **task_kwargs: Any) -> dict:
    """``envs.camera.task.shot_metrics`` of ``policy``'s deterministic move over ``spec`` (None: the teacher)."""
    from ..envs.camera.task import CameraTask, rollout, shot_metrics

    task = CameraTask(spec, n_envs=1, **{"start_noise": 0.0, **task_kwargs})
    if policy is None:
        move = rollout(task, lambda _obs: teacher_actions(task))
    else:
        move = rollout(task, policy)
    return shot_metrics(task, move)
