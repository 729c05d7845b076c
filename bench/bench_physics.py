"""Physics twin speed against MuJoCo's raw ``mj_step``, a contact sheet of a baked gait, and (opt-in) the
time to train the quadruped to walk.

Run: ``.venv/bin/python bench/run.py physics``. The overhead ratio is raw ``mj_step``
env-steps/s (``substeps`` physics steps per env-step, one ``MjData``, no Python around it)
over ours, measured in the same run on the same model: 1.0 would be free.

``RIG_DOJO_BENCH_LONG=1`` also runs :func:`locomotion_time` (the command line's locomotion defaults until the
creature moves forward at >= 1 body length per second over 10 s episodes without falling; the issue's target is
<= 20 minutes on 2 cores) on ``build_quadruped`` and on Rigify's basic quadruped metarig
(``RIG_DOJO_BENCH_LOCOMOTION=quadruped,metarig``), ``RIG_DOJO_BENCH_REPEAT`` seeds each (default 1; the median
and worst are printed), then the jump's time to 8 of 8 landed jumps (:func:`jump_time`, up to 5 minutes;
``RIG_DOJO_BENCH_JUMP=quadruped,metarig``). It is off by default because it takes long (up to 20 minutes per
creature and seed).
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from pathlib import Path

import numpy as np

SUBSTEPS = 8
REPEATS = 3


def _quadruped():
    import bpy

    from rig_dojo.scene.physics import extract as pe
    from rig_dojo.scene.builders import creatures

    bpy.ops.wm.read_factory_settings(use_empty=True)
    obj = creatures.build_quadruped()
    return obj, pe.extract_physics(obj)


def _rate(fn, steps: int) -> float:
    best = math.inf
    for _ in range(REPEATS):
        start = time.perf_counter()
        fn(steps)
        best = min(best, time.perf_counter() - start)
    return steps / best


def step_rates(spec, n_envs: int, steps: int) -> dict[str, float]:
    """env-steps/s of raw ``mj_step``, of :class:`PhysicsTwin` and of the whole locomotion task step."""
    import mujoco

    from rig_dojo.envs.physics.task import make_physics_task

    task = make_physics_task(spec, "locomotion", n_envs=n_envs, seed=0, substeps=SUBSTEPS)
    task.reset()
    model = task.twin.model
    data = mujoco.MjData(model)
    data.qpos[:] = task.rest_qpos

    def raw(k):
        for _ in range(k):
            mujoco.mj_step(model, data, SUBSTEPS)

    rng = np.random.default_rng(0)
    actions = rng.uniform(-0.3, 0.3, (16, n_envs, task.n_joints))
    targets = task.targets(actions)

    def twin(k):
        for i in range(k):
            task.twin.step(targets[i % 16])

    def full(k):
        for i in range(k):
            task.step(actions[i % 16])

    per_call = max(1, steps // n_envs)
    return {"raw": _rate(raw, steps), "twin": _rate(twin, per_call) * n_envs, "task": _rate(full, per_call) * n_envs,
            "threads": task.twin.threads}


def contact_sheet(path: Path, frames: int = 24, tiles: int = 6, size: tuple[int, int] = (200, 150)) -> tuple[Path, float]:
    """Bake an open-loop trot of the quadruped, render ``tiles`` Workbench frames and tile them into one PNG."""
    import bpy

    from rig_dojo.scene.builders.render import render_frames, tile_sheet
    from rig_dojo.scene.physics import bake as physics_bake
    from rig_dojo.scene.physics import verify as physics_verify
    from rig_dojo.envs.physics.task import make_physics_task, record_clip

    obj, spec = _quadruped()
    task = make_physics_task(spec, "locomotion", n_envs=1, seed=3)
    phase = {"front_L": 0.0, "back_R": 0.0, "front_R": math.pi, "back_L": math.pi}
    layout = task.twin.layout
    bones = [spec.bone_names[b] for b in layout.joint_bone]
    offsets = np.array([phase.get(b.rsplit("_", 1)[0], 0.0) for b in bones])
    # 0.3 of the joint ranges (the task's action_scale halves what an action asks for)
    gain = 0.3 / task.action_scale * np.array([(1.0 if b.endswith("_thigh") else 0.5 if b.endswith("_shin") else 0.0) * (a == 0)
                           for b, a in zip(bones, layout.joint_axis)])
    clip = record_clip(task, lambda obs: (gain * np.sin(4 * math.pi * task.t[0] / task.fps + offsets))[None], n_steps=frames)
    physics_bake.bake_physics(obj, spec, clip.frames, clip.root_world, clip.euler)
    check = physics_verify.verify_physics_bake(obj, spec, clip.frames, clip.heads, clip.tails)
    scene = bpy.context.scene
    # armatures do not render: a cylinder per bone, parented to it, shows the capsules
    for k, name in enumerate(spec.bone_names):
        r, length = spec.radius[k], spec.lengths[k]
        bpy.ops.mesh.primitive_cylinder_add(vertices=12, radius=r, depth=length)
        cyl = bpy.context.active_object
        cyl.parent, cyl.parent_type, cyl.parent_bone = obj, 'BONE', name
        cyl.matrix_parent_inverse.identity()
        cyl.location = (0.0, -length / 2, 0.0)  # bone parenting starts at the tail
        cyl.rotation_euler = (math.pi / 2, 0.0, 0.0)
    bpy.ops.mesh.primitive_plane_add(size=8.0)
    cam_data = bpy.data.cameras.new("cam")
    cam = bpy.data.objects.new("cam", cam_data)
    scene.collection.objects.link(cam)
    cam.location = (3.2, -1.6, 1.4)
    cam.rotation_euler = (math.radians(72), 0.0, math.radians(62))
    scene.camera = cam
    picks = [int(f) for f in np.linspace(clip.frames[0], clip.frames[-1], tiles).round()]
    tile_sheet(path, render_frames(picks, *size), columns=tiles)
    return path, check.position_error


def _metarig():
    """Rigify's basic quadruped metarig as its Add > Armature menu makes it (34 bones, 99 hinges, no limits)."""
    import bpy

    from rig_dojo.scene.builders import scenes
    from rig_dojo.scene.physics import extract as pe

    bpy.ops.wm.read_factory_settings(use_empty=True)
    scenes.enable_rigify()
    bpy.ops.object.armature_basic_quadruped_metarig_add()
    obj = bpy.context.active_object
    return obj, pe.extract_physics(obj)


