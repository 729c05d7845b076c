"""Rotations, batched and the way Blender computes them: the one rotation library (no bpy).

Conventions: quaternions are ``(w, x, y, z)``; Euler triples are angles about X, Y, Z in radians (the
layout of Blender's ``rotation_euler``) and ``order`` is Blender's ``rotation_mode``: ``"XYZ"`` applies X
first, so the matrix is ``Rz @ Ry @ Rx`` (``eulO_to_mat3``); axis-angle is ``(angle, x, y, z)`` like
``rotation_axis_angle``. Matrices are ``(..., 3, 3)`` with the axes as columns, as ``mathutils.Matrix``
prints them. ``quaternion_to_channels`` / ``channels_to_quaternion`` move between a bone's rotation
channels in any ``ROTATION_MODES`` and quaternions, keeping curves continuous over frames (axis 0).
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


ROTATION_MODES = ("QUATERNION", "AXIS_ANGLE", *EULER_ORDERS)


_AXIS = {"X": 0, "Y": 1, "Z": 2}


def quaternion_multiply(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product ``a ⊗ b`` over the last axis (``w, x, y, z``)."""
    aw, ax, ay, az = np.moveaxis(np.asarray(a, dtype=np.float64), -1, 0)
    bw, bx, by, bz = np.moveaxis(np.asarray(b, dtype=np.float64), -1, 0)
    return np.stack(
        (
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ),
        axis=-1,
    )


def _norm(v: np.ndarray) -> np.ndarray:
    return np.sqrt(np.einsum("...i,...i->...", v, v))


def normalize_quaternions(q: np.ndarray) -> np.ndarray:
    """Unit quaternions; a zero quaternion becomes the identity (as Blender evaluates it)."""
    q = np.asarray(q, dtype=np.float64)
    norm = _norm(q)[..., None]
    zero = norm <= 1e-12
    out = q / np.where(zero, 1.0, norm)
    if zero.any():
        out = np.where(zero, np.array([1.0, 0.0, 0.0, 0.0]), out)
    return out


def euler_to_quaternion(euler: np.ndarray, order: str = "XYZ") -> np.ndarray:
    """Euler angles ``(..., 3)`` about X, Y, Z (radians) in Blender's ``order`` → ``(..., 4)``."""
    euler = np.asarray(euler, dtype=np.float64)
    half = 0.5 * euler
    c, s = np.cos(half), np.sin(half)
    if order == "XYZ":  # the common case (and the bake's input), in closed form: qz ⊗ qy ⊗ qx
        cx, cy, cz = c[..., 0], c[..., 1], c[..., 2]
        sx, sy, sz = s[..., 0], s[..., 1], s[..., 2]
        cycz, sysz, cysz, sycz = cy * cz, sy * sz, cy * sz, sy * cz
        return np.stack((cx * cycz + sx * sysz, sx * cycz - cx * sysz, cx * sycz + sx * cysz, cx * cysz - sx * sycz), -1)
    if len(order) != 3 or set(order) != {"X", "Y", "Z"}:
        raise ValueError(f"unknown Euler order {order!r}; expected one of {', '.join(EULER_ORDERS)}")
    result = np.zeros(euler.shape[:-1] + (4,))
    result[..., 0] = 1.0
    for axis_name in order:  # first letter is applied first: q = q3 ⊗ q2 ⊗ q1
        axis = _AXIS[axis_name]
        q = np.zeros(euler.shape[:-1] + (4,))
        q[..., 0] = c[..., axis]
        q[..., 1 + axis] = s[..., axis]
        result = quaternion_multiply(q, result)
    return result


def axis_angle_to_quaternion(axis_angle: np.ndarray) -> np.ndarray:
    """``(angle, x, y, z)`` → quaternion; the axis is normalised, a zero axis gives the identity."""
    aa = np.asarray(axis_angle, dtype=np.float64)
    axis = aa[..., 1:]
    norm = np.linalg.norm(axis, axis=-1, keepdims=True)
    ok = norm > 1e-12
    unit = axis / np.where(ok, norm, 1.0)
    half = 0.5 * aa[..., :1]
    q = np.concatenate((np.cos(half), np.sin(half) * unit), axis=-1)
    ident = np.zeros_like(q)
    ident[..., 0] = 1.0
    return np.where(ok, q, ident)


