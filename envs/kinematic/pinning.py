"""Pins and a style clip on a kinematic task: joint targets, point targets, the observation and the
reward state they add, and the measures of a rollout (no bpy).

:class:`TaskPins` turns a :class:`~rig_dojo.envs.reference.pins.PinSet` into arrays on the task's joints
(the controls' free Euler axes) and tracked points, computed once; per step it fills the ``pin_*`` fields
of the reward state and keeps, per environment, whether a hard pin was missed. :class:`TaskStyle` does the
same for the ``style_*`` fields. Both are batched: lookups by each environment's step, no loop over
environments.

The policy is time-aware through :meth:`TaskPins.observe`: the episode's phase, then for each of the next
two pins how many steps are left, the joint and point errors to it and the rate needed to close them.
"""

from __future__ import annotations

import numpy as np

from .. import kinematics as km
from .. import rotations
from ..reference.pins import POSE, PinSet, next_pins
from ..reference.style import StyleReference, energy_distance, step_features, window_features

LOOKAHEAD = 2  # pins the observation describes
RATE_CLIP = 5.0  # the needed rate (fraction of full speed per step) is clipped to this in the observation
FADE_STEPS = 4  # steps before a hard pose pin over which the policy's share of its joints' motion fades out


class TaskPins:
    """The pins of a :class:`~rig_dojo.envs.kinematic.task.KinematicTask` (see the module docstring)."""

    def __init__(self, task, pins: PinSet):
        spec, rig = task.spec, task.spec.rig
        self.task = task
        self.pins = pins
        self.n_pins = len(pins)
        horizon = int(spec.episode_steps)
        self.horizon = horizon
        self.steps = pins.steps
        self.is_pose = np.array([k == POSE for k in pins.kinds])
        self.weight = np.asarray(pins.weight, dtype=np.float64)
        self.hard = np.asarray(pins.hard, dtype=bool)
        # joint targets: the start pose with each pose pin's bones set to their keyed rotations
        control_of = [rig.controls.index(b) for b in pins.pose_bones]
        start = task._angles(task.q_rest[None])[0]  # (C, 3)
        keyed_euler = rotations.matrix_to_euler_near(rotations.quaternion_to_matrix(pins.rotations),
                                                     start[control_of])  # (P, B, 3), nearest the start pose
        angles = np.repeat(start[None], self.n_pins, axis=0)  # (P, C, 3)
        held = np.zeros((self.n_pins, len(rig.controls)), dtype=bool)
        for b, c in enumerate(control_of):
            held[:, c] = pins.mask[:, b] & self.is_pose
            angles[:, c] = np.where(held[:, c, None], keyed_euler[:, b], angles[:, c])
        self.held = held  # (P, C)
        self.pin_rot = km.euler_xyz_to_matrix(angles)  # (P, C, 3, 3)
        # the task's joints: the controls' free Euler axes, then location channels (which pins leave free)
        rotations_ = task.n_rotations
        self.q_pin = np.tile(np.asarray(task.q_rest, dtype=np.float64), (self.n_pins, 1))  # (P, J)
        self.q_pin[:, :rotations_] = angles[:, task.dof_control, task.dof_axis]
        self.joint_mask = np.zeros((self.n_pins, task.n_joints))  # (P, J)
        self.joint_mask[:, :rotations_] = held[:, task.dof_control]
        self._joint_count = np.maximum(self.joint_mask.sum(axis=1), 1.0)
        self._check_reachable(task, angles, start, np.radians(pins.angle_tolerance))
        # point targets (normalised): an effector pin's object; a pose pin's bone point in its keyed pose
        self.point_names = sorted({(b, p) for b, p in zip(pins.point_bone, pins.point)})
        self.point_of_pin = np.array([self.point_names.index((b, p)) for b, p in zip(pins.point_bone, pins.point)])
        keyed_world = self._points_world(task.twin.forward(self.pin_rot))[np.arange(self.n_pins), self.point_of_pin]
        world = np.where(self.is_pose[:, None], keyed_world, np.asarray(pins.position, dtype=np.float64))
        self.target = task.normalise(world)  # (P, 3)
        self.tolerance = np.where(self.is_pose, pins.position_tolerance, pins.effector_tolerance)
        self.angle_tolerance = np.radians(pins.angle_tolerance)
        # per-step lookups: the next pose / effector pin at or after step t, and the next pins after t
        table = np.arange(horizon + 2)
        self.next_pose = next_pins(self.steps, table, self.is_pose)
        self.next_effector = next_pins(self.steps, table, ~self.is_pose)
        next_any = next_pins(self.steps, table, np.ones(self.n_pins, bool))
        # the approach shaping heads for a pin only while it is the next pin of all: shaping toward the cup
        # before the pose keyed ahead of it would point the exploring arm the wrong way
        self.pose_is_next = self._is_next(self.next_pose, next_any)
        self.effector_is_next = self._is_next(self.next_effector, next_any)
        self.after = np.stack([next_pins(self.steps, table, np.ones(self.n_pins, bool), inclusive=False, skip=k)
                               for k in range(LOOKAHEAD)], axis=1)  # (T+2, K)
        hard_steps = self.steps[self.hard]
        self.last_hard = int(hard_steps.max()) if hard_steps.size else -1
        n = task.num_envs
        self.points = np.zeros((n, len(self.point_names), 3))
        self.points_prev = np.zeros_like(self.points)
        self.missed = np.zeros(n, dtype=bool)
        self.worst = np.zeros(n)

    def _check_reachable(self, task, angles: np.ndarray, start: np.ndarray, tolerance: float) -> None:
        """RigDojoError for a pose pin the controls cannot take: a locked axis keyed away from the start pose,
        or an angle outside the joint's limits (the policy's joints always stay inside them)."""
        from ...errors import RigDojoError

        rig = task.spec.rig
        for k, c in zip(*np.nonzero(self.held)):
            bone, frame = rig.controls[c], int(self.pins.frames[k])
            for axis in range(3):
                value = angles[k, c, axis]
                if rig.control_lock[c, axis] and abs(value - start[c, axis]) > tolerance:
                    raise RigDojoError(f"the pin at frame {frame} turns {bone}'s locked {'XYZ'[axis]} axis "
                                       f"({np.degrees(value - start[c, axis]):.1f} deg from the first frame's pose); "
                                       "unlock the axis, or key it as the first frame has it")
        over = (self.q_pin < task.q_low - tolerance) | (self.q_pin > task.q_high + tolerance)
        for k, j in zip(*np.nonzero(over & (self.joint_mask > 0))):
            c, axis = task.dof_control[j], task.dof_axis[j]
            raise RigDojoError(f"the pin at frame {int(self.pins.frames[k])} keys {rig.controls[c]}'s "
                               f"{'XYZ'[axis]} rotation at {np.degrees(self.q_pin[k, j]):.1f} deg, outside its limits "
                               f"({np.degrees(task.q_low[j]):.1f} to {np.degrees(task.q_high[j]):.1f} deg); key a "
                               "pose inside the limits, or widen them")

    def _is_next(self, which: np.ndarray, next_any: np.ndarray) -> np.ndarray:
        """Per step: whether the pin ``which`` gives is due no later than the next pin of any kind."""
        return (which >= 0) & (next_any >= 0) & (self.steps[np.maximum(which, 0)] <= self.steps[np.maximum(next_any, 0)])

    def _points_world(self, tracked_world: np.ndarray) -> np.ndarray:
        """(n, K, 3) world positions of the pins' points from the tracked bones' world matrices."""
        rig = self.task.spec.rig
        out = np.empty(tracked_world.shape[:1] + (len(self.point_names), 3))
        for k, (bone, point) in enumerate(self.point_names):
            m = tracked_world[:, rig.tracked.index(bone)]
            out[:, k] = m[:, :3, 3] + (m[:, :3, 1] * rig.lengths[rig.node_names.index(bone)] if point == "tail" else 0.0)
        return out

    # ---- per step ------------------------------------------------------------------------
    def update_points(self, idx: np.ndarray | None = None) -> None:
        """Read the pins' points from the task's last forward pass (all envs, or ``idx`` after a reset)."""
        points = self.task.normalise(self._points_world(self.task._tracked_world))
        if idx is None:
            self.points_prev, self.points = self.points, points
        else:
            self.points[idx] = points[idx]
            self.points_prev[idx] = points[idx]

    def reset(self, idx: np.ndarray) -> None:
        self.missed[idx] = False
        self.worst[idx] = 0.0
        self.update_points(idx)
        self._check_due(idx)  # a pin at the first frame is met (or not) by the start pose

    def _joint_error(self, q: np.ndarray, k: np.ndarray) -> np.ndarray:
        diff = (q - self.q_pin[k]) * self.joint_mask[k]
        return np.sqrt(np.einsum("nj,nj->n", diff, diff) / self._joint_count[k])

    def _point_error(self, points: np.ndarray, k: np.ndarray) -> np.ndarray:
        return np.linalg.norm(points[np.arange(len(k)), self.point_of_pin[k]] - self.target[k], axis=1)

    def fill(self, state, q: np.ndarray, q_prev: np.ndarray, t: np.ndarray) -> None:
        """Set the ``pin_*`` fields of ``state`` for the environments now at steps ``t`` (after a step from
        ``q_prev`` to ``q``). The potential at step ``t`` is the weighted error against the pin headed for
        from ``t`` on (the first strictly after ``t``), while it is the next pin of any kind."""
        now = np.minimum(t, self.horizon + 1)
        ahead = np.minimum(t + 1, self.horizon + 1)
        for kind, table, is_next, error in (
                ("pose", self.next_pose, self.pose_is_next, self._joint_error),
                ("effector", self.next_effector, self.effector_is_next, self._point_error)):
            current, before = (q, q_prev) if kind == "pose" else (self.points, self.points_prev)
            due_pin = table[now]  # the pin at or after t: due now when its step is t
            has = due_pin >= 0
            k = np.maximum(due_pin, 0)
            due = has & (self.steps[k] == t)
            setattr(state, f"pin_{kind}_due", np.where(due, self.weight[k], 0.0))
            setattr(state, f"pin_{kind}_error", np.where(due, error(current, k), 0.0))
            # the previous step's potential: headed for the same pin (the first at or after t)
            gate = is_next[now] & has
            setattr(state, f"pin_{kind}_potential_prev", np.where(gate, self.weight[k] * error(before, k), 0.0))
            nxt = table[ahead]
            k = np.maximum(nxt, 0)
            gate = is_next[ahead] & (nxt >= 0)
            setattr(state, f"pin_{kind}_potential", np.where(gate, self.weight[k] * error(current, k), 0.0))

    def _check_due(self, idx: np.ndarray) -> None:
        """Record, for the environments ``idx``, the pins due at their current step: hits and misses."""
        task = self.task
        t = task.t[idx]
        for k in np.flatnonzero(np.isin(self.steps, t)):
            envs = idx[t == self.steps[k]]
            err = np.linalg.norm(self.points[envs, self.point_of_pin[k]] - self.target[k], axis=1)
            hit = err <= self.tolerance[k]
            if self.is_pose[k]:
                rot = km.euler_xyz_to_matrix(task._angles(task.q[envs]))  # (m, C, 3, 3)
                angle = rotations.matrix_rotation_angle(rot, self.pin_rot[k][None])  # (m, C)
                hit &= np.where(self.held[k][None], angle, 0.0).max(axis=1) <= self.angle_tolerance
            self.worst[envs] = np.maximum(self.worst[envs], err)
            if self.hard[k]:
                self.missed[envs] |= ~hit

    def after_step(self) -> tuple[np.ndarray, np.ndarray]:
        """Record this step's due pins; return (success, error) by the pins: every hard pin so far met and
        the last one passed; the worst pin point error so far (rig units)."""
        task = self.task
        self._check_due(np.arange(task.num_envs))
        success = ~self.missed & (task.t >= self.last_hard)
        return success, self.worst.copy()

    @property
    def decides_success(self) -> bool:
        return bool(self.hard.any())

    def guide(self, q: np.ndarray, t: np.ndarray, max_delta: float) -> tuple[np.ndarray, np.ndarray]:
        """The straight way to the next pose pin, for environments at step ``t`` now.

        Returns ``(step, share)``: ``step`` (n, J), the joint change that takes each pinned joint to its next
        pose pin in the steps left (at most ``max_delta`` per step; 0 where no pose pin is ahead); ``share``
        (n, J), how much of the policy's own change to keep: 1, fading to 0 over the last ``FADE_STEPS``
        steps before a hard pin on its joints, so a hard pose pin is met exactly (a constraint on the
        actions, as a safety layer would put it); soft pins keep the whole share.
        """
        kp = self.next_pose[np.minimum(t + 1, self.horizon + 1)]
        has = (kp >= 0)[:, None]
        k = np.maximum(kp, 0)
        left = np.maximum(self.steps[k] - t, 1)[:, None]
        step = np.where(has, np.clip((self.q_pin[k] - q) * self.joint_mask[k] / left, -max_delta, max_delta), 0.0)
        fade = np.clip((left - 1) / FADE_STEPS, 0.0, 1.0)
        hard = has & self.hard[k][:, None] & (self.joint_mask[k] > 0)
        return step, np.where(hard, fade, 1.0)

    # ---- observation ---------------------------------------------------------------------
    @staticmethod
    def obs_dim(n_joints: int) -> int:
        return 1 + LOOKAHEAD * (3 + 2 * n_joints + 6)

    def observe(self, q: np.ndarray, t: np.ndarray) -> np.ndarray:
        """(n, obs_dim): the phase, then for each of the next pins: whether there is one, whether it is a pose,
        steps left / episode, joint error, needed joint rate, point error, needed point rate."""
        task = self.task
        n = len(t)
        parts = [(t / max(self.horizon, 1))[:, None]]
        rows = np.arange(n)
        for slot in range(LOOKAHEAD):
            kk = self.after[np.minimum(t, self.horizon + 1), slot]
            has = (kk >= 0).astype(np.float64)
            k = np.maximum(kk, 0)
            left = np.maximum(self.steps[k] - t, 1).astype(np.float64)
            pose = self.is_pose[k] * has
            dq = (self.q_pin[k] - q) * self.joint_mask[k] * has[:, None]
            dp = (self.target[k] - self.points[rows, self.point_of_pin[k]]) * ((1.0 - self.is_pose[k]) * has)[:, None]
            rate_q = np.clip(dq / left[:, None] / task.spec.max_delta, -RATE_CLIP, RATE_CLIP)
            rate_p = np.clip(dp / left[:, None] / task.spec.max_delta, -RATE_CLIP, RATE_CLIP)
            parts += [has[:, None], pose[:, None], (left * has / max(self.horizon, 1))[:, None], dq, rate_q, dp, rate_p]
        return np.concatenate(parts, axis=1)


