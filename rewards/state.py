"""The batched environment state that reward terms read.

Positions are in rig-normalised units (the control chain has length 1) and in the
world frame. ``n`` is the number of environments stepped together; every per-env
array has ``n`` as its first axis. Fields a task does not compute stay ``None``;
each reward term lists the fields it reads (``RewardTerm.requires``) and the
composer refuses to run a term whose field is missing.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from ..errors import RigDojoError

# Expected shapes; symbols bind the sizes shared between fields. Obstacles may be
# shared by all envs or given per env (a leading ``n``), e.g. for animated props.
_SHAPES: dict[str, tuple[tuple[str, ...], ...]] = {
    "effector_pos": (("n", "3"),),
    "effector_axes": (("n", "3", "3"),),
    "target_pos": (("n", "3"),),
    "target_axes": (("n", "3", "3"),),
    "q": (("n", "J"),),
    "q_prev": (("n", "J"),),
    "q_prev2": (("n", "J"),),
    "q_prev3": (("n", "J"),),
    "q_rest": (("J",),),
    "q_low": (("J",),),
    "q_high": (("J",),),
    "action": (("n", "J"),),
    "step": (("n",),),
    "tracked_pos": (("n", "T", "3"),),
    "fingertip_pos": (("n", "K", "3"),),
    "contact_points": (("n", "K", "3"),),
    "palm_axes": (("n", "3", "3"),),
    "palm_target_normal": (("n", "3"),),
    "look_axis_pos": (("n", "3"),),
    "look_axis_dir": (("n", "3"),),
    "look_target": (("n", "3"),),
    "sphere_obstacles": (("M", "4"), ("n", "M", "4")),
    "box_centers": (("B", "3"), ("n", "B", "3")),
    "box_half": (("B", "3"), ("n", "B", "3")),
    "box_rot": (("B", "3", "3"), ("n", "B", "3", "3")),
    "mesh_obstacle_points": (("P", "3"), ("n", "P", "3")),
    "pin_pose_error": (("n",),),
    "pin_pose_due": (("n",),),
    "pin_pose_potential": (("n",),),
    "pin_pose_potential_prev": (("n",),),
    "pin_effector_error": (("n",),),
    "pin_effector_due": (("n",),),
    "pin_effector_potential": (("n",),),
    "pin_effector_potential_prev": (("n",),),
    "style_features": (("n", "F"),),
    "style_reference": (("R", "F"),),
    "style_history": (("n", "H", "F"),),
    "style_history_mask": (("n", "H"),),
    "style_cost_before": (("n",),),
}


@dataclass
class RewardState:
    """Batched state of ``n_envs`` environments at one step (world frame, rig-normalised units).

    Attributes:
        n_envs: number of environments ``n``.
        dt: seconds per step, used for finite differences of the joint history.
        effector_pos: ``(n, 3)`` world position of the effector (e.g. the hand bone's tail).
        effector_axes: ``(n, 3, 3)`` the effector bone's world X, Y, Z axes as *columns*
            (Blender bones point along their local Y).
        target_pos: ``(n, 3)`` position the effector should reach.
        target_axes: ``(n, 3, 3)`` target frame, axes as columns.
        q: ``(n, J)`` joint angles in radians.
        q_prev, q_prev2, q_prev3: ``(n, J)`` joint angles 1, 2 and 3 steps ago. At reset the
            env fills the history with the reset pose, so differences start at zero.
        q_rest: ``(J,)`` rest pose angles.
        q_low, q_high: ``(J,)`` joint limits in radians (``-inf``/``inf`` for a free joint).
        action: ``(n, J)`` the normalised action in [-1, 1] (discrete tasks: the signed step).
        step: ``(n,)`` integer steps since each env's episode started.
        tracked_pos: ``(n, T, 3)`` positions of the tracked bones (for obstacle clearance).
        fingertip_pos: ``(n, K, 3)`` fingertip positions.
        contact_points: ``(n, K, 3)`` one sampled point per fingertip on the grasped surface.
        palm_axes: ``(n, 3, 3)`` the palm bone's world axes as columns.
        palm_target_normal: ``(n, 3)`` direction the palm should face (e.g. toward the object).
        look_axis_pos: ``(n, 3)`` origin of the bone axis that must aim (e.g. the head).
        look_axis_dir: ``(n, 3)`` unit direction of that axis.
        look_target: ``(n, 3)`` point it should aim at.
        sphere_obstacles: ``(M, 4)`` rows ``(cx, cy, cz, r)``, or ``(n, M, 4)`` per env.
        box_centers: ``(B, 3)`` oriented box centres, or ``(n, B, 3)``.
        box_half: ``(B, 3)`` half extents along the box's own axes, or ``(n, B, 3)``.
        box_rot: ``(B, 3, 3)`` the box's axes in world as columns
            (``world = centre + box_rot @ local``), or ``(n, B, 3, 3)``.
        mesh_obstacle_points: ``(P, 3)`` points sampled on obstacle mesh surfaces, or
            ``(n, P, 3)``. They carry no normals, so the distance to them is unsigned.
        discount: the trainer's discount factor (``gamma``), for shaping terms that must not change which
            policy is best (potential-based shaping, Ng, Harada and Russell 1999).
        pin_pose_error: ``(n,)`` joint-angle error (radians, RMS over the pinned joints) against the pose pin
            due at this step; 0 when none is due.
        pin_pose_due: ``(n,)`` the weight of the pose pin due at this step (0 when none is).
        pin_pose_potential: ``(n,)`` the weighted error of the pose now against the pose pin the episode heads
            for from this step on, while that pin is the next pin of any kind (0 otherwise).
        pin_pose_potential_prev: ``(n,)`` the same of the previous pose, as of the previous step.
        pin_effector_error, pin_effector_due, pin_effector_potential, pin_effector_potential_prev: ``(n,)``
            the same for effector pins, the error being the distance (rig units) from the pinned point to its
            target.
        style_features: ``(n, F)`` this step's window of joint velocities and accelerations, scaled by the
            reference's spread (``envs.reference.style``).
        style_reference: ``(R, F)`` the reference clip's windows, scaled the same way.
        style_history: ``(n, H, F)`` this episode's earlier windows (``H``: the episode length).
        style_history_mask: ``(n, H)`` which rows of ``style_history`` hold a window (1) or nothing (0).
        style_cost_before: ``(n,)`` the style cost of this episode's earlier steps (the sum of their shares
            of the style measure, ``rewards.pin_terms.style_step_cost``).
    """

    n_envs: int
    dt: float = 1.0 / 30.0
    effector_pos: np.ndarray | None = None
    effector_axes: np.ndarray | None = None
    target_pos: np.ndarray | None = None
    target_axes: np.ndarray | None = None
    q: np.ndarray | None = None
    q_prev: np.ndarray | None = None
    q_prev2: np.ndarray | None = None
    q_prev3: np.ndarray | None = None
    q_rest: np.ndarray | None = None
    q_low: np.ndarray | None = None
    q_high: np.ndarray | None = None
    action: np.ndarray | None = None
    step: np.ndarray | None = None
    tracked_pos: np.ndarray | None = None
    fingertip_pos: np.ndarray | None = None
    contact_points: np.ndarray | None = None
    palm_axes: np.ndarray | None = None
    palm_target_normal: np.ndarray | None = None
    look_axis_pos: np.ndarray | None = None
    look_axis_dir: np.ndarray | None = None
    look_target: np.ndarray | None = None
    sphere_obstacles: np.ndarray | None = None
    box_centers: np.ndarray | None = None
    box_half: np.ndarray | None = None
    box_rot: np.ndarray | None = None
    mesh_obstacle_points: np.ndarray | None = None
    discount: float = 1.0
    pin_pose_error: np.ndarray | None = None
    pin_pose_due: np.ndarray | None = None
    pin_pose_potential: np.ndarray | None = None
    pin_pose_potential_prev: np.ndarray | None = None
    pin_effector_error: np.ndarray | None = None
    pin_effector_due: np.ndarray | None = None
    pin_effector_potential: np.ndarray | None = None
    pin_effector_potential_prev: np.ndarray | None = None
    style_features: np.ndarray | None = None
    style_reference: np.ndarray | None = None
    style_history: np.ndarray | None = None
    style_history_mask: np.ndarray | None = None
    style_cost_before: np.ndarray | None = None

    def check(self) -> None:
        """Raise :class:`RigDojoError` naming the first field whose shape does not fit.

        Not called per step (the composer calls it on its first call only): it is for
        catching a wrongly built state early.
        """
        if isinstance(self.n_envs, bool) or not isinstance(self.n_envs, (int, np.integer)) or self.n_envs < 1:
            raise RigDojoError(f"RewardState.n_envs must be a positive integer, got {self.n_envs!r}")
        if not (isinstance(self.dt, (int, float)) and np.isfinite(self.dt) and self.dt > 0):
            raise RigDojoError(f"RewardState.dt must be a positive number of seconds, got {self.dt!r}")
        sizes: dict[str, int] = {"n": int(self.n_envs)}
        for f in fields(self):
            patterns = _SHAPES.get(f.name)
            value = getattr(self, f.name)
            if patterns is None or value is None:
                continue
            shape = np.shape(value)
            for pattern in patterns:
                bound = _match(shape, pattern, sizes)
                if bound is not None:
                    sizes = bound
                    break
            else:
                expected = " or ".join("(" + ", ".join(p) + ")" for p in patterns)
                known = ", ".join(f"{k}={v}" for k, v in sizes.items())
                raise RigDojoError(
                    f"RewardState.{f.name} has shape {shape}, expected {expected} ({known}); "
                    "fix the task that builds the reward state"
                )
        for a, b in (("box_centers", "box_half"), ("box_centers", "box_rot")):
            if (getattr(self, a) is None) != (getattr(self, b) is None):
                raise RigDojoError("oriented boxes need box_centers, box_half and box_rot together")


def _match(shape: tuple[int, ...], pattern: tuple[str, ...], sizes: dict[str, int]) -> dict[str, int] | None:
    if len(shape) != len(pattern):
        return None
    bound = dict(sizes)
    for dim, sym in zip(shape, pattern):
        if sym.isdigit():
            if dim != int(sym):
                return None
        elif bound.setdefault(sym, dim) != dim:
            return None
    return bound


STATE_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(RewardState))
