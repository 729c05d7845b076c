"""Pins on a physics task: keyed poses, the root's keyed position and a bone on an object at a frame (no bpy).

The edge (``scene/physics/pins.py``) reads the animator's pins into the creature's spec (``pin_*`` arrays,
one row a pin): the Action's keyed frames (``reference.pins``) become **pose pins** on the simulated bones
they key (every bone keyed there: the whole pose, a leg, a paw) and, where the root bone is keyed, a pin of
the root's position in the world ("be over there at frame 60"); ``reference.effector_pins`` put a bone's
tail on an object at a frame (a foot on a stepping stone, a hand on a rail).

:class:`PhysicsPins` turns those rows into the twin's terms, as ``envs.kinematic.pinning.TaskPins`` does for
the kinematic family, and fills the same ``pin_*`` fields of the reward state, so the shared ``pin_pose`` and
``pin_effector`` terms (``rewards/pin_terms.py``) pay them:

* ``pin_pose``: the mean over the pinned bones of each bone's rotation error (radians: the angle between its
  local rotation and the keyed one, every axis together, as Blender would show the bone off its key);
* ``pin_effector``: the distance (creature sizes) of the root's head from its keyed position, or of the
  pinned bone's tail from its object.

A pin is **hit** when, at its frame, every pinned bone is within ``physics.pin_tolerance`` degrees of its key
and the point within ``physics.pin_distance`` sizes (a key the creature cannot take, past a joint's limits or
on a locked axis by more than the tolerance, is refused when the task is made); a **hard** pin decides success (the task's own success and
every hard pin hit), a soft one is a reward only. The policy is time-aware: its observation gets the
episode's phase and, for each of the next two pins, the time left and the errors to it.
"""

from __future__ import annotations

import numpy as np

from .. import rotations
from ..reference.pins import next_pins
from .mjcf import euler_from_hinges

LOOKAHEAD = 2  # pins the observation describes
HORIZON_CLIP = 2.0  # seconds: the time to a pin is shown up to this