def quaternion_to_matrix(q: np.ndarray) -> np.ndarray:
    """Unit quaternions ``(..., 4)`` → rotation matrices ``(..., 3, 3)``."""
    w, x, y, z = np.moveaxis(normalize_quaternions(q), -1, 0)
    return np.stack(
        (
            np.stack((1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)), axis=-1),
            np.stack((2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)), axis=-1),
            np.stack((2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)), axis=-1),
        ),
        axis=-2,
    )


def rotation_angle(q_a: np.ndarray, q_b: np.ndarray) -> np.ndarray:
    """Geodesic angle (radians, ``[0, π]``) between two rotations given as quaternions.

    ``4·atan2(|a − b|, |a + b|)`` of the unit quaternions, ``b`` sign-aligned
    to ``a``: accurate for tiny angles, where ``acos`` of a dot product is not,
    and blind to the ``q``/``-q`` sign.
    """
    a = normalize_quaternions(q_a)
    b = normalize_quaternions(q_b)
    b = b * np.where(np.einsum("...i,...i->...", a, b) < 0.0, -1.0, 1.0)[..., None]
    return 4.0 * np.arctan2(_norm(a - b), _norm(a + b))


def matrix_rotation_angle(m_a: np.ndarray, m_b: np.ndarray) -> np.ndarray:
    """Geodesic angle (radians) between rotation matrices ``(..., 3, 3)``, well conditioned near 0."""
    rel = np.swapaxes(np.asarray(m_a, dtype=np.float64), -1, -2) @ np.asarray(m_b, dtype=np.float64)
    skew = np.stack((rel[..., 2, 1] - rel[..., 1, 2], rel[..., 0, 2] - rel[..., 2, 0], rel[..., 1, 0] - rel[..., 0, 1]), -1)
    sin = 0.5 * np.linalg.norm(skew, axis=-1)
    cos = 0.5 * (np.trace(rel, axis1=-2, axis2=-1) - 1.0)
    return np.arctan2(sin, cos)


def continuous_quaternions(q: np.ndarray) -> np.ndarray:
    """Flip signs along axis 0 (frames) so consecutive quaternions have a non-negative dot product.

    ``q`` and ``-q`` are the same rotation, but Blender interpolates the four
    components linearly, so a sign flip between two keys swings the bone the
    long way round. The first frame is made ``w >= 0``.
    """
    q = np.array(q, dtype=np.float64, copy=True)
    if len(q) == 0:
        return q
    q[0] *= np.where(q[0, ..., :1] < 0.0, -1.0, 1.0)
    if len(q) > 1:
        dots = np.sum(q[1:] * q[:-1], axis=-1, keepdims=True)
        signs = np.cumprod(np.where(dots < 0.0, -1.0, 1.0), axis=0)
        q[1:] *= signs
    return q


def _matrix_to_euler_candidates(m: np.ndarray, order: str,
                                epsilon: float = 16 * float(np.finfo(np.float32).eps)) -> tuple[np.ndarray, np.ndarray]:
    """Both Euler solutions ``(..., 3)`` (angles about X, Y, Z) of rotation matrices in ``order``
    (Blender's ``mat3_normalized_to_eulo2``; ``epsilon``: below it the middle axis is at gimbal lock)."""
    i, j, k = (_AXIS[a] for a in order)
    odd = order not in ("XYZ", "YZX", "ZXY")
    perm = np.asarray(m, dtype=np.float64)[..., [i, j, k], :][..., :, [i, j, k]]
    # In permuted coordinates the matrix is Rz(c)·Ry(b)·Rx(a) (negated angles for an odd permutation).
    cy = np.hypot(perm[..., 0, 0], perm[..., 1, 0])
    gimbal = cy <= epsilon
    a1 = np.where(gimbal, np.arctan2(-perm[..., 1, 2], perm[..., 1, 1]), np.arctan2(perm[..., 2, 1], perm[..., 2, 2]))
    b1 = np.arctan2(-perm[..., 2, 0], cy)
    c1 = np.where(gimbal, 0.0, np.arctan2(perm[..., 1, 0], perm[..., 0, 0]))
    a2 = np.where(gimbal, a1, np.arctan2(-perm[..., 2, 1], -perm[..., 2, 2]))
    b2 = np.where(gimbal, b1, np.arctan2(-perm[..., 2, 0], -cy))
    c2 = np.where(gimbal, c1, np.arctan2(-perm[..., 1, 0], -perm[..., 0, 0]))
    sign = -1.0 if odd else 1.0
    out = []
    for a, b, c in ((a1, b1, c1), (a2, b2, c2)):
        e = np.empty(np.shape(a) + (3,))
        e[..., i], e[..., j], e[..., k] = sign * a, sign * b, sign * c
        out.append(e)
    return out[0], out[1]