CREATURES = {"quadruped": _quadruped, "metarig": _metarig}


def locomotion_config(seed: int = 0, rig: str = "Quadruped"):
    """What ``python -m rig_dojo train SCENE --task locomotion --rig RIG`` trains with on a fresh
    scene: the locomotion task's own PPO defaults (``defaults_for("ppo", "locomotion")``), its default
    reward terms (``envs.physics.task.DEFAULT_TERMS``) and the default ``[physics]`` table."""
    from rig_dojo.agents.config import TrainConfig, defaults_for

    config = TrainConfig(task="locomotion")
    config.algo = defaults_for("ppo", "locomotion")
    config.algo.seed = seed
    config.rig.rig = rig
    return config


def evaluate_speed(policy, probe, seeds=(1, 2, 3, 4)) -> tuple[float, float, int]:
    """Deterministic episodes of ``policy`` on ``probe`` (one environment): the slowest speed along the
    task's direction (body lengths per second over the whole episode), the shortest episode (seconds)
    and the number of falls."""
    from rig_dojo.envs.physics.task import record_clip

    speeds, lengths, falls = [], [], 0
    for seed in seeds:
        clip = record_clip(probe, lambda obs: policy.predict(obs, deterministic=True)[0], seed=seed)
        seconds = (len(clip.frames) - 1) / probe.fps
        moved = float((clip.root_world[-1, :3, 3] - clip.root_world[0, :3, 3]) @ probe.direction) / probe.unit
        speeds.append(moved / max(seconds, 1e-9))
        lengths.append(seconds)
        falls += int(clip.fell)
    return min(speeds), min(lengths), falls


def locomotion_time(max_minutes: float = 20.0, seed: int = 0, every: int = 150_000,
                    creature: str = "quadruped") -> float | None:
    """Seconds of training, with the locomotion defaults exactly as the command line uses them, until the
    creature's deterministic policy moves forward at >= 1 body length per second over full 10 s episodes
    without falling (four evaluation episodes about every ``every`` steps; evaluation time counts); None if
    not reached within ``max_minutes``. One torch thread, one process. ``creature``: ``quadruped``
    (``build_quadruped``) or ``metarig`` (Rigify's basic quadruped metarig)."""
    import torch

    from rig_dojo.agents.algorithms import build_model
    from rig_dojo.envs.physics.family import env_factory as physics_env_factory

    torch.set_num_threads(1)
    obj, spec = CREATURES[creature]()
    config = locomotion_config(seed, obj.name)
    make_env = physics_env_factory(spec)
    env = make_env(config, config.algo.n_envs, config.algo.seed)
    probe = make_env(config, 1, config.algo.seed + 7919)
    episode = config.physics.episode_seconds
    model = build_model(config, env)
    a = config.algo
    print(f"  {creature}, seed {seed}: {a.name} n_envs {a.n_envs} n_steps {a.n_steps} batch {a.batch_size} "
          f"epochs {a.n_epochs} net {a.net_arch} lr {a.learning_rate:g} ({a.lr_schedule}) gamma {a.gamma} "
          f"extra {a.extra}", flush=True)
    result: dict[str, float] = {}
    start = time.perf_counter()
    state = {"next": every}

    def probe_now(m) -> bool:
        """Evaluate when due; False once the target is met or the time is up."""
        elapsed = time.perf_counter() - start
        if m.num_timesteps >= state["next"]:
            state["next"] = m.num_timesteps + every
            speed, seconds, falls = evaluate_speed(m, probe)
            elapsed = time.perf_counter() - start
            print(f"  {m.num_timesteps:>9,} steps {elapsed:7.0f} s: {speed:5.2f} body lengths/s, "
                  f"shortest episode {seconds:4.1f} s, {falls} falls", flush=True)
            if "best" not in result or (falls == 0 and speed > result["best"]):
                result.update(best=speed if falls == 0 else -math.inf, best_at=elapsed)
            if falls == 0 and seconds >= episode - 1e-6 and speed >= 1.0:
                result["done"] = elapsed
                return False
        return elapsed < max_minutes * 60

    if hasattr(model, "checkpoint_bytes"):  # our PPO (agents/ppo.py): checked after every update
        model.learn(a.total_steps, on_iteration=probe_now)
    else:  # Stable-Baselines3: after every step
        from stable_baselines3.common.callbacks import BaseCallback

        class Probe(BaseCallback):
            def _on_step(self) -> bool:
                return probe_now(self.model)

        model.learn(a.total_steps, callback=Probe())
    if "done" not in result and result.get("best", -math.inf) > -math.inf:
        print(f"  best without falling: {result['best']:.2f} body lengths/s at {result['best_at']:.0f} s", flush=True)
    return result.get("done")


