"""Physics tasks on a MuJoCo twin of the rig: stand, locomotion, jump, obstacle course (no bpy).

Every task is a :class:`~.vec_task.BatchedTask` over a :class:`~.physics_twin.PhysicsTwin`.

Actions: one number in [-1, 1] per hinge, the servo's target angle: 0 is the rig's
rest angle (clipped into the limits), +1 ``action_scale`` of the way to the upper limit,
-1 as far towards the lower one (locomotion and the obstacle course default to 0.5: a
walk needs half the legs' range, and exploration noise over the whole range topples a
quadruped in a second or two; stand and jump use the whole range).

Observations, in creature sizes (the rig's rest height or length is 1, DESIGN.md
rule 5) and in the root's own frame so they do not depend on where the creature
is: root height above the ground, world up and the wanted direction in the root's
frame, the centre of mass velocity and the root's angular velocity in the root's
frame, the hinge angles (scaled to [-1, 1] over their limits), hinge velocities,
the previous action, then the task's own (the obstacle's distance and height).

An episode ends early when the creature falls: its root below ``fall_height`` of
its rest height, or tilted more than ``max_tilt_degrees`` from its rest "up"
(world Z carried by the root), or the simulation diverges.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import gymnasium as gym
import numpy as np

from ...errors import RigDojoError
from ...rewards import RewardComposer, TermConfig
from ...rewards.physics_terms import PhysicsRewardState
from . import DEFAULT_TERMS as PHYSICS_DEFAULT_TERMS
from .mjcf import PhysicsSpec, lowest_point
from .settings import PhysicsConfig
from .twin import PhysicsTwin
from ..base import BatchedTask

PHYSICS_TASK_KINDS = tuple(PHYSICS_DEFAULT_TERMS)

# Each kind's default reward terms live in the family's registry entry (envs/physics/__init__.py).
DEFAULT_TERMS = PHYSICS_DEFAULT_TERMS


class PhysicsTask(BatchedTask):
    """The shared physics task; :class:`StandTask`, :class:`LocomotionTask`, :class:`JumpTask` and
    :class:`ObstacleCourseTask` choose the kind (success, extras, defaults).

    Args:
        spec: the creature (from ``scene.physics.extract.extract_physics`` or a saved file).
        config: the ``[physics]`` settings (:class:`~.settings.PhysicsConfig`); keyword ``overrides``
            replace single fields.
        n_envs: environments stepped together.
        seed: seed of the reset noise (same seed and actions: same states).
        terms: reward terms; default: the kind's (``DEFAULT_TERMS``).
        curriculum_threshold: success rate that moves the obstacle course to its next stage.
        model_options: passed to :class:`~.twin.PhysicsTwin` (``damping_ratio``, ``self_collision``).
    """

    shoves = False  # pushes while training (_shove); tracking and the library's pretraining turn it on
    discount = 1.0  # the trainer's gamma, for the pins' shaping (rewards/pin_terms.py); make_task sets it

    kind = "stand"
    default_action_scale = 1.0
    # soles one capsule wide, round across the foot: the stand, locomotion, jump and library figures were
    # measured on them (physics.sole_width 0 takes this; tracking's is 4)
    default_sole_width = 2.0

    def __init__(self, spec: PhysicsSpec, config: PhysicsConfig | None = None, n_envs: int = 16,
                 seed: int | None = None, *, terms: list[TermConfig] | None = None,
                 curriculum_threshold: float = 0.6, model_options: dict | None = None, **overrides):
        try:
            config = replace(config or PhysicsConfig(), **overrides)
        except TypeError as exc:
            raise RigDojoError(f"not a physics setting: {exc}") from None
        config.validate()
        self.config = config
        self.curriculum_threshold = float(curriculum_threshold)
        self.action_scale = float(config.action_scale if config.action_scale > 0 else self.default_action_scale)
        self.sole_width = float(config.sole_width if config.sole_width > 0 else self.default_sole_width)
        self.spec = spec = self._prepare_spec(spec)
        self.twin = twin = PhysicsTwin(spec, n_envs=n_envs, substeps=config.substeps,
                                       **{"soles": config.soles, "sole_width": self.sole_width,
                                          **(model_options or {})})
        lay = twin.layout
        self.n_joints = len(lay.joint_bone)
        if self.n_joints == 0:
            raise RigDojoError(f"{spec.rig_name!r} has no unlocked joints under its root; unlock rotation axes to control")
        self.unit = lay.size
        self.q_low, self.q_high = lay.q_low, lay.q_high
        self.q_centre = np.clip(0.0, self.q_low, self.q_high)
        self.strength_unit = 9.81 * lay.size * lay.total_mass
        self.fps = spec.fps
        self.ground = spec.ground_height
        rest_world = spec.world_rest()[0]
        self._up_local = rest_world[:3, :3].T @ np.array([0.0, 0.0, 1.0])
        d = np.asarray(config.direction, dtype=np.float64).copy()
        d[2] = 0.0
        self.direction = d / np.linalg.norm(d)
        self._forward_local = rest_world[:3, :3].T @ self.direction
        # radius of each bone end point (heads then tails), for ground contact
        self._point_radius = np.concatenate([spec.radius, spec.radius]) * spec.scale
        self.composer = RewardComposer(terms or DEFAULT_TERMS[self.kind])
        self._needed = self.composer.required_fields()
        self.episode_steps = max(1, round(config.episode_seconds * spec.fps))
        self.pins = self._pins(spec, n_envs)
        obs_dim = 13 + 3 * self.n_joints + self._extra_obs_dim() + (self.pins.obs_dim() if self.pins else 0)
        observation_space = gym.spaces.Box(-np.inf, np.inf, shape=(obs_dim,), dtype=np.float32)
        action_space = gym.spaces.Box(-1.0, 1.0, shape=(self.n_joints,), dtype=np.float32)
        super().__init__(n_envs, observation_space, action_space, self.episode_steps, seed)
        self.control_names = list(spec.bone_names[1:])
        self._rest_state()
        n, j = n_envs, self.n_joints
        self.action = np.zeros((n, j))
        self.q_hist = [np.tile(self.q_centre, (n, 1)) for _ in range(3)]
        self.t = np.zeros(n, dtype=np.int64)
        self.peak = np.zeros(n)  # the centre of mass's highest point (sizes) since the last takeoff (or the start)
        self.airborne = np.zeros(n, dtype=bool)
        self._points_prev = np.zeros((n, 2 * spec.n_bones, 3))
        self._last_terms: dict[str, np.ndarray] = {}

    # ---- setup ------------------------------------------------------------------------
    def _prepare_spec(self, spec: PhysicsSpec) -> PhysicsSpec:
        return spec

    def _pins(self, spec: PhysicsSpec, n_envs: int):
        """The spec's pins on this task (``envs.physics.pins``), or None; RigDojoError for pins it cannot take."""
        if not spec.n_pins:
            return None
        from .pins import PhysicsPins

        p, b = spec.n_pins, spec.n_bones
        shapes = {"pin_euler": (p, b, 3), "pin_mask": (p, b), "pin_point_bone": (p,), "pin_point": (p, 3),
                  "pin_hard": (p,), "pin_weight": (p,)}
        if any(np.shape(getattr(spec, k)) != shape for k, shape in shapes.items()) or len(spec.pin_labels) != p:
            raise RigDojoError(f"the pins of {spec.rig_name!r} do not fit its {b} bones; read them again")
        if not all(np.isfinite(np.asarray(getattr(spec, k), dtype=np.float64)).all()
                   for k in ("pin_frames", "pin_euler", "pin_point", "pin_weight")):
            raise RigDojoError("the pins have values that are not numbers (NaN or infinite keys); fix their keys")
        steps = np.round(np.asarray(spec.pin_frames) - spec.frame_start)
        late = [int(f) for f, s in zip(spec.pin_frames, steps) if not 0 <= s <= self.episode_steps]
        if late:
            raise RigDojoError(f"pins at frame {', '.join(map(str, late))} are outside the episode, frames "
                               f"{spec.frame_start}-{spec.frame_start + self.episode_steps} "
                               f"({self.config.episode_seconds:g} s); lengthen physics.episode_seconds or move the pins")
        if np.any((spec.pin_point_bone < -1) | (spec.pin_point_bone >= b)):
            raise RigDojoError(f"a pin names a bone {spec.rig_name!r} does not simulate; read the pins again")
        return PhysicsPins(self, spec, n_envs)

    def _rest_state(self) -> None:
        """The rest pose standing on the ground: ``rest_qpos``, and the heights it has there."""
        spec, twin = self.spec, self.twin
        lowest = lowest_point(spec, *spec.rest_points())
        self.rest_qpos = twin.model.qpos0.copy()
        self.rest_qpos[2] += self.ground - lowest + 0.002 * self.unit
        self.rest_qpos[twin.q_adr] = self.q_centre
        twin.reset(np.arange(twin.n_envs), np.tile(self.rest_qpos, (twin.n_envs, 1)))
        self.rest_root_height = float(twin.xpos[0, 0, 2] - self.ground)
        self.rest_com_height = float(twin.com[0, 2] - self.ground) / self.unit

    def _extra_obs_dim(self) -> int:
        return 0

    def _extra_obs(self) -> np.ndarray:
        return np.zeros((self.num_envs, 0))

    # ---- BatchedTask hooks --------------------------------------------------------------
    def _reset_envs(self, idx: np.ndarray) -> None:
        idx = np.asarray(idx)
        k = len(idx)
        qpos = np.tile(self.rest_qpos, (k, 1))
        noise = self.rng.uniform(-1.0, 1.0, (k, self.n_joints)) * self.config.reset_noise
        q = np.clip(self.q_centre + noise, self.q_low, self.q_high)
        qpos[:, self.twin.q_adr] = q
        qvel = np.zeros((k, self.twin.model.nv))
        if self.config.push > 0:
            qvel[:, 3:6] = self.rng.normal(0.0, self.config.push, (k, 3))
        self._start_episodes(idx, qpos, qvel)

    def _start_episodes(self, idx: np.ndarray, qpos: np.ndarray, qvel: np.ndarray) -> None:
        """Put the environments ``idx`` in the state ``qpos``, ``qvel`` and clear their episode's history."""
        self.twin.reset(idx, qpos, qvel)
        self.action[idx] = 0.0
        q = self.twin.q[idx]
        for h in self.q_hist:
            h[idx] = q
        self.t[idx] = 0
        self.peak[idx] = self.rest_com_height
        self.airborne[idx] = False
        heads, tails = self.twin.bone_points()
        self._points_prev[idx] = np.concatenate([heads, tails], axis=1)[idx]
        if self.pins is not None:
            self.pins.reset(idx)

    def targets(self, action: np.ndarray) -> np.ndarray:
        """Servo target angles ``(n, J)`` for actions in [-1, 1] (0 = rest, ±1 = ``action_scale`` of the
        way to the limits; with pins guiding, 0 = the pinned hinges' in-betweens, ``envs.physics.pins``)."""
        a = np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0) * self.action_scale
        move = np.where(a > 0, a * (self.q_high - self.q_centre), a * (self.q_centre - self.q_low))
        guide = self.pins.base(self.t + 1) if self.pins is not None else None
        if guide is None:
            return self.q_centre + move
        return np.clip(guide + move, self.q_low, self.q_high)  # the pins' in-betweens, moved by the action

    def _shove(self) -> None:
        """While ``shoves`` is on (tracking and the library's pretraining set it): about every two seconds, an
        environment's root is pushed in a random horizontal direction at 0.5-1 x ``physics.shove`` sizes/s."""
        if not (self.shoves and self.config.shove > 0):
            return
        hit = np.flatnonzero(self.rng.random(self.num_envs) < 0.5 / self.fps)
        if len(hit):
            angle = self.rng.uniform(0.0, 2 * np.pi, len(hit))
            speed = self.rng.uniform(0.5, 1.0, len(hit)) * self.config.shove * self.unit
            for i, a, v in zip(hit, angle, speed):
                self.twin.datas[i].qvel[:2] += v * np.array([np.cos(a), np.sin(a)])

    def _step(self, action: np.ndarray):
        self._shove()
        twin, n = self.twin, self.num_envs
        a = np.clip(np.asarray(action, dtype=np.float64).reshape(n, self.n_joints), -1.0, 1.0)
        q_before = twin.q.copy()
        twin.step(self.targets(a))
        diverged = twin.diverged()
        if diverged.any():  # restart those from rest; the episode ends as a fall
            bad = np.flatnonzero(diverged)
            twin.reset(bad, np.tile(self.rest_qpos, (len(bad), 1)))
        self.t += 1
        self.q_hist = [q_before, self.q_hist[0], self.q_hist[1]]
        self.action = a
        state = self._physics_state()
        fallen = (state.up[:, 2] < np.cos(np.radians(self.config.max_tilt_degrees))) \
            | ((twin.xpos[:, 0, 2] - self.ground) < self.config.fall_height * self.rest_root_height) | diverged
        success, error = self._success(state, fallen)
        if self.pins is not None:
            self.pins.fill(state)
            if self.pins.decides_success:
                success = success & self.pins.success(self.t)
        reward, self._last_terms = self.composer(state)
        q = twin.q
        violation = (np.maximum(q - self.q_high, 0.0) + np.maximum(self.q_low - q, 0.0)).sum(axis=1)
        return reward, fallen, {"success": success, "error": error, "limit_violation": violation}

    def _physics_state(self) -> PhysicsRewardState:
        twin, n, unit = self.twin, self.num_envs, self.unit
        rot = twin.xmat[:, 0].reshape(n, 3, 3)
        up = rot @ self._up_local
        forward = rot @ self._forward_local
        forward[:, 2] = 0.0
        heads, tails = twin.bone_points()
        points = np.concatenate([heads, tails], axis=1)
        clearance = points[:, :, 2] - self._point_radius - self.ground
        touching = clearance < 0.01 * unit
        speed = np.linalg.norm((points - self._points_prev)[:, :, :2], axis=2) * self.fps / unit
        self._points_prev = points
        count = touching.sum(axis=1)
        support = np.where(count[:, None] > 0,
                           (points * touching[:, :, None]).sum(axis=1) / np.maximum(count, 1)[:, None], twin.com)
        com_height = (twin.com[:, 2] - self.ground) / unit
        in_air = count == 0
        # the peak of this flight: a landing is judged by the jump that led to it, not by an earlier, higher one
        takeoff = in_air & ~self.airborne
        self.peak = np.where(takeoff, com_height, np.maximum(self.peak, com_height))
        landed = self.airborne & ~in_air
        self.airborne = in_air
        state = PhysicsRewardState(n_envs=n, dt=1.0 / self.fps, discount=self.discount)
        state.q, state.q_prev, state.q_prev2, state.q_prev3 = twin.q, *self.q_hist
        state.q_low, state.q_high, state.q_rest = self.q_low, self.q_high, self.q_centre
        state.action = self.action
        state.step = self.t
        state.tracked_pos = points / unit
        state.up, state.forward, state.direction = up, forward, np.broadcast_to(self.direction, (n, 3))
        state.com, state.com_vel = twin.com / unit, twin.com_vel / unit
        state.com_height, state.rest_com_height = com_height, self.rest_com_height
        state.support = support / unit
        state.touching = count
        state.foot_slip = (speed * touching).sum(axis=1)
        state.torque = twin.torque / self.strength_unit
        state.peak_height = self.peak.copy()
        state.landed = landed
        state.target_speed = self.config.target_speed
        self._obstacle_state(state, points)
        self._state = state
        return state

    def _obstacle_state(self, state: PhysicsRewardState, points: np.ndarray) -> None:
        pass

    def _success(self, state: PhysicsRewardState, fallen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        tilt = np.arccos(np.clip(state.up[:, 2], -1.0, 1.0))
        return ~fallen, tilt

    def _observe(self) -> np.ndarray:
        twin, n = self.twin, self.num_envs
        rot = twin.xmat[:, 0].reshape(n, 3, 3)
        rt = np.transpose(rot, (0, 2, 1))
        height = ((twin.xpos[:, 0, 2] - self.ground) / self.unit)[:, None]
        up_local = rt[:, :, 2]
        dir_local = rt @ self.direction
        vel_local = np.einsum("nij,nj->ni", rt, twin.com_vel) / self.unit
        ang = twin.qvel[:, 3:6] * 0.2  # the free joint's angular velocity is in the root's frame
        half = np.maximum((self.q_high - self.q_low) / 2, 1e-6)
        q = (twin.q - (self.q_high + self.q_low) / 2) / half
        qdot = twin.qdot * 0.1
        parts = [height, up_local, dir_local, vel_local, ang, q, qdot, self.action, self._extra_obs()]
        if self.pins is not None:
            parts.append(self.pins.observe())
        obs = np.concatenate(parts, axis=1)
        return np.nan_to_num(obs, nan=0.0, posinf=10.0, neginf=-10.0).astype(np.float32)

    def control_angles(self) -> np.ndarray:
        return self.twin.bone_euler()[:, 1:]

    def root_world(self) -> np.ndarray:
        """``(n, 4, 4)`` the root bone's world frame, for previews and the bake (with :meth:`control_angles`)."""
        return self.twin.root_world()

    def signature(self) -> dict:
        sig = super().signature()
        sig.update({"task": self.kind, "rig": self.spec.rig_name, "joints": self.n_joints, "physics": True})
        if self.pins is not None:
            sig["pins"] = self.pins.n_pins
        return sig


class StandTask(PhysicsTask):
    """Stay up: success while not fallen; error is the tilt (radians)."""

    kind = "stand"


class LocomotionTask(PhysicsTask):
    """Move along ``direction`` at ``target_speed`` sizes per second; success while at or above it."""

    kind = "locomotion"
    default_action_scale = 0.5

    def _success(self, state, fallen):
        speed = np.einsum("ij,ij->i", state.com_vel, state.direction)
        return (speed >= self.config.target_speed) & ~fallen, np.maximum(self.config.target_speed - speed, 0.0)


class JumpTask(PhysicsTask):
    """Raise the centre of mass by ``jump_height`` sizes and land upright; success from that landing on, while
    the creature stays up (an episode is judged at its end, so a jump must be landed and stood on, not only
    touched down from). Error: how far the episode's highest flight fell short of the jump height."""

    kind = "jump"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.jumped = np.zeros(self.num_envs, dtype=bool)  # landed a high enough jump this episode
        self.best_rise = np.zeros(self.num_envs)  # the highest flight's rise this episode (sizes)

    def _start_episodes(self, idx, qpos, qvel) -> None:
        super()._start_episodes(idx, qpos, qvel)
        self.jumped[idx] = False
        self.best_rise[idx] = 0.0

    def _success(self, state, fallen):
        rise = state.peak_height - state.rest_com_height
        self.best_rise = np.where(state.landed, np.maximum(self.best_rise, rise), self.best_rise)
        self.jumped |= state.landed & (rise >= self.config.jump_height) & ~fallen
        return self.jumped & ~fallen, np.maximum(self.config.jump_height - self.best_rise, 0.0)


class ObstacleCourseTask(LocomotionTask):
    """Locomotion over a box across the way, ``obstacle_distance`` ahead; it grows with the curriculum.

    Success: the whole body is past the box (and not fallen). The box's height is the
    curriculum stage's ``obstacle_heights`` entry (one model for every environment).
    """

    kind = "obstacles"

    def _prepare_spec(self, spec: PhysicsSpec) -> PhysicsSpec:
        cfg = self.config
        heads, tails = spec.rest_points()
        size = spec.size()
        pts = np.concatenate([heads, tails])
        d = np.asarray(cfg.direction, dtype=np.float64)
        d = np.array([d[0], d[1], 0.0]) / np.hypot(d[0], d[1])
        front = float((pts @ d).max())
        centre_xy = pts.mean(axis=0)
        centre_xy = centre_xy - d * (centre_xy @ d) + d * (front + cfg.obstacle_distance * size)
        self._box_depth = 0.1 * size
        self._box_centre = np.array([centre_xy[0], centre_xy[1], spec.ground_height])
        side = np.cross([0.0, 0.0, 1.0], d)
        rot = np.stack([d, side, [0.0, 0.0, 1.0]], axis=1)
        h = cfg.obstacle_heights[0] * size
        return replace(spec, box_names=spec.box_names + ["course"],
                       box_centers=np.vstack([spec.box_centers, self._box_centre + [0, 0, h / 2]]),
                       box_half=np.vstack([spec.box_half, [self._box_depth / 2, 2.0 * size, h / 2]]),
                       box_rot=np.concatenate([spec.box_rot, rot[None]]))

    def __init__(self, spec: PhysicsSpec, config: PhysicsConfig | None = None, n_envs: int = 16,
                 seed: int | None = None, **kwargs):
        super().__init__(spec, config, n_envs, seed, **kwargs)
        self._box_geom = self.twin.model.geom("box:course").id
        self._dir2 = self.direction[:2]
        self.set_curriculum_stage(0)

    @property
    def obstacle_height(self) -> float:
        return self.config.obstacle_heights[self.curriculum_stage] * self.unit

    def set_curriculum_stage(self, stage: int) -> None:
        self.curriculum_stage = int(np.clip(stage, 0, len(self.config.obstacle_heights) - 1))
        m, g, h = self.twin.model, self._box_geom, self.obstacle_height
        m.geom_size[g, 2] = h / 2
        m.geom_pos[g, 2] = self.ground + h / 2
        m.geom_rbound[g] = float(np.linalg.norm(m.geom_size[g]))

    def advance_curriculum(self, success_rate: float) -> bool:
        if success_rate >= self.curriculum_threshold and self.curriculum_stage < len(self.config.obstacle_heights) - 1:
            self.set_curriculum_stage(self.curriculum_stage + 1)
            return True
        return False

    def _along(self, xy: np.ndarray) -> np.ndarray:
        return (xy - self._box_centre[:2]) @ self._dir2

    def _obstacle_state(self, state, points):
        along = self._along(points[:, :, :2])
        over = np.abs(along) <= self._box_depth / 2
        height = points[:, :, 2] - self._point_radius - self.ground - self.obstacle_height
        low = np.where(over, height, np.inf).min(axis=1)
        state.lowest_over_obstacle = low / self.unit
        state.obstacle_top = np.full(self.num_envs, self.obstacle_height / self.unit)
        self._past = (along > self._box_depth / 2).all(axis=1)

    def _success(self, state, fallen):
        return self._past & ~fallen, np.maximum(-self._along(self.twin.com[:, :2]), 0.0) / self.unit

    def _extra_obs_dim(self) -> int:
        return 2

    def _extra_obs(self) -> np.ndarray:
        dist = -self._along(self.twin.com[:, :2]) / self.unit
        return np.stack([dist, np.full(self.num_envs, self.obstacle_height / self.unit)], axis=1)


def physics_task_class(kind: str) -> type[PhysicsTask]:
    """The class of the physics task ``kind``; a RigDojoError naming the tasks for an unknown one. Track's class
    lives in tracking.py and builds on PhysicsTask, so it is imported here, when asked for, rather than at the
    bottom of this module (that made importing tracking.py first a circular import)."""
    from .tracking import TrackTask

    classes: dict[str, type[PhysicsTask]] = {
        "stand": StandTask, "locomotion": LocomotionTask, "jump": JumpTask, "obstacles": ObstacleCourseTask,
        "track": TrackTask,
    }
    try:
        return classes[kind]
    except KeyError:
        raise RigDojoError(f"unknown physics task {kind!r}; choose one of {', '.join(classes)}") from None


def make_physics_task(spec: PhysicsSpec, kind: str = "stand", n_envs: int = 16, seed: int | None = None,
                      config: PhysicsConfig | None = None, **kwargs) -> PhysicsTask:
    """Build the physics task ``kind`` for ``spec`` (``kwargs``: ``terms``, ``curriculum_threshold``,
    ``model_options`` or single ``[physics]`` fields to override)."""
    return physics_task_class(kind)(spec, config, n_envs=n_envs, seed=seed, **kwargs)


@dataclass
class PhysicsClip:
    """One environment's rollout, ready to bake: per frame the root's world frame, every bone's
    local Euler XYZ rotation, and the bones' world heads and tails (the bake is checked against them)."""

    frames: np.ndarray  # (F,)
    root_world: np.ndarray  # (F,4,4)
    euler: np.ndarray  # (F,B,3)
    heads: np.ndarray  # (F,B,3)
    tails: np.ndarray  # (F,B,3)
    rewards: np.ndarray  # (F-1,)
    fell: bool


def record_clip(task: PhysicsTask, policy=None, n_steps: int | None = None, env: int = 0,
                seed: int | None = None) -> PhysicsClip:
    """Roll ``task`` out from a reset and record environment ``env`` (stops early when it falls).

    ``policy(obs (n, obs_dim)) -> actions (n, J)``; ``None`` holds the rest pose (zero actions).
    Frames start at the spec's ``frame_start``, one per control step.
    """
    if seed is not None:
        task.seed(seed)
    n_steps = task.episode_steps if n_steps is None else int(n_steps)
    obs = task.reset()
    rec = {k: [] for k in ("root", "euler", "heads", "tails")}
    rewards, fell = [], False

    def grab():
        heads, tails = task.twin.bone_points()
        rec["root"].append(task.root_world()[env])
        rec["euler"].append(task.twin.bone_euler()[env])
        rec["heads"].append(heads[env].copy())
        rec["tails"].append(tails[env].copy())

    grab()
    for _ in range(n_steps):
        action = np.zeros((task.num_envs, task.n_joints)) if policy is None else np.asarray(policy(obs))
        reward, terminated, _ = task._step(action)
        rewards.append(float(reward[env]))
        if terminated[env]:
            fell = True
            break
        grab()
        obs = task._observe()
    frames = task.spec.frame_start + np.arange(len(rec["root"]), dtype=np.float64)
    return PhysicsClip(frames, np.array(rec["root"]), np.array(rec["euler"]), np.array(rec["heads"]),
                       np.array(rec["tails"]), np.array(rewards), fell)
