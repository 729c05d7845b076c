"""Batched rotation and matrix helpers that reproduce Blender's math (no bpy).

Matrices follow the mathematical convention (``M[..., :3, 3]`` is the
translation, columns are the axes), as ``mathutils.Matrix`` prints them. Each
helper mirrors the Blender C function named in its docstring, so the twin
evaluates a pose the way Blender does.
"""

from __future__ import annotations

import numpy as np

EULER_ORDERS = ("XYZ", "XZY", "YXZ", "YZX", "ZXY", "ZYX")


def _axis_rotation(axis: str, angle: np.ndarray) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    one, zero = np.ones_like(angle), np.zeros_like(angle)
    if axis == "X":
        rows = ((one, zero, zero), (zero, c, -s), (zero, s, c))
    elif axis == "Y":
        rows = ((c, zero, s), (zero, one, zero), (-s, zero, c))
    else:
        rows = ((c, -s, zero), (s, c, zero), (zero, zero, one))
    return np.stack([np.stack(r, axis=-1) for r in rows], axis=-2)


def euler_to_matrix(angles: np.ndarray, order: str = "XYZ") -> np.ndarray:
    """(..., 3) Euler angles (x, y, z) in radians -> (..., 3, 3); Blender's ``eulO_to_mat3``.

    Blender's order "XYZ" applies X first: ``R = Rz @ Ry @ Rx``.
    """
    angles = np.asarray(angles, dtype=np.float64)
    index = {"X": 0, "Y": 1, "Z": 2}
    out = None
    for axis in order:  # the first axis of the order is applied first (rightmost)
        r = _axis_rotation(axis, angles[..., index[axis]])
        out = r if out is None else r @ out
    return out


def euler_xyz_to_matrix(angles: np.ndarray) -> np.ndarray:
    """Fast path of :func:`euler_to_matrix` for the XYZ order used by the policy's joints."""
    c, s = np.cos(angles), np.sin(angles)
    cx, cy, cz = c[..., 0], c[..., 1], c[..., 2]
    sx, sy, sz = s[..., 0], s[..., 1], s[..., 2]
    sxsy, cxsy = sx * sy, cx * sy
    out = np.empty(angles.shape[:-1] + (3, 3), dtype=angles.dtype)
    out[..., 0, 0] = cy * cz
    out[..., 0, 1] = sxsy * cz - cx * sz
    out[..., 0, 2] = cxsy * cz + sx * sz
    out[..., 1, 0] = cy * sz
    out[..., 1, 1] = sxsy * sz + cx * cz
    out[..., 1, 2] = cxsy * sz - sx * cz
    out[..., 2, 0] = -sy
    out[..., 2, 1] = sx * cy
    out[..., 2, 2] = cx * cy
    return out


def matrix_to_euler(m: np.ndarray, order: str = "XYZ") -> np.ndarray:
    """(..., 3, 3) rotation -> (..., 3) Euler angles (x, y, z) for ``order`` (one of two solutions).

    Round-trips with :func:`euler_to_matrix` away from gimbal lock.
    """
    m = np.asarray(m, dtype=np.float64)
    i, j, k = ("XYZ".index(order[0]), "XYZ".index(order[1]), "XYZ".index(order[2]))
    parity = 1.0 if (j - i) % 3 == 1 else -1.0  # even permutation of XYZ
    # R = R_k R_j R_i; work in the rotated frame where the order is x, y, z
    sy = -parity * m[..., k, i]
    a_j = np.arcsin(np.clip(sy, -1.0, 1.0))
    a_i = np.arctan2(parity * m[..., k, j], m[..., k, k])
    a_k = np.arctan2(parity * m[..., j, i], m[..., i, i])
    out = np.empty(m.shape[:-2] + (3,))
    out[..., i], out[..., j], out[..., k] = a_i, a_j, a_k
    return out


def quaternion_to_matrix(q: np.ndarray) -> np.ndarray:
    """(..., 4) quaternion (w, x, y, z), normalised first like Blender -> (..., 3, 3)."""
    q = np.asarray(q, dtype=np.float64)
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    w, x, y, z = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    out = np.empty(q.shape[:-1] + (3, 3))
    out[..., 0, 0] = 1 - 2 * (y * y + z * z)
    out[..., 0, 1] = 2 * (x * y - w * z)
    out[..., 0, 2] = 2 * (x * z + w * y)
    out[..., 1, 0] = 2 * (x * y + w * z)
    out[..., 1, 1] = 1 - 2 * (x * x + z * z)
    out[..., 1, 2] = 2 * (y * z - w * x)
    out[..., 2, 0] = 2 * (x * z - w * y)
    out[..., 2, 1] = 2 * (y * z + w * x)
    out[..., 2, 2] = 1 - 2 * (x * x + y * y)
    return out