class TaskStyle:
    """The style clip on a kinematic task: reference windows of the task's joints and each env's history."""

    def __init__(self, task, style: StyleReference):
        rig = task.spec.rig
        joints, columns = [], []
        for j, (c, axis) in enumerate(zip(task.dof_control, task.dof_axis)):
            bone = rig.controls[c]
            if bone in style.bones:
                joints.append((bone, int(axis)))
                columns.append(j)
        self.columns = np.array(columns, dtype=np.int64)
        self.reference, self.scale = style.windows(joints)
        self.horizon = int(task.spec.episode_steps)

    @classmethod
    def for_spec(cls, spec, task) -> "TaskStyle":
        """The style of ``spec`` on ``task`` (whose joints are known; its environments are counted later)."""
        return cls(task, spec.style)

    def allocate(self, n: int) -> None:
        """Each of ``n`` environments' history of windows this episode, and its last window."""
        self.history = np.zeros((n, self.horizon, self.reference.shape[1]))
        self.mask = np.zeros((n, self.horizon))
        self.last = np.zeros((n, self.reference.shape[1]))
        self.cost = np.zeros(n)  # this episode's style cost so far

    def reset(self, idx: np.ndarray) -> None:
        self.history[idx] = 0.0
        self.mask[idx] = 0.0
        self.last[idx] = 0.0
        self.cost[idx] = 0.0

    def obs_dim(self) -> int:
        return 1 + self.reference.shape[1]

    def observe(self, t: np.ndarray) -> np.ndarray:
        """(n, 1 + F): the episode's phase and the last window (the style reward depends on how the joints
        are moving, which the joint angles alone do not say)."""
        return np.concatenate([(t / max(self.horizon, 1))[:, None], np.tanh(self.last / 3.0)], axis=1)

    def features(self, q: np.ndarray, q_prev: np.ndarray, q_prev2: np.ndarray) -> np.ndarray:
        c = self.columns
        return step_features(q[:, c], q_prev[:, c], q_prev2[:, c]) / self.scale

    def fill(self, state, q, q_prev, q_prev2, t: np.ndarray) -> None:
        """Set the ``style_*`` fields for this step (``t``: steps after it), then add it to the history."""
        from ...rewards.pin_terms import style_step_cost

        x = self.features(q, q_prev, q_prev2)
        state.style_features = x
        state.style_reference = self.reference
        state.style_history = self.history.copy()
        state.style_history_mask = self.mask.copy()
        state.style_cost_before = self.cost.copy()
        self.cost += style_step_cost(x, self.reference, self.history, self.mask)
        slot = np.clip(t - 1, 0, self.horizon - 1)
        rows = np.arange(len(t))
        self.history[rows, slot] = x
        self.mask[rows, slot] = 1.0
        self.last = x

    def distance(self, q_series: np.ndarray) -> float:
        """Energy distance between one motion's windows (``(T, J)`` task joint angles) and the reference's."""
        return energy_distance(window_features(q_series[:, self.columns]) / self.scale, self.reference)


