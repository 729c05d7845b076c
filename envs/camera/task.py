"""``CameraTask``: learn a camera move that keeps an animated subject framed, smooth and unobstructed (no bpy).

One episode is the shot: step ``k`` moves every camera from frame ``k`` to frame
``k + 1`` of the subject's sampled trajectory (:class:`~.twin.CameraSpec`).
Also here: rollouts of a policy and of the two scripted baselines (a fixed camera
and a "track-to" camera that aims at the subject every frame), and the shot
metrics the tests and the bench compare them by.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import gymnasium as gym
import numpy as np

from ...agents.cem import CrossEntropySearch, LinearPolicy
from ...errors import RigDojoError
from ...rewards import RewardComposer, TermConfig
from ...rewards.camera_terms import FRAMING_POINTS, CameraState, framing_distance
from . import default_camera_terms
from .twin import MODES, CameraLimits, CameraSpec, CameraTwin, camera_rotation, look_at_angles
from ..base import BatchedTask

OBS_CLIP = 10.0
LOOKAHEAD = (6, 12)  # frames ahead whose subject positions the policy sees (the shot is known in advance)


def default_limits(spec: CameraSpec) -> CameraLimits:
    """Limits that let the camera keep up with the subject: 1.5x its peak speed, reached in 0.5 s."""
    speeds = np.linalg.norm(np.diff(spec.subject_positions, axis=0), axis=1) * spec.fps
    max_speed = max(1.5 * float(speeds.max(initial=0.0)), 0.25 * spec.scale)
    return CameraLimits(max_speed=max_speed, max_accel=2.0 * max_speed)


class CameraTask(BatchedTask):
    """The camera shot as an SB3 ``VecEnv`` of ``n_envs`` cameras.

    Args:
        spec: the shot (:class:`CameraSpec`).
        n_envs: cameras stepped together.
        terms: reward terms (default :func:`default_camera_terms`).
        mode: ``"free"``, ``"dolly"`` (move only) or ``"pan"`` (turn only).
        use_lens: also animate the focal length.
        allow_roll: let the policy roll the camera.
        framing: framing point for ``success``/``error`` (one of ``FRAMING_POINTS``); default: the
            ``point`` of the first enabled ``camera_framing`` term, else ``"center"``.
        tolerance: framing distance (normalised image units) that counts as framed.
        start_noise: random start offset, in shot scales (position) and tenths of a radian (angles);
            0 starts every episode exactly at the camera's pose in the scene.
        occlusion: compute occlusion rays (off: occlusion is 0 and obstacles only collide).
        collision_radius: how close (scene units) to an obstacle counts as a collision
            (default 3% of the shot scale).
        limits: :class:`CameraLimits` (default :func:`default_limits`).
        seed: seed of the start noise.
    """

    def __init__(self, spec: CameraSpec, n_envs: int = 1, terms: Sequence[TermConfig] | None = None,
                 mode: str = "free", use_lens: bool = False, allow_roll: bool = False, framing: str | None = None,
                 tolerance: float = 0.08, start_noise: float = 0.0, occlusion: bool = True,
                 collision_radius: float | None = None, limits: CameraLimits | None = None, seed: int | None = None):
        spec.validate()
        if mode not in MODES:
            raise RigDojoError(f"unknown camera mode {mode!r}; choose one of {', '.join(MODES)}")
        terms = list(terms) if terms is not None else default_camera_terms(framing or "center")
        if framing is None:
            framing = next((t.params.get("point", "center") for t in terms
                            if t.name == "camera_framing" and t.enabled), "center")
        if framing not in FRAMING_POINTS:
            raise RigDojoError(f"unknown framing point {framing!r}; choose one of {', '.join(FRAMING_POINTS)}")
        self.spec = spec
        self.framing = framing
        self.tolerance = float(tolerance)
        self.start_noise = float(start_noise)
        self.use_occlusion = bool(occlusion)
        self.scale = spec.scale
        self.limits = limits or default_limits(spec)
        self.twin = CameraTwin(n_envs, self.limits, 1.0 / spec.fps, mode, use_lens, allow_roll)
        self.intrinsics = spec.intrinsics
        self.obstacles = spec.obstacles()
        self.moving = spec.moving_obstacles()
        self.collision_radius = float(collision_radius if collision_radius is not None else 0.03 * self.scale)
        self.terms = list(terms)
        self.composer = RewardComposer(terms)
        self._half_h0 = float(self.intrinsics.frame()[1])
        obs_dim = 2 + 1 + 1 + 3 + 3 + 3 + 3 * len(LOOKAHEAD) + 1 + 3 + 1 + (1 if use_lens else 0)
        obs_space = gym.spaces.Box(-OBS_CLIP, OBS_CLIP, (obs_dim,), np.float32)
        act_space = gym.spaces.Box(-1.0, 1.0, (self.twin.action_dim,), np.float32)
        super().__init__(n_envs, obs_space, act_space, episode_steps=spec.n_frames - 1, seed=seed)
        self.control_names = ["location", "rotation"] + (["lens"] if use_lens else [])
        self.frame_index = np.zeros(n_envs, dtype=np.int64)
        n = n_envs
        self._uv = np.zeros((n, 2))
        self._depth = np.ones(n)
        self._size = np.zeros(n)
        self._occlusion = np.zeros(n)
        self._collision = np.zeros(n, dtype=bool)
        self._region_excess = np.zeros(n)
        self._terms: dict[str, np.ndarray] = {}

    # ---- measurements -----------------------------------------------------------------------
    def _measure(self, idx: np.ndarray | None = None) -> None:
        """Project the subject and test occlusion / collision / region for envs ``idx`` (all when None)."""
        sl = slice(None) if idx is None else idx
        tw = self.twin
        pos, f = tw.pos[sl], self.frame_index[sl]
        self._uv[sl], self._depth[sl], self._size[sl] = self.project_subject(
            pos, camera_rotation(tw.angles[sl]), tw.lens[sl], f)
        self._occlusion[sl], collision, self._region_excess[sl] = self.measure_positions(pos, f)
        self._collision[sl] = collision

    def project_subject(self, pos: np.ndarray, rot: np.ndarray, lens: np.ndarray,
                        frames: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The subject's image position ``(m, 2)``, depth ``(m,)`` and size in frame ``(m,)`` for cameras at
        ``pos`` ``(m, 3)``, ``rot`` ``(m, 3, 3)``, ``lens`` ``(m,)`` at shot frames ``frames`` ``(m,)``."""
        subject = self.spec.subject_positions[frames]
        uv, depth = self.intrinsics.project(pos, rot, subject, lens)
        half_h = self._half_h0 * self.spec.lens / lens
        with np.errstate(divide="ignore", invalid="ignore"):
            size = np.where(depth > 0, self.spec.subject_radius / (np.maximum(depth, 1e-9) * half_h), 0.0)
        return uv, depth, size

    def measure_positions(self, pos: np.ndarray, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """What depends on the camera's position only, for cameras at ``pos`` ``(m, 3)`` at shot frames
        ``frames`` ``(m,)``: occlusion (fraction of subject points hidden), collision (bool) and the
        distance outside the region (shot scales), each ``(m,)``."""
        m = len(pos)
        occlusion = np.zeros(m)
        collision = np.zeros(m, dtype=bool)
        moving = self.moving.n_triangles > 0
        if self.use_occlusion and (self.obstacles.n_triangles or moving):
            pts = self.spec.subject_points[frames]  # (m, P, 3)
            p = pts.shape[1]
            p0, p1 = np.repeat(pos, p, axis=0), pts.reshape(-1, 3)
            blocked = self.obstacles.segments_blocked(p0, p1)
            if moving:
                blocked |= self.moving.segments_blocked(p0, p1, np.repeat(frames, p))
            occlusion = blocked.reshape(m, p).mean(axis=1)
        if self.obstacles.n_triangles or moving:
            r = self.collision_radius
            collision = (self.obstacles.distance(pos, r) < r) | self.obstacles.inside(pos)
            if moving:
                collision |= (self.moving.distance(pos, r, frames) < r) | self.moving.inside(pos, frames)
        below = np.maximum(self.spec.region_min - pos, 0.0)
        above = np.maximum(pos - self.spec.region_max, 0.0)
        return occlusion, collision, np.linalg.norm(below + above, axis=1) / self.scale

    def _state(self) -> CameraState:
        tw, lim = self.twin, self.limits
        dist = np.linalg.norm(self.spec.subject_positions[self.frame_index] - tw.pos, axis=1) / self.scale
        rot_scale = np.array([lim.max_turn_rate, lim.max_turn_accel, lim.max_turn_accel * self.spec.fps])
        return CameraState(
            n_envs=self.num_envs, dt=tw.dt,
            subject_uv=self._uv, subject_depth=self._depth, subject_size=self._size, subject_distance=dist,
            occlusion=self._occlusion, collision=self._collision, region_excess=self._region_excess,
            cam_vel=tw.vel / lim.max_speed, cam_acc=tw.acc / lim.max_accel,
            cam_jerk=tw.jerk / (lim.max_accel * self.spec.fps),
            rot_vel=tw.ang_vel / rot_scale[0], rot_acc=tw.ang_acc / rot_scale[1], rot_jerk=tw.ang_jerk / rot_scale[2],
        )

    # ---- BatchedTask hooks ------------------------------------------------------------------
    def _reset_envs(self, idx: np.ndarray) -> None:
        m = len(idx)
        pos = np.broadcast_to(self.spec.camera_position, (m, 3)).copy()
        ang = np.broadcast_to(self.spec.camera_angles, (m, 3)).copy()
        if self.start_noise > 0:
            pos += self.rng.normal(0.0, self.start_noise * self.scale, (m, 3))
            ang[:, :2] += self.rng.normal(0.0, 0.1 * self.start_noise, (m, 2))
        self.twin.reset(idx, pos, ang, np.full(m, self.spec.lens))
        self.frame_index[idx] = 0
        self._measure(idx)

    def _step(self, action: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        self.twin.step(action)
        self.frame_index = np.minimum(self.frame_index + 1, self.spec.n_frames - 1)
        self._measure()
        reward, terms = self.composer(self._state())
        self._terms = terms
        err = framing_distance(self._uv, self._depth, self.framing)
        success = (err < self.tolerance) & (self._occlusion == 0.0)
        violation = self._collision | (self._region_excess > 0)
        terminated = np.zeros(self.num_envs, dtype=bool)
        return reward, terminated, {"success": success, "error": err, "limit_violation": violation}

    def _observe(self) -> np.ndarray:
        tw, lim, spec = self.twin, self.limits, self.spec
        rot = camera_rotation(tw.angles)
        rot_t = np.swapaxes(rot, 1, 2)
        f = self.frame_index
        front = self._depth > 0
        uv = np.where(front[:, None], (self._uv - 0.5) * 2.0, 0.0)
        parts = [uv, front[:, None].astype(np.float64), self._size[:, None],
                 np.einsum("nij,nj->ni", rot_t, tw.vel) / lim.max_speed,
                 tw.ang_vel / lim.max_turn_rate]
        last = spec.n_frames - 1
        for ahead in (0,) + LOOKAHEAD:
            rel = spec.subject_positions[np.minimum(f + ahead, last)] - tw.pos
            parts.append(np.einsum("nij,nj->ni", rot_t, rel) / self.scale)
        parts.append(self._occlusion[:, None])
        centre = 0.5 * (spec.region_min + spec.region_max)
        half = np.maximum(0.5 * (spec.region_max - spec.region_min), 1e-9)
        parts.append((tw.pos - centre) / half)
        parts.append((f / max(last, 1))[:, None])
        if tw.use_lens:
            parts.append(((tw.lens - spec.lens) / spec.lens)[:, None])
        obs = np.concatenate(parts, axis=1)
        return np.clip(obs, -OBS_CLIP, OBS_CLIP).astype(np.float32)

    def control_angles(self) -> np.ndarray:
        """``(n, 1, 3)``: the cameras' yaw, pitch, roll (the task has no bones)."""
        return self.twin.angles[:, None, :].copy()

    def preview_frame(self) -> np.ndarray:
        """``(n, 2, 3)``: each camera's location and its yaw, pitch, roll (what the preview moves)."""
        return np.stack([self.twin.pos, self.twin.angles], axis=1)

    def last_terms(self) -> dict[str, np.ndarray]:
        return dict(self._terms)

    def term_means(self) -> dict[str, float]:
        return self.composer.means()

    def signature(self) -> dict:
        sig = super().signature()
        sig.update({"task": "camera", "mode": self.twin.mode, "use_lens": self.twin.use_lens,
                    "allow_roll": self.twin.allow_roll})
        return sig


# --- rollouts, baselines, metrics -----------------------------------------------------------


@dataclass
class CameraRollout:
    """One camera move over the shot, one row per frame (``F = spec.n_frames``).

    Attributes:
        frames: ``(F,)`` frame numbers.
        positions: ``(F, 3)`` camera positions; angles: ``(F, 3)`` yaw, pitch, roll;
        rotations: ``(F, 3, 3)``; lens: ``(F,)`` mm.
        subject_uv: ``(F, 2)`` the subject's projected position (what the bake is verified against).
        occlusion: ``(F,)`` fraction of subject points hidden.
        collision: ``(F,)`` bool.
    """

    frames: np.ndarray
    positions: np.ndarray
    angles: np.ndarray
    rotations: np.ndarray
    lens: np.ndarray
    subject_uv: np.ndarray
    subject_depth: np.ndarray
    occlusion: np.ndarray
    collision: np.ndarray


Policy = Callable[[np.ndarray], np.ndarray]


def rollout(task: CameraTask, policy: Policy | None = None) -> CameraRollout:
    """Run ``policy`` (obs ``(1, D)`` -> action ``(1, A)``; None: zero actions) over the shot on env 0.

    ``task`` should have ``n_envs=1`` and ``start_noise=0`` to reproduce the scene's start pose.
    """
    if task.num_envs != 1:
        raise RigDojoError("rollouts run on a camera task with n_envs=1")
    task._reset_envs(np.arange(1))
    rows = [_snapshot(task)]
    obs = task._observe()
    zero = np.zeros((1, task.twin.action_dim), dtype=np.float32)
    for _ in range(task.spec.n_frames - 1):
        action = zero if policy is None else np.asarray(policy(obs), dtype=np.float32).reshape(1, -1)
        task._step(action)
        rows.append(_snapshot(task))
        obs = task._observe()
    return _stack(task.spec, rows)


def _snapshot(task: CameraTask) -> tuple:
    tw = task.twin
    return (tw.pos[0].copy(), tw.angles[0].copy(), float(tw.lens[0]), task._uv[0].copy(), float(task._depth[0]),
            float(task._occlusion[0]), bool(task._collision[0]))


def _stack(spec: CameraSpec, rows: list[tuple]) -> CameraRollout:
    pos, ang, lens, uv, depth, occ, col = (np.array(c) for c in zip(*rows))
    return CameraRollout(spec.frames, pos, ang, camera_rotation(ang), lens, uv, depth, occ, col)


def scripted_rollout(task: CameraTask, kind: str) -> CameraRollout:
    """A baseline camera over the shot: ``"fixed"`` (the scene's start pose, never moves) or
    ``"track_to"`` (fixed position, aimed at the subject every frame with no smoothing, like
    Blender's Track To constraint). Measured with the same projection and occlusion as the policy.
    """
    if kind not in ("fixed", "track_to"):
        raise RigDojoError(f"unknown scripted camera {kind!r}; use 'fixed' or 'track_to'")
    spec = task.spec
    n = spec.n_frames
    pos = np.broadcast_to(spec.camera_position, (n, 3)).copy()
    ang = np.broadcast_to(spec.camera_angles, (n, 3)).copy()
    if kind == "track_to":
        ang[:, :2] = look_at_angles(pos, spec.subject_positions)
        ang[:, 0] = np.unwrap(ang[:, 0])
        ang[:, 2] = 0.0
    return evaluate_poses(task, pos, ang)


def evaluate_poses(task: CameraTask, positions: np.ndarray, angles: np.ndarray,
                   lens: np.ndarray | None = None) -> CameraRollout:
    """Measure given camera poses (one per frame) with the task's projection, occlusion and collision
    (:meth:`CameraTask.project_subject` and :meth:`CameraTask.measure_positions`, as training does)."""
    spec = task.spec
    n = spec.n_frames
    pos = np.asarray(positions, np.float64).reshape(n, 3)
    ang = np.asarray(angles, np.float64).reshape(n, 3)
    lens = np.full(n, spec.lens) if lens is None else np.asarray(lens, np.float64).reshape(n)
    frames = np.arange(n)
    rot = camera_rotation(ang)
    uv, depth, _ = task.project_subject(pos, rot, lens, frames)
    occlusion, collision, _ = task.measure_positions(pos, frames)
    return CameraRollout(spec.frames, pos.copy(), ang.copy(), rot, lens.copy(), uv, depth, occlusion, collision)


#: a camera move is a success when the subject is framed (within the task's tolerance) and fully visible
#: on at least this fraction of the shot's frames, and the camera never collides
SUCCESS_FRACTION = 0.9


def jerk_parts(positions: np.ndarray, angles: np.ndarray, subject_positions: np.ndarray,
               fps: float) -> tuple[np.ndarray, np.ndarray]:
    """RMS position and rotation jerk (rad/s³) of camera paths ``(..., F, 3)`` (positions, yaw/pitch/roll).

    Rotation: third differences of the unwrapped angles at ``fps``. Position: third differences of
    the position divided by the distance to the subject (how fast the picture's acceleration changes).
    Zero for paths of fewer than four frames.
    """
    positions, angles = np.asarray(positions, np.float64), np.asarray(angles, np.float64)
    if positions.shape[-2] < 4:
        zero = np.zeros(positions.shape[:-2])
        return zero, zero.copy()
    dist = np.linalg.norm(subject_positions - positions, axis=-1)[..., 3:, None]
    ang = np.unwrap(angles, axis=-2)
    rot = np.diff(ang, n=3, axis=-2) * fps**3
    pos = np.diff(positions, n=3, axis=-2) * fps**3 / np.maximum(dist, 1e-9)
    return np.sqrt(np.mean(np.sum(pos**2, axis=-1), axis=-1)), np.sqrt(np.mean(np.sum(rot**2, axis=-1), axis=-1))


def shot_metrics(task: CameraTask, move: CameraRollout) -> dict[str, float]:
    """How good a camera move is: the one set of numbers the summary, the command line, the sidebar and
    the bench all show (lower is better for the first six).

    - ``framing``: mean distance (normalised image units) of the subject from the task's framing point;
    - ``occlusion``: mean fraction of subject points hidden;
    - ``jerk``: RMS over frames of the image-space jerk in rad/s³, ``sqrt(jerk_position² + jerk_rotation²)``:
      ``jerk_rotation`` from the camera's yaw/pitch/roll, ``jerk_position`` from its position divided by
      the subject's distance (how fast the picture's acceleration changes), third differences at the fps;
    - ``collisions``: frames where the camera is inside or too close to an obstacle;
    - ``on_target``: fraction of frames where the subject is within ``task.tolerance`` of the framing
      point and fully visible; ``success``: ``on_target >= SUCCESS_FRACTION`` and no collision.
    """
    spec = task.spec
    err = framing_distance(move.subject_uv, move.subject_depth, task.framing)
    jp, jr = jerk_parts(move.positions, move.angles, spec.subject_positions, spec.fps)
    on_target = float(np.mean((err < task.tolerance) & (move.occlusion == 0.0)))
    collisions = int(move.collision.sum())
    return {"framing": float(err.mean()), "occlusion": float(move.occlusion.mean()),
            "jerk": float(np.hypot(jp, jr)), "jerk_position": float(jp), "jerk_rotation": float(jr),
            "collisions": collisions, "on_target": on_target,
            "success": bool(on_target >= SUCCESS_FRACTION and collisions == 0)}


# --- policy search --------------------------------------------------------------------------


LinearCameraPolicy = LinearPolicy  # the camera's policy from cem (agents.cem)


def train_policy_search(spec: CameraSpec, generations: int = 40, population: int = 64, elite: float = 0.125,
                        sigma: float = 0.3, seed: int = 0, callback: Callable[[int, float], bool] | None = None,
                        **task_kwargs) -> tuple[LinearPolicy, list[float]]:
    """Cross-entropy search (``agents.cem.CrossEntropySearch``, the search ``algo.name = "cem"`` runs) for a
    linear camera policy on one shot, in the caller's thread.

    Every generation evaluates ``population`` candidate policies at once, one per env of a
    ``CameraTask(spec, n_envs=population, **task_kwargs)``. ``callback(generation, best_return)``
    returning False stops early. Returns the mean of the final distribution and the best return per
    generation.
    """
    task = CameraTask(spec, n_envs=population, seed=seed, **task_kwargs)
    search = CrossEntropySearch(task, sigma=sigma, elite=elite, seed=seed)
    history: list[float] = []
    for gen in range(generations):
        returns, best, _ = search.generation(task, gen / max(generations, 1))
        history.append(float(returns[best[0]]))
        if callback is not None and callback(gen, history[-1]) is False:
            break
    return search.policy(), history
