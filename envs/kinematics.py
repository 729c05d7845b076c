"""Batched matrix helpers that reproduce Blender's math (no bpy); rotations are ``envs.rotations``.

Matrices follow the mathematical convention (``M[..., :3, 3]`` is the
translation, columns are the axes), as ``mathutils.Matrix`` prints them. Each
helper mirrors the Blender C function named in its docstring, so the twin
evaluates a pose the way Blender does.
"""

from __future__ import annotations

import numpy as np

from .rotations import (  # noqa: F401  (re-exported: the twin and the edge use them as km.*)
    EULER_ORDERS,
    axis_angle_to_matrix,
    compatible_euler,
    euler_to_matrix,
    euler_xyz_to_matrix,
    matrix_to_compatible_euler,
    matrix_to_euler,
    matrix_to_euler_blender,
    matrix_to_quaternion,
    normalize_columns,
    quaternion_to_matrix,
    rotation_values,
    slerp,
)


def polar_decompose(m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(..., 3, 3) -> (U, P) with M = U P; Blender's ``mat3_polar_decompose``."""
    w, s, vt = np.linalg.svd(m)
    u = w @ vt
    p = np.swapaxes(vt, -1, -2) @ (s[..., :, None] * vt)
    return u, p


def interp_matrix(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """Blender's ``interp_m4_m4m4`` (constraint influence): slerp the rotation, lerp scale and location."""
    a3, b3 = a[..., :3, :3], b[..., :3, :3]
    ua, pa = polar_decompose(a3)
    ub, pb = polar_decompose(b3)
    for u, p in ((ua, pa), (ub, pb)):
        flip = np.linalg.det(u) < 0
        u[flip] *= -1
        p[flip] *= -1
    q = slerp(matrix_to_quaternion(ua), matrix_to_quaternion(ub), t)
    out = np.broadcast_to(np.eye(4), np.broadcast_shapes(a.shape, b.shape)).copy()
    out[..., :3, :3] = quaternion_to_matrix(q) @ (pa + (pb - pa) * t)
    out[..., :3, 3] = a[..., :3, 3] + (b[..., :3, 3] - a[..., :3, 3]) * t
    return out


def axis_lengths(m: np.ndarray) -> np.ndarray:
    """Blender's ``mat4_to_size``: the lengths of the three axis columns."""
    return np.linalg.norm(m[..., :3, :3], axis=-2)


def volume_scale(m: np.ndarray) -> np.ndarray:
    """Blender's ``mat4_to_volume_scale``: the determinant of the 3x3 part."""
    return np.linalg.det(m[..., :3, :3])


def size_fix_shear(m: np.ndarray) -> np.ndarray:
    """Blender's ``mat4_to_size_fix_shear``."""
    size = axis_lengths(m)
    volume = np.prod(size, axis=-1, keepdims=True)
    safe = np.where(volume != 0, volume, 1.0)
    factor = np.where(volume != 0, np.cbrt(np.abs(volume_scale(m)[..., None] / safe)), 1.0)
    return size * factor


def orthogonalize_stable_y(m: np.ndarray, normalize: bool) -> np.ndarray:
    """Blender's ``orthogonalize_m4_stable(m, 1, normalize)``: keep Y, square X and Z around it."""
    m = m.copy()
    v1, v2, v3 = m[..., :3, 1].copy(), m[..., :3, 0].copy(), m[..., :3, 2].copy()
    len_sq = np.sum(v1 * v1, axis=-1, keepdims=True)
    ok = len_sq > 0
    safe = np.where(ok, len_sq, 1.0)
    v2 = np.where(ok, v2 - v1 * (np.sum(v2 * v1, -1, keepdims=True) / safe), v2)
    v3 = np.where(ok, v3 - v1 * (np.sum(v3 * v1, -1, keepdims=True) / safe), v3)
    if normalize:
        v1 = np.where(ok, v1 / np.sqrt(safe), v1)
    len2 = np.linalg.norm(v2, axis=-1, keepdims=True)
    len3 = np.linalg.norm(v3, axis=-1, keepdims=True)
    n2 = v2 / np.where(len2 > 0, len2, 1.0)
    n3 = v3 / np.where(len3 > 0, len3, 1.0)
    cos = np.sum(n2 * n3, -1, keepdims=True)
    fix = (np.abs(cos) > 1e-4) & (np.abs(cos) < 1.0 - np.finfo(np.float32).eps)
    if np.any(fix):
        angle = np.arccos(np.clip(cos, -1, 1))
        target = angle + (np.pi / 2 - angle) / 2
        m2 = n2 - n3 * cos
        m2 = m2 * (np.sin(target) / np.maximum(np.linalg.norm(m2, axis=-1, keepdims=True), 1e-30))
        m2 = m2 + n3 * np.cos(target)
        m3 = np.cross(np.cross(m2, n3), m2)
        m3 = m3 / np.linalg.norm(m3, axis=-1, keepdims=True)
        scale = np.sqrt(np.sin(angle))
        n2 = np.where(fix, m2, n2)
        n3 = np.where(fix, m3, n3)
        if not normalize:
            v2 = np.where(fix, m2 * len2 * scale, v2)
            v3 = np.where(fix, m3 * len3 * scale, v3)
    if normalize:
        v2, v3 = n2, n3
    m[..., :3, 1], m[..., :3, 0], m[..., :3, 2] = v1, v2, v3
    return m


def normalize_axes(m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Blender's ``normalize_m4_ex``: unit axis columns, and their former lengths."""
    m = m.copy()
    size = axis_lengths(m)
    m[..., :3, :3] /= np.where(size != 0, size, 1.0)[..., None, :]
    return m, size


def compose(loc: np.ndarray, rot3: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """T(loc) @ R @ S as (..., 4, 4)."""
    shape = np.broadcast_shapes(loc.shape[:-1], rot3.shape[:-2], scale.shape[:-1])
    out = np.zeros(shape + (4, 4))
    out[..., :3, :3] = rot3 * scale[..., None, :]
    out[..., :3, 3] = loc
    out[..., 3, 3] = 1.0
    return out


def rotation_error_degrees(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angle in degrees between the orientations of (..., 4, 4) or (..., 3, 3) matrices (scale ignored)."""
    ra, _ = normalize_axes(_as4(a))
    rb, _ = normalize_axes(_as4(b))
    rel = np.swapaxes(ra[..., :3, :3], -1, -2) @ rb[..., :3, :3]
    cos = (np.trace(rel, axis1=-2, axis2=-1) - 1) / 2
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def _as4(m: np.ndarray) -> np.ndarray:
    if m.shape[-1] == 4:
        return m
    out = np.zeros(m.shape[:-2] + (4, 4))
    out[..., :3, :3] = m
    out[..., 3, 3] = 1
    return out


def rot_size(m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``mat3_to_rot_size``: unit axes and their lengths; a negative basis is negated (sizes too)."""
    size = np.linalg.norm(m[..., :3, :3], axis=-2)
    rot = m[..., :3, :3] / np.where(size > 0, size, 1.0)[..., None, :]
    neg = np.linalg.det(rot) < 0
    return np.where(neg[..., None, None], -rot, rot), np.where(neg[..., None], -size, size)


def affine_inverse(m: np.ndarray) -> np.ndarray:
    """Inverse of (..., 4, 4) affine matrices (last row 0, 0, 0, 1) by the adjugate: ~50x faster than
    ``np.linalg.inv`` on batches of small matrices."""
    a = m[..., :3, :3]
    c0 = np.cross(a[..., :, 1], a[..., :, 2])
    c1 = np.cross(a[..., :, 2], a[..., :, 0])
    c2 = np.cross(a[..., :, 0], a[..., :, 1])
    det = np.sum(a[..., :, 0] * c0, axis=-1)
    inv3 = np.stack([c0, c1, c2], axis=-2) / det[..., None, None]
    out = np.zeros(np.shape(m))
    out[..., :3, :3] = inv3
    out[..., :3, 3] = -np.einsum("...ij,...j->...i", inv3, m[..., :3, 3])
    out[..., 3, 3] = 1.0
    return out


def inverse3(a: np.ndarray) -> np.ndarray:
    """Inverse of (..., 3, 3) matrices by the adjugate."""
    c0 = np.cross(a[..., :, 1], a[..., :, 2])
    c1 = np.cross(a[..., :, 2], a[..., :, 0])
    c2 = np.cross(a[..., :, 0], a[..., :, 1])
    det = np.sum(a[..., :, 0] * c0, axis=-1)
    return np.stack([c0, c1, c2], axis=-2) / det[..., None, None]