def rollout_measures(task, angles: np.ndarray) -> dict:
    """The pins' and style's measures of one rollout (``angles``: ``(T + 1, C, 3)`` control angles from the
    start pose), as the family's report gives them (see ``envs.reference.pins.measure_pins``)."""
    from ..reference.pins import measure_pins

    out: dict = {}
    spec = task.spec
    pins = getattr(task, "pins", None)
    if pins is not None:
        p = pins.pins
        steps = np.clip(p.steps, 0, len(angles) - 1)
        at_pins = angles[steps]  # (P, C, 3)
        rot = km.euler_xyz_to_matrix(at_pins)
        control_of = [spec.rig.controls.index(b) for b in p.pose_bones]
        achieved = rotations.matrix_to_quaternion(rot[:, control_of])  # (P, B, 4)
        world = pins._points_world(task.twin.forward(rot))  # (P, K, 3)
        points = world[np.arange(len(p)), pins.point_of_pin]
        out.update(measure_pins(p, achieved, points, unit=task.unit))
    style = getattr(task, "style", None)
    if style is not None:
        q = angles[:, task.dof_control, task.dof_axis]
        out["style_distance"] = style.distance(q)
        still = np.repeat(q[:1], len(q), axis=0)
        out["style_distance_still"] = style.distance(still)  # a motion that never moves, for scale
    return out