# Blender's Euler decomposition for constraints that work on Euler angles (Copy Rotation's mix modes, Limit
# Rotation): math_rotation.cc's ``mat3_to_eulO`` / ``mat3_to_compatible_eulO`` with its EULER_HYPOT_EPSILON.
EULER_HYPOT_EPSILON = 0.0000375


def normalize_columns(m: np.ndarray) -> np.ndarray:
    """Blender's ``normalize_m3``: every axis (column) to unit length (a zero axis stays zero)."""
    length = np.linalg.norm(m, axis=-2, keepdims=True)
    return m / np.where(length > 0, length, 1.0)


def matrix_to_euler_blender(m: np.ndarray, order: str) -> np.ndarray:
    """``mat3_to_eulO``: axes normalised, then the solution with the smaller sum of absolute angles."""
    e1, e2 = _matrix_to_euler_candidates(normalize_columns(np.asarray(m, dtype=np.float64)[..., :3, :3]), order,
                                         EULER_HYPOT_EPSILON)
    d1, d2 = np.abs(e1).sum(-1), np.abs(e2).sum(-1)
    return np.where((d1 > d2)[..., None], e2, e1)


def compatible_euler(eul: np.ndarray, old: np.ndarray) -> np.ndarray:
    """``compatible_eul``: wrap ``eul`` by whole turns towards ``old`` (and the 180-degree flip rule)."""
    eul = np.array(eul, dtype=np.float64)
    pi, pi2 = np.pi, 2 * np.pi
    deul = eul - old
    hi, lo = deul > pi, deul < -pi
    eul = np.where(hi, eul - np.floor(deul / pi2 + 0.5) * pi2, eul)
    eul = np.where(lo, eul + np.floor(-deul / pi2 + 0.5) * pi2, eul)
    deul = eul - old
    i, j, k = 0, 1, 2
    for _ in range(3):
        flip = (np.abs(deul[..., i]) > pi) & (np.abs(deul[..., j]) < pi / 2) & (np.abs(deul[..., k]) < pi / 2)
        eul[..., i] = np.where(flip, np.where(deul[..., i] > 0, eul[..., i] - pi2, eul[..., i] + pi2), eul[..., i])
        j, k, i = k, i, i + 1
    return eul


def matrix_to_compatible_euler(m: np.ndarray, old: np.ndarray, order: str) -> np.ndarray:
    """``mat3_to_compatible_eulO``: the solution nearer to ``old`` after making both compatible with it."""
    e1, e2 = _matrix_to_euler_candidates(normalize_columns(np.asarray(m, dtype=np.float64)[..., :3, :3]), order,
                                         EULER_HYPOT_EPSILON)
    e1, e2 = compatible_euler(e1, old), compatible_euler(e2, old)
    d1, d2 = np.abs(e1 - old).sum(-1), np.abs(e2 - old).sum(-1)
    return np.where((d1 > d2)[..., None], e2, e1)


