"""The built-in reward terms: one function each, registered by its decorator.

Every term reads batched arrays from :class:`RewardState` and returns a float
array of shape ``(n_envs,)``. Higher is better; penalties return values <= 0.
No loop over environments.
"""

from __future__ import annotations

import numpy as np

from ..errors import RigDojoError
from .registry import Param, reward_term
from .state import RewardState

AXES = ("X", "Y", "Z", "-X", "-Y", "-Z")
_AXIS_INDEX = {"X": 0, "Y": 1, "Z": 2}

# Rows of distances computed at once against mesh points; bounds the (rows, P) temporary.
_MESH_CHUNK_ELEMENTS = 1 << 22


def _axis(axes: np.ndarray, name: str) -> np.ndarray:
    """World direction ``(n, 3)`` of a bone's local axis ``name`` from ``(n, 3, 3)`` column axes."""
    column = axes[:, :, _AXIS_INDEX[name[-1]]]
    return -column if name.startswith("-") else column


def _cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine of the angle between rows of ``a`` and ``b``; 0 where either is zero."""
    dot = np.einsum("ij,ij->i", a, b)
    norms = np.sqrt(np.einsum("ij,ij->i", a, a) * np.einsum("ij,ij->i", b, b))
    with np.errstate(invalid="ignore", divide="ignore"):
        c = np.where(norms > 1e-12, dot / norms, 0.0)
    return np.clip(c, -1.0, 1.0)


def _sq_norm(x: np.ndarray) -> np.ndarray:
    return np.einsum("ij,ij->i", x, x)


def _effector_distance(state: RewardState) -> np.ndarray:
    d = state.effector_pos - state.target_pos
    return np.sqrt(_sq_norm(d))


# the length kernel's scale, shared by the terms that reward closing a distance (distance, grasp_contact)
LENGTH_SCALE = Param("scale", "float", 0.1, min=1e-6, max=100.0,
                     description="Length (rig units) over which the exp reward falls to 1/e")


def _length_reward(d: np.ndarray, shape: str, scale: float) -> np.ndarray:
    """``-d`` (linear) or ``exp(-d / scale)`` (exp), element-wise."""
    return np.exp(-d / scale) if shape == "exp" else -d


# --- reaching --------------------------------------------------------------------------


@reward_term(
    "distance",
    "Reward for bringing the effector close to the target",
    requires=("effector_pos", "target_pos"),
    params=[
        Param("shape", "choice", "linear", choices=("linear", "exp"),
              description="linear: -distance; exp: exp(-distance / scale), in (0, 1]"),
        LENGTH_SCALE,
    ],
)
def distance(state: RewardState, shape: str, scale: float) -> np.ndarray:
    return _length_reward(_effector_distance(state), shape, scale)


@reward_term(
    "success_bonus",
    "1 while the effector is within tolerance of the target",
    requires=("effector_pos", "target_pos"),
    params=[Param("tolerance", "float", 0.02, min=0.0, max=10.0,
                  description="Distance (rig units) that counts as reached")],
)
def success_bonus(state: RewardState, tolerance: float) -> np.ndarray:
    return (_effector_distance(state) < tolerance).astype(np.float64)


@reward_term("time_penalty", "-1 every step, to finish sooner", penalty=True)
def time_penalty(state: RewardState) -> np.ndarray:
    return np.full(state.n_envs, -1.0)


# --- smoothness (finite differences of the joint history) -----------------------------


@reward_term(
    "joint_velocity",
    "Penalty on squared joint speed (rad/s)",
    requires=("q", "q_prev"),
    penalty=True,
)
def joint_velocity(state: RewardState) -> np.ndarray:
    v = (state.q - state.q_prev) / state.dt
    return -_sq_norm(v)


@reward_term(
    "joint_acceleration",
    "Penalty on squared joint acceleration (rad/s^2)",
    requires=("q", "q_prev", "q_prev2"),
    penalty=True,
)
def joint_acceleration(state: RewardState) -> np.ndarray:
    a = (state.q - 2.0 * state.q_prev + state.q_prev2) / state.dt**2
    return -_sq_norm(a)


@reward_term(
    "joint_jerk",
    "Penalty on squared joint jerk (rad/s^3); use a tiny weight",
    requires=("q", "q_prev", "q_prev2", "q_prev3"),
    penalty=True,
)
def joint_jerk(state: RewardState) -> np.ndarray:
    j = (state.q - 3.0 * state.q_prev + 3.0 * state.q_prev2 - state.q_prev3) / state.dt**3
    return -_sq_norm(j)


@reward_term(
    "joint_limits",
    "Penalty growing quadratically as joints come within margin of their limits and beyond",
    requires=("q", "q_low", "q_high"),
    params=[Param("margin", "float", 0.1, min=0.0, max=3.15,
                  description="Radians inside each limit where the penalty starts")],
    penalty=True,
)
def joint_limits(state: RewardState, margin: float) -> np.ndarray:
    # free joints have infinite limits: their overshoot is max(0, -inf) = 0
    below = np.maximum(0.0, (state.q_low + margin) - state.q)
    above = np.maximum(0.0, state.q - (state.q_high - margin))
    return -(_sq_norm(below) + _sq_norm(above))


@reward_term("effort", "Penalty on the squared size of the action", requires=("action",), penalty=True)
def effort(state: RewardState) -> np.ndarray:
    return -_sq_norm(state.action)


@reward_term(
    "rest_pose",
    "Penalty on squared distance (rad) of the joints from the rest pose",
    requires=("q", "q_rest"),
    penalty=True,
)
def rest_pose(state: RewardState) -> np.ndarray:
    return -_sq_norm(state.q - state.q_rest)


# --- aiming ----------------------------------------------------------------------------


@reward_term(
    "orientation",
    "Cosine of the angle between an effector axis and a target axis",
    requires=("effector_axes", "target_axes"),
    params=[
        Param("effector_axis", "choice", "Y", choices=AXES,
              description="Effector bone axis (Blender bones point along Y)"),
        Param("target_axis", "choice", "Y", choices=AXES, description="Target axis it should match"),
    ],
)
def orientation(state: RewardState, effector_axis: str, target_axis: str) -> np.ndarray:
    return _cos(_axis(state.effector_axes, effector_axis), _axis(state.target_axes, target_axis))


@reward_term(
    "look_at",
    "Reward for pointing the aiming axis at the look target",
    requires=("look_axis_pos", "look_axis_dir", "look_target"),
    params=[
        Param("shape", "choice", "cosine", choices=("cosine", "angle", "exp"),
              description="cosine: cos of the angle (flat near the target); angle: minus the angle (radians); "
                          "exp: exp(-angle / scale), in (0, 1]"),
        Param("scale", "float", 0.05, min=1e-6, max=3.15,
              description="Angle (radians) over which the exp reward falls to 1/e"),
    ],
)
def look_at(state: RewardState, shape: str, scale: float) -> np.ndarray:
    cos = _cos(state.look_axis_dir, state.look_target - state.look_axis_pos)
    if shape == "cosine":
        return cos
    angle = np.arccos(cos)
    return -angle if shape == "angle" else np.exp(-angle / scale)


# --- grasping --------------------------------------------------------------------------


@reward_term(
    "grasp_contact",
    "Reward for bringing each fingertip onto its contact point on the object",
    requires=("fingertip_pos", "contact_points"),
    params=[
        Param("shape", "choice", "linear", choices=("linear", "exp"),
              description="linear: minus the mean distance; exp: the mean of exp(-distance / scale), in (0, 1]"),
        LENGTH_SCALE,
    ],
)
def grasp_contact(state: RewardState, shape: str, scale: float) -> np.ndarray:
    gap = state.fingertip_pos - state.contact_points
    return _length_reward(np.sqrt(np.einsum("nkc,nkc->nk", gap, gap)), shape, scale).mean(axis=1)


@reward_term(
    "palm_orientation",
    "Cosine of the angle between the palm normal and the direction the palm should face",
    requires=("palm_axes", "palm_target_normal"),
    params=[Param("palm_axis", "choice", "-Z", choices=AXES,
                  description="Palm bone axis that points out of the palm (depends on the bone roll)")],
)
def palm_orientation(state: RewardState, palm_axis: str) -> np.ndarray:
    return _cos(_axis(state.palm_axes, palm_axis), state.palm_target_normal)


# --- obstacles -------------------------------------------------------------------------


def _per_env(arr: np.ndarray, shared_ndim: int) -> np.ndarray:
    """Obstacle array with a leading env axis (size 1 when shared by all envs)."""
    return arr[None] if arr.ndim == shared_ndim else arr


def _min_last(x: np.ndarray) -> np.ndarray:
    """``x.min(axis=-1)``; for a short last axis an explicit loop is ~20x faster in numpy."""
    if x.shape[-1] > 16:
        return x.min(axis=-1)
    out = x[..., 0].copy()
    for i in range(1, x.shape[-1]):
        np.minimum(out, x[..., i], out=out)
    return out


def _sphere_distance(p: np.ndarray, spheres: np.ndarray) -> np.ndarray:
    """Signed distance ``(n, T)`` from points ``(n, T, 3)`` to the nearest sphere."""
    s = _per_env(np.asarray(spheres, dtype=np.float64), 2)  # (n|1, M, 4)
    diff = p[:, :, None, :] - s[:, None, :, :3]
    return _min_last(np.sqrt(np.einsum("ntmc,ntmc->ntm", diff, diff)) - s[:, None, :, 3])


def _box_distance(p: np.ndarray, centers: np.ndarray, half: np.ndarray, rot: np.ndarray) -> np.ndarray:
    """Signed distance ``(n, T)`` from points ``(n, T, 3)`` to the nearest oriented box."""
    c = _per_env(np.asarray(centers, dtype=np.float64), 2)  # (n|1, B, 3)
    h = _per_env(np.asarray(half, dtype=np.float64), 2)
    r = _per_env(np.asarray(rot, dtype=np.float64), 3)  # (n|1, B, 3, 3), columns = box axes
    k, b = r.shape[:2]
    # local = R^T (p - c) for every box at once: one matmul against the boxes' axes side by side
    axes_side_by_side = r.transpose(0, 2, 1, 3).reshape(k, 3, 3 * b)
    if k == 1:  # shared boxes: one 2-D product is much faster than a broadcast batch
        local = (p.reshape(-1, 3) @ axes_side_by_side[0]).reshape(p.shape[0], p.shape[1], b, 3)
    else:
        local = np.matmul(p, axes_side_by_side).reshape(p.shape[0], p.shape[1], b, 3)
    local -= np.einsum("kbi,kbij->kbj", c, r)[:, None]
    over = np.abs(local, out=local)
    over -= h[:, None]
    # max over the 3 axes spelled out: a reduction over a length-3 axis is slow in numpy
    inside = np.minimum(np.maximum(np.maximum(over[..., 0], over[..., 1]), over[..., 2]), 0.0)
    np.maximum(over, 0.0, out=over)
    outside = np.sqrt(np.einsum("ntbc,ntbc->ntb", over, over))
    return _min_last(outside + inside)


def _mesh_distance(p: np.ndarray, points: np.ndarray, reach: float = np.inf) -> np.ndarray:
    """Distance ``(n, T)`` from points ``(n, T, 3)`` to the nearest sampled mesh point (unsigned).

    Exact where the distance is below ``reach``; elsewhere it may return a lower bound
    that is itself >= ``reach`` (points shared by all envs are culled against their
    bounding sphere, so bones far from the mesh cost nothing).
    """
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim == 2:
        centre = 0.5 * (pts.max(axis=0) + pts.min(axis=0))
        x = pts - centre
        radius = np.sqrt(np.einsum("pc,pc->p", x, x).max())
        rows = p.reshape(-1, 3) - centre
        out = np.sqrt(np.einsum("rc,rc->r", rows, rows)) - radius  # lower bound
        near = np.flatnonzero(out < reach)
        if near.size:
            out[near] = _nearest_point_distance(rows[near][None], x[None])[0]
        return out.reshape(p.shape[:2])
    centre = 0.5 * (pts.max(axis=1) + pts.min(axis=1))[:, None]  # per env
    return _nearest_point_distance(p - centre, pts - centre)


def _nearest_point_distance(rows: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``(k, R)`` distance from ``rows (k, R, 3)`` to the nearest of ``x (k, P, 3)``.

    The nearest point is picked in float32 with one matmul (|x|^2 - 2 r.x, the |r|^2
    term does not change the argmin), then the distance to it is recomputed in float64.
    Inputs are centred on the points by the caller, which keeps float32 accurate.
    """
    k, r = rows.shape[:2]
    n_pts = x.shape[1]
    x_aug = np.concatenate([-2.0 * x, np.einsum("kpc,kpc->kp", x, x)[..., None]], axis=2)
    x_aug = x_aug.astype(np.float32).transpose(0, 2, 1)  # (k, 4, P)
    r_aug = np.concatenate([rows, np.ones((k, r, 1))], axis=2).astype(np.float32)  # (k, R, 4)
    out = np.empty((k, r))
    if k == 1:  # points shared by all rows: chunk over rows
        step = max(1, _MESH_CHUNK_ELEMENTS // n_pts)
        for s in range(0, r, step):
            idx = (r_aug[0, s : s + step] @ x_aug[0]).argmin(axis=1)
            gap = rows[0, s : s + step] - x[0, idx]
            out[0, s : s + step] = np.sqrt(np.einsum("rc,rc->r", gap, gap))
        return out
    step = max(1, _MESH_CHUNK_ELEMENTS // (r * n_pts))
    for s in range(0, k, step):  # points per env: chunk over envs
        idx = np.matmul(r_aug[s : s + step], x_aug[s : s + step]).argmin(axis=2)  # (c, R)
        gap = rows[s : s + step] - np.take_along_axis(x[s : s + step], idx[..., None], axis=1)
        out[s : s + step] = np.sqrt(np.einsum("krc,krc->kr", gap, gap))
    return out


_OBSTACLE_FIELDS = ("sphere_obstacles", "box_centers", "box_half", "box_rot", "mesh_obstacle_points")


@reward_term(
    "keep_away",
    "Penalty by how far tracked bones come inside the clearance around obstacles",
    requires=("tracked_pos",),
    optional=_OBSTACLE_FIELDS,
    params=[Param("clearance", "float", 0.05, min=0.0, max=10.0,
                  description="Distance (rig units) to keep from every obstacle surface")],
    penalty=True,
)
def keep_away(state: RewardState, clearance: float) -> np.ndarray:
    # Per tracked bone, the signed distance to the nearest obstacle; the penalty is the
    # summed intrusion into the clearance, so a bone inside a sphere or box (negative
    # distance) costs more than one grazing it. Mesh points give unsigned distances.
    p = np.asarray(state.tracked_pos, dtype=np.float64)
    nearest = np.full(p.shape[:2], np.inf)
    found = False
    if state.sphere_obstacles is not None:
        found = True
        if np.shape(state.sphere_obstacles)[-2] > 0:
            nearest = np.minimum(nearest, _sphere_distance(p, state.sphere_obstacles))
    if state.box_centers is not None:
        found = True
        if state.box_half is None or state.box_rot is None:
            raise RigDojoError("keep_away: oriented boxes need box_centers, box_half and box_rot together")
        if np.shape(state.box_centers)[-2] > 0:
            nearest = np.minimum(nearest, _box_distance(p, state.box_centers, state.box_half, state.box_rot))
    if state.mesh_obstacle_points is not None:
        found = True
        if np.shape(state.mesh_obstacle_points)[-2] > 0:
            nearest = np.minimum(nearest, _mesh_distance(p, state.mesh_obstacle_points, reach=clearance))
    if not found:
        raise RigDojoError(
            "keep_away needs obstacles: give the reward state sphere_obstacles, "
            "box_centers/box_half/box_rot or mesh_obstacle_points (or disable the term)"
        )
    return -np.maximum(0.0, clearance - nearest).sum(axis=1)