class PhysicsPins:
    """The pins of a :class:`~rig_dojo.envs.physics.task.PhysicsTask` (see the module docstring)."""

    def __init__(self, task, spec, n_envs: int):
        lay = task.twin.layout
        self.task = task
        frames = np.asarray(spec.pin_frames, dtype=np.float64)
        self.n_pins = p = len(frames)
        self.steps = np.round(frames - spec.frame_start).astype(np.int64)
        self.horizon = int(task.episode_steps)
        mask = np.asarray(spec.pin_mask, dtype=bool).reshape(p, spec.n_bones)
        euler = np.asarray(spec.pin_euler, dtype=np.float64).reshape(p, spec.n_bones, 3)
        self.q_pin = np.clip(euler[:, lay.joint_bone, lay.joint_axis], task.q_low, task.q_high)  # (P, J)
        self.joint_mask = mask[:, lay.joint_bone].astype(np.float64)  # (P, J)
        self.bone_mask = mask.astype(np.float64)  # (P, B) the bones each pose pin holds
        self._bone_count = np.maximum(self.bone_mask.sum(axis=1), 1.0)
        self.has_pose = mask.any(axis=1)
        self.rot_pin = rotations.euler_xyz_to_matrix(euler)  # (P, B, 3, 3) the keyed local rotations
        self.labels = list(spec.pin_labels)
        self.angle_tolerance = np.radians(task.config.pin_tolerance)
        self._check_reachable(spec, mask, euler_from_hinges(spec, lay, self.q_pin))
        # the point of each pin: the root's head (a keyed root), a bone's tail on an object, or none
        self.point_bone = np.asarray(spec.pin_point_bone, dtype=np.int64).reshape(p)
        self.point_is_head = self.point_bone == 0
        self.has_point = self.point_bone >= 0
        self.target = np.asarray(spec.pin_point, dtype=np.float64).reshape(p, 3)
        self.hard = np.asarray(spec.pin_hard, dtype=bool).reshape(p)
        self.weight = np.asarray(spec.pin_weight, dtype=np.float64).reshape(p)
        self.distance_tolerance = float(task.config.pin_distance)
        table = np.arange(self.horizon + 2)
        self.next_pose = next_pins(self.steps, table, self.has_pose)
        self.next_point = next_pins(self.steps, table, self.has_point)
        self.after = np.stack([next_pins(self.steps, table, np.ones(p, bool), inclusive=False, skip=k)
                               for k in range(LOOKAHEAD)], axis=1)  # (T+2, K)
        self.set_guide(True)
        hard_steps = self.steps[self.hard]
        self.last_hard = int(hard_steps.max()) if hard_steps.size else -1
        n = n_envs
        self.points = np.zeros((n, p, 3))  # each pin's point now (world)
        self.points_prev = np.zeros_like(self.points)
        self.rot_prev = np.tile(np.eye(3), (n, spec.n_bones, 1, 1))
        self.missed = np.zeros(n, dtype=bool)
        # what each environment's episode met at each pin (NaN: not reached, e.g. fallen before it)
        self.angle_error = np.full((n, p), np.nan)  # degrees, the mean over the pin's bones
        self.worst_angle = np.full((n, p), np.nan)  # degrees, its worst bone
        self.point_error = np.full((n, p), np.nan)  # sizes
        self.hit = np.zeros((n, p), dtype=bool)

    def _check_reachable(self, spec, mask: np.ndarray, reachable: np.ndarray) -> None:
        """RigDojoError for a pinned bone keyed further than the tolerance from any rotation its hinges can
        take (an axis locked, or turned past its limits): such a pin could never be hit."""
        from ...errors import RigDojoError

        off = rotations.matrix_rotation_angle(rotations.euler_xyz_to_matrix(reachable), self.rot_pin)  # (P, B)
        off = np.where(mask, off, 0.0)
        if off.max(initial=0.0) > self.angle_tolerance:
            k, b = np.unravel_index(int(np.argmax(off)), off.shape)
            bone = spec.bone_names[b]
            raise RigDojoError(f"the pin at frame {int(round(spec.pin_frames[k]))} keys {bone} "
                               f"{np.degrees(off[k, b]):.1f}° from any rotation the creature can take there (a locked "
                               f"axis, or past its limits); key {bone} within its limits and free axes, or unlock them")

    # ---- the guide ---------------------------------------------------------------------
    def set_guide(self, on: bool) -> None:
        """Guide to the pins (``reference.guide``, on by default): each pinned hinge's servo target follows its
        keys, straight from the rest angle at the first frame to each pin holding it, then held after its last
        (the animator's in-betweens, linear), and the policy's action moves the target from there; off: from
        the rest angle, as on a task without pins."""
        self.guide = None
        if not on:
            return
        centre = self.task.q_centre
        t = np.arange(self.horizon + 2)
        guide = np.tile(centre, (len(t), 1))
        for j in np.flatnonzero(self.joint_mask.any(axis=0)):
            held = np.flatnonzero(self.joint_mask[:, j])
            steps = np.concatenate([[0], self.steps[held]])
            values = np.concatenate([[centre[j]], self.q_pin[held, j]])
            guide[:, j] = np.interp(t, steps, values)
        self.guide = guide  # (T+2, J)

    def base(self, t: np.ndarray) -> np.ndarray | None:
        """(n, J) the guide's servo targets at steps ``t`` (None without the guide)."""
        return None if self.guide is None else self.guide[np.minimum(t, self.horizon + 1)]

    @property
    def decides_success(self) -> bool:
        return bool(self.hard.any())

    # ---- per step ----------------------------------------------------------------------
    def _read_points(self) -> np.ndarray:
        heads, tails = self.task.twin.bone_points()
        bone = np.maximum(self.point_bone, 0)
        return np.where(self.point_is_head[None, :, None], heads[:, bone], tails[:, bone])  # (n, P, 3)

    def _bone_rotations(self) -> np.ndarray:
        """(n, B, 3, 3) every bone's local rotation now (its hinges' Euler XYZ; the root's and locked axes 0)."""
        task = self.task
        return rotations.euler_xyz_to_matrix(euler_from_hinges(task.spec, task.twin.layout, task.twin.q))

    def reset(self, idx: np.ndarray) -> None:
        points = self._read_points()
        self.points[idx] = points[idx]
        self.points_prev[idx] = points[idx]
        self.rot_prev[idx] = self._bone_rotations()[idx]
        self.missed[idx] = False
        self.angle_error[idx] = np.nan
        self.worst_angle[idx] = np.nan
        self.point_error[idx] = np.nan
        self.hit[idx] = False
        self._check_due(idx, self.rot_prev)  # a pin at the first frame is met (or not) by the start pose

    def _bone_angles(self, rot: np.ndarray, k: np.ndarray) -> np.ndarray:
        """(n, B) each bone's angle (radians) from pin ``k``'s keyed rotation; 0 for bones the pin does not hold."""
        return rotations.matrix_rotation_angle(rot, self.rot_pin[k]) * self.bone_mask[k]

    def _pose_error(self, rot: np.ndarray, k: np.ndarray) -> np.ndarray:
        return self._bone_angles(rot, k).sum(axis=1) / self._bone_count[k]

    def _point_error(self, points: np.ndarray, k: np.ndarray) -> np.ndarray:
        rows = np.arange(len(k))
        return np.linalg.norm(points[rows, k] - self.target[k], axis=1) / self.task.unit

    def fill(self, state) -> None:
        """Set the ``pin_*`` fields of ``state`` after a step (the environments now at ``task.t``): at a pin's
        frame its error and weight; before it, the weighted error to it now and a step ago (the shaping's
        potentials, while it is the next pin of its kind)."""
        task = self.task
        t = task.t
        rot = self._bone_rotations()
        self.points_prev, self.points = self.points, self._read_points()
        now = np.minimum(t, self.horizon + 1)
        ahead = np.minimum(t + 1, self.horizon + 1)
        for kind, table, error, current, before in (
                ("pose", self.next_pose, self._pose_error, rot, self.rot_prev),
                ("effector", self.next_point, self._point_error, self.points, self.points_prev)):
            pin = table[now]
            has = pin >= 0
            k = np.maximum(pin, 0)
            due = has & (self.steps[k] == t)
            setattr(state, f"pin_{kind}_due", np.where(due, self.weight[k], 0.0))
            setattr(state, f"pin_{kind}_error", np.where(due, error(current, k), 0.0))
            setattr(state, f"pin_{kind}_potential_prev", np.where(has, self.weight[k] * error(before, k), 0.0))
            nxt = table[ahead]
            k = np.maximum(nxt, 0)
            setattr(state, f"pin_{kind}_potential", np.where(nxt >= 0, self.weight[k] * error(current, k), 0.0))
        self.rot_prev = rot
        self._check_due(np.arange(task.num_envs), rot)

    def _check_due(self, idx: np.ndarray, rot: np.ndarray) -> None:
        """Record the pins due at the environments' current step (``rot``: every environment's bone rotations):
        their errors, hits and hard misses."""
        t = self.task.t[idx]
        for k in np.flatnonzero(np.isin(self.steps, t)):
            at = t == self.steps[k]
            envs = idx[at]
            kk = np.full(len(envs), k)
            hit = np.ones(len(envs), dtype=bool)
            if self.has_pose[k]:
                angles = self._bone_angles(rot[envs], kk)  # (m, B)
                self.angle_error[envs, k] = np.degrees(angles.sum(axis=1) / self._bone_count[k])
                self.worst_angle[envs, k] = np.degrees(angles.max(axis=1))
                hit &= angles.max(axis=1) <= self.angle_tolerance
            if self.has_point[k]:
                dist = self._point_error(self.points[envs], kk)
                self.point_error[envs, k] = dist
                hit &= dist <= self.distance_tolerance
            self.hit[envs, k] = hit
            if self.hard[k]:
                self.missed[envs] |= ~hit

    def success(self, t: np.ndarray) -> np.ndarray:
        """Every hard pin so far hit and the last one passed."""
        return ~self.missed & (t >= self.last_hard)

    # ---- observation -------------------------------------------------------------------
    def obs_dim(self) -> int:
        return 1 + LOOKAHEAD * (3 + self.q_pin.shape[1] + 3)

    def observe(self) -> np.ndarray:
        """(n, obs_dim): the episode's phase, then for each of the next pins: whether there is one, the seconds
        left to it (clipped at 2), whether it has a point, the pinned hinges' errors (radians) and the point's
        offset to its target in the root's frame (sizes)."""
        task = self.task
        t = task.t
        n = len(t)
        rot = task.twin.xmat[:, 0].reshape(n, 3, 3)
        rows = np.arange(n)
        q = task.twin.q
        points = self.points  # read by fill (after a step) or reset (after a restart): the state observed now
        parts = [(t / max(self.horizon, 1))[:, None]]
        for slot in range(LOOKAHEAD):
            kk = self.after[np.minimum(t, self.horizon + 1), slot]
            has = (kk >= 0).astype(np.float64)
            k = np.maximum(kk, 0)
            left = np.minimum((self.steps[k] - t) / task.fps, HORIZON_CLIP) * has
            point = self.has_point[k] * has
            dq = (self.q_pin[k] - q) * self.joint_mask[k] * has[:, None]
            offset = np.einsum("nji,nj->ni", rot, self.target[k] - points[rows, k]) / task.unit * point[:, None]
            parts += [has[:, None], left[:, None], point[:, None], dq, np.clip(offset, -5.0, 5.0)]
        return np.concatenate(parts, axis=1)

    # ---- measures ----------------------------------------------------------------------
    def measures(self, env: int = 0, metres_per_unit: float = 1.0, fell: bool = False) -> dict:
        """What environment ``env``'s episode met at each pin (after a rollout from the first frame); ``fell``:
        the rollout ended in a fall (else a pin not reached lay past its last frame)."""
        unit_cm = self.task.unit * metres_per_unit * 100.0
        rows = []
        for k in range(self.n_pins):
            a, w, d = self.angle_error[env, k], self.worst_angle[env, k], self.point_error[env, k]
            reached = bool(np.isfinite(a) or np.isfinite(d))
            rows.append({"frame": int(self.steps[k] + self.task.spec.frame_start), "pin": self.labels[k],
                         "hard": bool(self.hard[k]), "reached": reached,
                         "missed_because": "" if reached else ("fell before" if fell else "past the last frame"),
                         "angle_error_degrees": None if np.isnan(a) else float(a),
                         "max_angle_error_degrees": None if np.isnan(w) else float(w),
                         "point_error_sizes": None if np.isnan(d) else float(d),
                         "point_error_cm": None if np.isnan(d) else float(d * unit_cm), "hit": bool(self.hit[env, k])})
        return {"pins": rows}


