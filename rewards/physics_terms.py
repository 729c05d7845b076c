"""Reward terms of the physics tasks (balance, locomotion, jump, obstacle course). No bpy.

They read :class:`PhysicsRewardState`, a :class:`RewardState` with the physical
quantities a MuJoCo twin measures. ``RewardState``'s field list is shared by every
task, so these fields live in the subclass; a term checks for them itself and
says which task provides them (``requires`` names only the shared fields).

Units: positions in creature sizes (the rig's rest height or length is 1), the
world's Z is up, velocities in sizes per second.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import RigDojoError
from .registry import Param, reward_term
from .state import RewardState


@dataclass
class PhysicsRewardState(RewardState):
    """:class:`RewardState` plus what a physics twin measures (all ``(n, ...)``, normalised units).

    Attributes:
        up: ``(n, 3)`` the creature's rest "up" carried by its root (world Z at rest).
        forward: ``(n, 3)`` the creature's rest forward carried by its root, flattened to the ground.
        direction: ``(n, 3)`` the unit direction it should travel along (horizontal).
        com: ``(n, 3)`` centre of mass; ``com_vel``: ``(n, 3)`` its velocity.
        com_height: ``(n,)`` centre of mass above the ground; ``rest_com_height``: at rest.
        support: ``(n, 3)`` mean of the points touching the ground (the COM's own ground point when none).
        touching: ``(n,)`` number of bone end points on the ground.
        foot_slip: ``(n,)`` summed horizontal speed of the end points on the ground.
        torque: ``(n, J)`` servo torques as a fraction of the creature's strength unit.
        peak_height: ``(n,)`` highest ``com_height`` this episode.
        landed: ``(n,)`` bool, touched down this step after being airborne.
        target_speed: forward speed wanted (sizes per second).
        obstacle_top: ``(n,)`` height of the obstacle under/ahead of the creature (0 without).
        lowest_over_obstacle: ``(n,)`` the lowest body point within the obstacle's footprint, minus its top
            (positive: clear; ``inf`` when nothing is over it).
        qdot: ``(n, J)`` hinge velocities (rad/s).
        ref_q, ref_qdot: ``(n, J)`` the reference clip's hinge angles and velocities at this step (tracking).
        ref_points, track_points: ``(n, E, 3)`` the reference's and the creature's end-effector points (sizes).
        ref_root, root: ``(n, 3)`` the reference's and the creature's root position (sizes);
        ref_root_vel, root_vel: ``(n, 3)`` their velocities (sizes per second).
    """

    up: np.ndarray | None = None
    forward: np.ndarray | None = None
    direction: np.ndarray | None = None
    com: np.ndarray | None = None
    com_vel: np.ndarray | None = None
    com_height: np.ndarray | None = None
    rest_com_height: float = 1.0
    support: np.ndarray | None = None
    touching: np.ndarray | None = None
    foot_slip: np.ndarray | None = None
    torque: np.ndarray | None = None
    peak_height: np.ndarray | None = None
    landed: np.ndarray | None = None
    target_speed: float = 1.0
    obstacle_top: np.ndarray | None = None
    lowest_over_obstacle: np.ndarray | None = None
    qdot: np.ndarray | None = None
    ref_q: np.ndarray | None = None
    ref_qdot: np.ndarray | None = None
    ref_points: np.ndarray | None = None
    track_points: np.ndarray | None = None
    ref_root: np.ndarray | None = None
    root: np.ndarray | None = None
    ref_root_vel: np.ndarray | None = None
    root_vel: np.ndarray | None = None


def _need(state: RewardState, *names: str) -> None:
    missing = [n for n in names if getattr(state, n, None) is None]
    if missing:
        raise RigDojoError(f"reward terms reading {', '.join(missing)} need a physics task "
                           "(stand, locomotion, jump or obstacles); disable them for this task")


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.einsum("ij,ij->i", a, b)


@reward_term("upright", "Cosine of the tilt of the creature's rest up axis from the world's up (1 = upright)")
def upright(state: RewardState) -> np.ndarray:
    _need(state, "up")
    return state.up[:, 2].astype(np.float64)


@reward_term("com_over_support", "Penalty on the horizontal distance of the centre of mass from the feet on the ground",
             penalty=True)
def com_over_support(state: RewardState) -> np.ndarray:
    _need(state, "com", "support")
    d = state.com[:, :2] - state.support[:, :2]
    return -np.sqrt(np.einsum("ij,ij->i", d, d))


@reward_term("alive_bonus", "A constant reward every step the creature has not fallen",
             params=[Param("value", "float", 1.0, min=0.0, max=100.0, description="Reward per step alive")])
def alive_bonus(state: RewardState, value: float) -> np.ndarray:
    return np.full(state.n_envs, value)


@reward_term("forward_speed", "Speed of the centre of mass along the wanted direction (in target speeds), capped at "
             "cap_at times the target speed",
             params=[Param("cap", "bool", True, description="No extra reward above cap_at times the target speed"),
                     Param("cap_at", "float", 1.0, min=0.1, max=10.0,
                           description="Where the cap is, in target speeds (1: at the target speed)")])
def forward_speed(state: RewardState, cap: bool, cap_at: float = 1.0) -> np.ndarray:
    _need(state, "com_vel", "direction")
    v = _dot(state.com_vel, state.direction)
    if cap:
        v = np.minimum(v, cap_at * state.target_speed)
    return v / max(state.target_speed, 1e-6)


@reward_term("heading", "Cosine of the angle between the creature's forward and the wanted direction")
def heading(state: RewardState) -> np.ndarray:
    _need(state, "forward", "direction")
    f = state.forward / np.maximum(np.linalg.norm(state.forward, axis=1, keepdims=True), 1e-9)
    return _dot(f, state.direction)


@reward_term("foot_slip", "Penalty on the horizontal speed of points touching the ground (sizes/s)", penalty=True)
def foot_slip(state: RewardState) -> np.ndarray:
    _need(state, "foot_slip")
    return -state.foot_slip.astype(np.float64)


@reward_term("joint_torque", "Penalty on the mean squared servo torque (fraction of the creature's strength)",
             penalty=True)
def joint_torque(state: RewardState) -> np.ndarray:
    _need(state, "torque")
    if state.torque.shape[1] == 0:
        return np.zeros(state.n_envs)
    return -np.mean(state.torque**2, axis=1)


@reward_term("jump_height", "Height of the centre of mass above its rest height (sizes), 0 below it")
def jump_height(state: RewardState) -> np.ndarray:
    _need(state, "com_height")
    return np.maximum(state.com_height - state.rest_com_height, 0.0)


@reward_term("landing_upright", "On the step of touching down after a jump: how upright (cosine) and how high the jump was",
             params=[Param("min_height", "float", 0.1, min=0.0, max=10.0,
                           description="Jumps lower than this (sizes) earn nothing")])
def landing_upright(state: RewardState, min_height: float) -> np.ndarray:
    _need(state, "landed", "up", "peak_height")
    high = (state.peak_height - state.rest_com_height) >= min_height
    return np.where(state.landed & high, state.up[:, 2], 0.0)


@reward_term("obstacle_clearance", "Penalty on body points dipping below an obstacle's top while over it (sizes)",
             penalty=True)
def obstacle_clearance(state: RewardState) -> np.ndarray:
    _need(state, "lowest_over_obstacle")
    low = np.where(np.isfinite(state.lowest_over_obstacle), state.lowest_over_obstacle, 0.0)
    return np.minimum(low, 0.0)


# ---- tracking a reference clip (DeepMimic's terms: Peng et al. 2018, eq. 4-8; each in (0, 1]) ------------
def _need_reference(state: RewardState, *names: str) -> None:
    missing = [n for n in names if getattr(state, n, None) is None]
    if missing:
        raise RigDojoError("reward terms tracking a reference need the physics task track (--task track "
                           "--reference ACTION); disable them for this task")


def _scale_param(default: float, what: str) -> Param:
    return Param("scale", "float", default, min=1e-3, max=1e4,
                 description=f"How sharply the reward falls with the {what} (exp(-scale x error²))")


@reward_term("track_pose", "How close the joint angles are to the reference's: exp(-scale x sum of squared errors)",
             params=[_scale_param(2.0, "joint angle error (radians)")])
def track_pose(state: RewardState, scale: float) -> np.ndarray:
    _need_reference(state, "ref_q")
    return np.exp(-scale * np.sum((state.q - state.ref_q) ** 2, axis=1))


@reward_term("track_velocity", "How close the joint velocities are to the reference's: exp(-scale x sum of squared "
             "errors)", params=[_scale_param(0.1, "joint velocity error (rad/s)")])
def track_velocity(state: RewardState, scale: float) -> np.ndarray:
    _need_reference(state, "ref_qdot", "qdot")
    return np.exp(-scale * np.sum((state.qdot - state.ref_qdot) ** 2, axis=1))


@reward_term("track_end", "How close the end effectors (feet, hands, head) are to the reference's, measured from "
             "the root: exp(-scale x sum of squared distances in sizes)", params=[_scale_param(40.0, "end-effector distance (sizes)")])
def track_end(state: RewardState, scale: float) -> np.ndarray:
    _need_reference(state, "ref_points", "track_points")
    d = state.track_points - state.ref_points
    return np.exp(-scale * np.einsum("nek,nek->n", d, d))


@reward_term("track_root", "How close the root is to the reference's root: exp(-scale x squared distance in sizes)",
             params=[_scale_param(10.0, "root distance (sizes)")])
def track_root(state: RewardState, scale: float) -> np.ndarray:
    _need_reference(state, "ref_root", "root")
    d = state.root - state.ref_root
    return np.exp(-scale * np.einsum("nk,nk->n", d, d))


@reward_term("track_root_velocity", "How close the root's velocity is to the reference root's: exp(-scale x squared "
             "difference in sizes/s); unlike track_root it does not fade once the creature falls behind",
             params=[_scale_param(2.0, "root velocity error (sizes/s)")])
def track_root_velocity(state: RewardState, scale: float) -> np.ndarray:
    _need_reference(state, "ref_root_vel", "root_vel")
    d = state.root_vel - state.ref_root_vel
    return np.exp(-scale * np.einsum("nk,nk->n", d, d))


__all__ = ["PhysicsRewardState"]