def matrix_to_quaternion(m: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotation -> (..., 4) unit quaternion (w, x, y, z) with w >= 0."""
    m = np.asarray(m, dtype=np.float64)
    tr = m[..., 0, 0] + m[..., 1, 1] + m[..., 2, 2]
    cands = np.stack([
        np.stack([1 + tr, m[..., 2, 1] - m[..., 1, 2], m[..., 0, 2] - m[..., 2, 0], m[..., 1, 0] - m[..., 0, 1]], -1),
        np.stack([m[..., 2, 1] - m[..., 1, 2], 1 + m[..., 0, 0] - m[..., 1, 1] - m[..., 2, 2],
                  m[..., 0, 1] + m[..., 1, 0], m[..., 0, 2] + m[..., 2, 0]], -1),
        np.stack([m[..., 0, 2] - m[..., 2, 0], m[..., 0, 1] + m[..., 1, 0],
                  1 - m[..., 0, 0] + m[..., 1, 1] - m[..., 2, 2], m[..., 1, 2] + m[..., 2, 1]], -1),
        np.stack([m[..., 1, 0] - m[..., 0, 1], m[..., 0, 2] + m[..., 2, 0], m[..., 1, 2] + m[..., 2, 1],
                  1 - m[..., 0, 0] - m[..., 1, 1] + m[..., 2, 2]], -1),
    ], axis=-2)
    diag = np.stack([tr, m[..., 0, 0], m[..., 1, 1], m[..., 2, 2]], -1)
    best = np.argmax(diag, axis=-1)
    q = np.take_along_axis(cands, best[..., None, None], axis=-2)[..., 0, :]
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    return q * np.where(q[..., :1] < 0, -1.0, 1.0)


def axis_angle_to_matrix(axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """(..., 3) axis (normalised here), (...) angle -> (..., 3, 3)."""
    axis = np.asarray(axis, dtype=np.float64)
    axis = axis / np.linalg.norm(axis, axis=-1, keepdims=True)
    half = np.asarray(angle, dtype=np.float64)[..., None] / 2
    return quaternion_to_matrix(np.concatenate([np.cos(half), axis * np.sin(half)], -1))


def slerp(qa: np.ndarray, qb: np.ndarray, t: float) -> np.ndarray:
    """Blender's ``interp_qt_qtqt``: shortest-path spherical interpolation of (..., 4) quaternions."""
    cos = np.sum(qa * qb, axis=-1, keepdims=True)
    qb = np.where(cos < 0, -qb, qb)
    cos = np.abs(cos)
    angle = np.arccos(np.clip(cos, -1.0, 1.0))
    sin = np.sin(angle)
    small = sin < 1e-4
    wa = np.where(small, 1 - t, np.sin((1 - t) * angle) / np.where(small, 1, sin))
    wb = np.where(small, t, np.sin(t * angle) / np.where(small, 1, sin))
    return wa * qa + wb * qb


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


def rotation_values(m: np.ndarray, mode: str) -> np.ndarray:
    """(..., 3, 3) rotation -> the channel values of a bone in ``mode``.

    QUATERNION: (..., 4) w, x, y, z; AXIS_ANGLE: (..., 4) angle, x, y, z; an Euler
    order: (..., 3) x, y, z angles.
    """
    if mode == "QUATERNION":
        return matrix_to_quaternion(m)
    if mode == "AXIS_ANGLE":
        q = matrix_to_quaternion(m)
        sin_half = np.linalg.norm(q[..., 1:], axis=-1, keepdims=True)
        angle = 2 * np.arctan2(sin_half, q[..., :1])
        axis = np.where(sin_half > 1e-12, q[..., 1:] / np.where(sin_half > 1e-12, sin_half, 1), [0.0, 1.0, 0.0])
        return np.concatenate([angle, axis], axis=-1)
    return matrix_to_euler(m, mode)


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
