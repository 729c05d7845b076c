"""Constraints the twin evaluates beyond the copy/track family of ``envs.kinematic.twin`` (no bpy).

Each function mirrors the ``*_evaluate`` function of Blender's ``constraint.cc`` that its
docstring names, on batched ``(n, 4, 4)`` owner matrices already in the constraint's owner
space. ``params`` is the plain dict the extraction stores in ``ConstraintSpec.params``.

- Copy Rotation with any subset of axes, inverted axes, any Euler order and every mix mode
  (Replace, Add, Before, After and the legacy Offset): Rigify's palm and foot-roll bones;
- Limit Rotation in any space and Euler order, on any subset of axes, with the cyclic clamp
  of Blender 4.2+ (or the legacy one);
- Limit Location and Limit Scale.
"""

from __future__ import annotations

import numpy as np

from .. import kinematics as km

TARGETLESS = frozenset({"LIMIT_ROTATION", "LIMIT_LOCATION", "LIMIT_SCALE"})
MULTI_TARGET = frozenset({"ARMATURE"})


def _rotate_euler(eul: np.ndarray, order: str, axis: int, angle: np.ndarray) -> np.ndarray:
    """``rotate_eulO``: ``eul`` turned by ``angle`` about one of its own axes."""
    e = np.zeros_like(eul)
    e[..., axis] = angle
    total = km.euler_to_matrix(eul, order) @ km.euler_to_matrix(e, order)
    return km.matrix_to_euler_blender(total, order)


def copy_rotation(owner: np.ndarray, target: np.ndarray, params: dict) -> np.ndarray:
    """``rotlike_evaluate``."""
    order = params.get("order", "XYZ")
    use = params.get("use", [True, True, True])
    invert = params.get("invert", [False, False, False])
    mix = params.get("mix_mode", "REPLACE")
    loc = owner[..., :3, 3]
    oldrot, size = km.rot_size(owner)
    obeul = km.matrix_to_euler_blender(owner, order)
    tmat = km.orthogonalize_stable_y(target, True)
    eul = km.matrix_to_compatible_euler(tmat, obeul, order)
    legacy = mix == "OFFSET"
    defeul = obeul if mix in ("OFFSET", "REPLACE") else np.zeros_like(obeul)
    for a in range(3):
        if not use[a]:
            eul[..., a] = defeul[..., a]
            continue
        if legacy:
            eul = _rotate_euler(eul, order, a, obeul[..., a])
        if invert[a]:
            eul[..., a] = -eul[..., a]
    if mix == "ADD":
        eul = eul + obeul
    eul = km.compatible_euler(eul, obeul)
    newrot = km.euler_to_matrix(eul, order)
    if mix == "BEFORE":
        newrot = newrot @ oldrot
    elif mix == "AFTER":
        newrot = oldrot @ newrot
    out = owner.copy()
    out[..., :3, :3] = newrot * size[..., None, :]
    out[..., :3, 3] = loc
    return out


def _wrap(angle: np.ndarray) -> np.ndarray:
    b = angle * (0.5 / np.pi) + 0.5
    return ((b - np.floor(b)) - 0.5) * (2.0 * np.pi)


def clamp_angle(angle: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """``clamp_angle``: clamp on the circle to the directed range lo..hi."""
    if hi - lo >= 2 * np.pi:
        return angle
    if hi <= lo:
        return np.full_like(angle, lo)
    mn, mx = _wrap(lo - angle), _wrap(hi - angle)
    simple = mn < mx
    out_simple = angle + np.clip(0.0, mn, mx)
    inside = (mx >= 0.0) | (mn <= 0.0)
    nearest = np.where(np.abs(mx) < np.abs(mn), angle + mx, angle + mn)
    return np.where(simple, out_simple, np.where(inside, angle, nearest))


def limit_rotation(owner: np.ndarray, _target, params: dict) -> np.ndarray:
    """``rotlimit_evaluate``: shear removed around Y, then each limited Euler angle clamped."""
    m = km.orthogonalize_stable_y(owner, False)
    use = params.get("use", [False, False, False])
    if not any(use):
        return m
    order = params.get("order", "XYZ")
    size = km.axis_lengths(m)
    eul = km.matrix_to_euler_blender(m, order)
    for a in range(3):
        if use[a]:
            lo, hi = params["min"][a], params["max"][a]
            eul[..., a] = np.clip(eul[..., a], lo, hi) if params.get("legacy") else clamp_angle(eul[..., a], lo, hi)
    out = m.copy()
    out[..., :3, :3] = km.euler_to_matrix(eul, order) * size[..., None, :]
    return out


def limit_location(owner: np.ndarray, _target, params: dict) -> np.ndarray:
    """``loclimit_evaluate``."""
    out = owner.copy()
    for a in range(3):
        if params["use_min"][a]:
            out[..., a, 3] = np.maximum(out[..., a, 3], params["min"][a])
        if params["use_max"][a]:
            out[..., a, 3] = np.minimum(out[..., a, 3], params["max"][a])
    return out


def limit_scale(owner: np.ndarray, _target, params: dict) -> np.ndarray:
    """``sizelimit_evaluate``."""
    out = owner.copy()
    size = km.axis_lengths(owner)
    new = size.copy()
    for a in range(3):
        if params["use_min"][a]:
            new[..., a] = np.maximum(new[..., a], params["min"][a])
        if params["use_max"][a]:
            new[..., a] = np.minimum(new[..., a], params["max"][a])
    factor = np.where(size != 0, new / np.where(size != 0, size, 1.0), 1.0)
    out[..., :3, :3] = owner[..., :3, :3] * factor[..., None, :]
    return out


def armature(owner: np.ndarray, deform_sum: np.ndarray, params: dict) -> np.ndarray:
    """``armdef_evaluate`` (linear blend): the weighted mean of the targets' world deform matrices, applied.

    ``deform_sum`` is that mean (``envs.kinematic.twin.RigTwin`` computes it from the targets' poses)."""
    if deform_sum is None:
        return owner
    return deform_sum @ owner


EVALUATE = {
    "ARMATURE": armature,
    "COPY_ROTATION": copy_rotation,
    "LIMIT_ROTATION": limit_rotation,
    "LIMIT_LOCATION": limit_location,
    "LIMIT_SCALE": limit_scale,
}