def summarise(runs: list[dict]) -> dict:
    """Several episodes' :meth:`PhysicsPins.measures` together: the hit rate over every pin of every episode
    (a pin not reached is missed), the hard pins' hit rate, the pose error (degrees: the mean over the pins'
    bones, and the worst bone) and the point error (sizes, cm) over the pins reached."""
    rows = [r for run in runs for r in run["pins"]]
    hard = [r for r in rows if r["hard"]]

    def values(key):
        return [r[key] for r in rows if r.get(key) is not None]

    def mean(key):
        v = values(key)
        return float(np.mean(v)) if v else None

    def worst(key):
        v = values(key)
        return float(np.max(v)) if v else None

    return {"pin_hit_rate": float(np.mean([r["hit"] for r in rows])) if rows else None,
            "hard_pin_hit_rate": float(np.mean([r["hit"] for r in hard])) if hard else None,
            "mean_angle_error_degrees": mean("angle_error_degrees"),
            "max_angle_error_degrees": worst("max_angle_error_degrees"),
            "mean_point_error_sizes": mean("point_error_sizes"), "max_point_error_sizes": worst("point_error_sizes"),
            "mean_point_error_cm": mean("point_error_cm"),
            "pins_reached": int(sum(r["reached"] for r in rows)), "pin_count": len(rows),
            "pins": len(runs[0]["pins"]) if runs else 0, "episodes": len(runs),
            "not_reached": sorted({r["missed_because"] for r in rows if not r["reached"]}),
            "per_pin": runs[0]["pins"] if runs else []}


def pins_text(s: dict) -> str:
    """:func:`summarise` in words (the report line, the bake's line)."""
    if s["pin_hit_rate"] is None:
        return "no pins"
    count = f"{s['pins']} pin{'s' if s['pins'] != 1 else ''}"
    if s["episodes"] > 1:
        count += f" x {s['episodes']} episodes"
    parts = [f"{s['pin_hit_rate']:.0%} of {count} hit"]
    if s["mean_angle_error_degrees"] is not None:
        parts.append(f"bones {s['mean_angle_error_degrees']:.1f}° off their keys on average "
                     f"({s['max_angle_error_degrees']:.1f}° the worst)")
    if s["mean_point_error_sizes"] is not None:
        parts.append(f"{s['mean_point_error_cm']:.1f} cm ({s['mean_point_error_sizes']:.3f} sizes) mean point error")
    if s["pins_reached"] < s["pin_count"]:
        parts.append(f"{s['pin_count'] - s['pins_reached']} not reached ({' or '.join(s['not_reached'])})")
    return ", ".join(parts)


__all__ = ["LOOKAHEAD", "PhysicsPins", "pins_text", "summarise"]