def jump_time(max_seconds: float = 300.0, seed: int = 0, creature: str = "quadruped",
              log_std: float | None = None) -> float | None:
    """Seconds of training, with the jump task's defaults as the command line uses them (``log_std`` overrides
    the exploration), until all of 8 deterministic 10 s episodes succeed (a landed jump of ``jump_height``, still
    up at the end), evaluated about every 15 s (``bench_library_stand.time_to_target``; their time counts); None
    if not within ``max_seconds``. One torch thread."""
    import torch

    from bench_library_stand import time_to_target
    from rig_dojo.agents.config import TrainConfig, defaults_for

    torch.set_num_threads(1)
    obj, _ = CREATURES[creature]()
    config = TrainConfig(task="jump")
    config.algo = defaults_for("ppo", "jump")
    config.algo.seed = seed
    if log_std is not None:
        config.algo.extra = {**config.algo.extra, "log_std_init": log_std}
    config.rig.rig = obj.name
    reached = time_to_target(config, limit=max_seconds)["reached"]
    return None if reached is None else reached[0]


def main() -> None:
    _, spec = _quadruped()
    print(f"quadruped: {spec.n_bones} bones, {SUBSTEPS} substeps per control step at {spec.fps:g} fps")
    print("raw mj_step is one thread; the twin steps on agents.threads.physics_threads() threads (a ratio under 1x: "
          "faster than one thread of raw MuJoCo)")
    for n_envs, steps in ((1, 2000), (64, 6400), (512, 25600)):
        r = step_rates(spec, n_envs, steps)
        print(f"n_envs {n_envs:3d}: raw mj_step {r['raw']:8.0f} env-steps/s | twin on {r['threads']} thread(s) "
              f"{r['twin']:8.0f} ({r['raw'] / r['twin']:4.2f}x) | task step {r['task']:8.0f} ({r['raw'] / r['task']:4.2f}x)")
    out = Path(tempfile.gettempdir()) / "rig_dojo_physics_contact_sheet.png"
    path, err = contact_sheet(out)
    print(f"contact sheet of a baked open-loop trot: {path} (bake verified in Blender: worst bone error {err:.2e})")
    if os.environ.get("RIG_DOJO_BENCH_LONG"):
        names = [n.strip() for n in os.environ.get("RIG_DOJO_BENCH_LOCOMOTION", "quadruped,metarig").split(",")
                 if n.strip()]
        repeat = int(os.environ.get("RIG_DOJO_BENCH_REPEAT", 1))
        for name in names:
            times = [locomotion_time(seed=seed, creature=name) for seed in range(repeat)]
            shown = ", ".join("not reached" if t is None else f"{t / 60:.1f}" for t in times)
            reached = sorted(t for t in times if t is not None)
            summary = ""
            if len(reached) == len(times) and len(times) > 1:
                summary = f" (median {reached[len(reached) // 2] / 60:.1f}, worst {reached[-1] / 60:.1f})"
            print(f"locomotion on {name} (the command line's defaults), minutes to >= 1 body length/s over 10 s "
                  f"without falling, seeds 0-{repeat - 1}: {shown}{summary}")
        for name in [n.strip() for n in os.environ.get("RIG_DOJO_BENCH_JUMP", "quadruped").split(",") if n.strip()]:
            times = [jump_time(seed=seed, creature=name) for seed in range(repeat)]
            shown = ", ".join("not reached" if t is None else f"{t:.0f}" for t in times)
            print(f"jump on {name} (the defaults), seconds to 8 of 8 landed jumps, seeds 0-{repeat - 1}: {shown}")
    else:
        print("locomotion and jump times: skipped (set RIG_DOJO_BENCH_LONG=1 to run them, up to 20 minutes per "
              "creature and seed)")


if __name__ == "__main__":
    main()