def _nearest_turn(e: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``e`` shifted by whole turns per component to lie within ±π of ``reference``."""
    return e + 2.0 * np.pi * np.round((reference - e) / (2.0 * np.pi))


def matrix_to_euler_near(m: np.ndarray, reference: np.ndarray, order: str = "XYZ") -> np.ndarray:
    """Rotation matrices ``(..., 3, 3)`` → the Euler triple ``(..., 3)`` nearest ``reference`` (broadcast) of
    the two solutions and their whole-turn shifts, like Blender's "compatible Euler"."""
    e1, e2 = _matrix_to_euler_candidates(m, order)
    reference = np.broadcast_to(np.asarray(reference, dtype=np.float64), e1.shape)
    c1, c2 = _nearest_turn(e1, reference), _nearest_turn(e2, reference)
    pick2 = np.abs(c2 - reference).sum(-1, keepdims=True) < np.abs(c1 - reference).sum(-1, keepdims=True)
    return np.where(pick2, c2, c1)


def quaternion_to_euler(q: np.ndarray, order: str = "XYZ", continuous: bool = True) -> np.ndarray:
    """Quaternions ``(F, ..., 4)`` → Euler ``(F, ..., 3)`` in ``order``, continuous along axis 0.

    Of the two Euler triples for each rotation (and their whole-turn shifts) the
    one nearest the previous frame's is taken, like Blender's "compatible Euler",
    so no component jumps by 2π between keys. Frame 0 takes the smaller solution.
    """
    m = quaternion_to_matrix(q)
    e1, e2 = _matrix_to_euler_candidates(m, order)
    first = np.abs(e2).sum(-1, keepdims=True) < np.abs(e1).sum(-1, keepdims=True)
    if not continuous or len(e1) == 0:
        return np.where(first, e2, e1)
    out = np.empty_like(e1)
    out[0] = np.where(first[0], e2[0], e1[0])
    for f in range(1, len(e1)):  # sequential: each frame depends on the one chosen before it
        prev = out[f - 1]
        c1 = _nearest_turn(e1[f], prev)
        c2 = _nearest_turn(e2[f], prev)
        pick2 = np.abs(c2 - prev).sum(-1, keepdims=True) < np.abs(c1 - prev).sum(-1, keepdims=True)
        out[f] = np.where(pick2, c2, c1)
    return out


def quaternion_to_axis_angle(q: np.ndarray) -> np.ndarray:
    """Quaternions ``(F, ..., 4)`` → ``(angle, x, y, z)``, continuous along axis 0.

    The quaternions are made sign-continuous first; the axis keeps its direction
    through the identity (where it would flip) by negating angle and axis
    together, and the angle is unwrapped by whole turns. An undefined axis (no
    rotation) takes the neighbouring frame's, or +Y (Blender's default) if none.
    """
    q = continuous_quaternions(normalize_quaternions(q))
    v = q[..., 1:]
    s = np.linalg.norm(v, axis=-1, keepdims=True)
    angle = 2.0 * np.arctan2(s[..., 0], q[..., 0])
    defined = s[..., 0] > 1e-9
    axis = v / np.where(s > 1e-9, s, 1.0)
    # carry the last defined axis forward (then the first defined one backward) over undefined frames
    if len(q):
        frames = np.arange(len(q)).reshape((-1,) + (1,) * (q.ndim - 2))
        last = np.maximum.accumulate(np.where(defined, frames, -1), axis=0)
        has = last >= 0
        first_def = np.argmax(defined, axis=0)
        src = np.where(has, last, first_def)
        axis = np.take_along_axis(axis, src[..., None], axis=0)
        never = ~defined.any(axis=0)
        axis = np.where(never[None, ..., None], np.array([0.0, 1.0, 0.0]), axis)
        if len(q) > 1:
            dots = np.sum(axis[1:] * axis[:-1], axis=-1)
            signs = np.concatenate((np.ones((1,) + dots.shape[1:]), np.cumprod(np.where(dots < 0.0, -1.0, 1.0), axis=0)))
            axis = axis * signs[..., None]
            angle = angle * signs
        angle = np.unwrap(angle, axis=0)
    return np.concatenate((angle[..., None], axis), axis=-1)


def channels_to_quaternion(values: np.ndarray, rotation_mode: str) -> np.ndarray:
    """A bone's rotation channel values ``(..., C)`` → the unit quaternion Blender evaluates."""
    if rotation_mode == "QUATERNION":
        return normalize_quaternions(values)
    if rotation_mode == "AXIS_ANGLE":
        return axis_angle_to_quaternion(values)
    if rotation_mode in EULER_ORDERS:
        return euler_to_quaternion(values, rotation_mode)
    raise ValueError(f"unknown rotation mode {rotation_mode!r}; expected one of {', '.join(ROTATION_MODES)}")


def quaternion_to_channels(q: np.ndarray, rotation_mode: str) -> np.ndarray:
    """Quaternions ``(F, ..., 4)`` → continuous channel values for ``rotation_mode``."""
    if rotation_mode == "QUATERNION":
        return continuous_quaternions(normalize_quaternions(q))
    if rotation_mode == "AXIS_ANGLE":
        return quaternion_to_axis_angle(q)
    if rotation_mode in EULER_ORDERS:
        return quaternion_to_euler(q, rotation_mode)
    raise ValueError(f"unknown rotation mode {rotation_mode!r}; expected one of {', '.join(ROTATION_MODES)}")
