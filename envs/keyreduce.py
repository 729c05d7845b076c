"""Keyframe reduction, and the rotation arithmetic it measures with (pure numpy, no bpy).

What the tolerance means
------------------------
Reduced keys are written with **LINEAR** interpolation, and the error of a
dropped sample is measured against exactly what Blender evaluates between two
kept LINEAR keys:

* plain channels (:func:`reduce_curve`, :func:`reduce_channels`): each
  channel is interpolated linearly and the error is the absolute difference,
  in the channel's own units;
* rotations (:func:`reduce_rotation`): the components of the bone's rotation
  channels are interpolated linearly, each component on its own, the way
  Blender's F-curves do it, then turned into a rotation the way Blender's pose
  evaluation does (a quaternion is normalised; an Euler triple is composed in
  its order; an axis-angle has its axis normalised). The error is the
  **geodesic angle in degrees** between that rotation and the input rotation
  of the dropped frame. So ``tolerance_degrees=0.1`` means "no frame of the
  baked curve turns the bone more than 0.1° away from the trained motion",
  whatever the rotation mode; for quaternions it is *not* a bound on the
  individual w/x/y/z components. The components of one bone share one set of
  kept frames (an animator sees whole poses on keys).

Bezier keys with auto-clamped handles would overshoot between sparse keys, so
the tolerance holds only for LINEAR keys; the bake writes LINEAR.

The algorithm is Ramer–Douglas–Peucker: keep the end points, find the sample
the straight segment misses worst, keep it if it is beyond the tolerance, and
recurse on both halves. It does not promise the fewest keys, but every dropped
sample is within the tolerance. All open segments are split in one
vectorised pass per recursion level, so the cost is about ``F`` error
evaluations per level (``log F`` levels for smooth motion, up to ``F`` in the
worst case of a segment always split at its end).

Conventions: quaternions are ``(w, x, y, z)``; Euler triples are angles about
X, Y, Z in radians (the layout of Blender's ``rotation_euler``) and ``order``
is Blender's ``rotation_mode``: ``"XYZ"`` applies X first, so the matrix is
``Rz @ Ry @ Rx``; axis-angle is ``(angle, x, y, z)`` like ``rotation_axis_angle``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

EULER_ORDERS = ("XYZ", "XZY", "YXZ", "YZX", "ZXY", "ZYX")
ROTATION_MODES = ("QUATERNION", "AXIS_ANGLE", *EULER_ORDERS)
_AXIS = {"X": 0, "Y": 1, "Z": 2}


# --- rotation arithmetic ---------------------------------------------------------------------


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


def _matrix_to_euler_candidates(m: np.ndarray, order: str) -> tuple[np.ndarray, np.ndarray]:
    """Both Euler solutions ``(..., 3)`` (angles about X, Y, Z) of rotation matrices in ``order``."""
    i, j, k = (_AXIS[a] for a in order)
    odd = order not in ("XYZ", "YZX", "ZXY")
    perm = np.asarray(m, dtype=np.float64)[..., [i, j, k], :][..., :, [i, j, k]]
    # In permuted coordinates the matrix is Rz(c)·Ry(b)·Rx(a) (negated angles for an odd permutation).
    cy = np.hypot(perm[..., 0, 0], perm[..., 1, 0])
    gimbal = cy <= 16 * np.finfo(np.float32).eps
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


def _nearest_turn(e: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``e`` shifted by whole turns per component to lie within ±π of ``reference``."""
    return e + 2.0 * np.pi * np.round((reference - e) / (2.0 * np.pi))


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


# --- reduction --------------------------------------------------------------------------------

ErrorFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _max_abs(interpolated: np.ndarray, true: np.ndarray) -> np.ndarray:
    return np.abs(interpolated - true).max(axis=-1)


def _rdp(frames: np.ndarray, values: np.ndarray, tolerance: float, error: ErrorFn, keep: np.ndarray) -> np.ndarray:
    """Ramer–Douglas–Peucker on all open segments at once; ``keep`` marks forced keys (ends).

    Kept keys split the samples into segments. Each pass measures every sample
    of the still-open segments against the straight line between its
    segment's ends in one vectorised call, then keeps the worst sample of each
    segment that misses the tolerance. A segment within tolerance is final (the
    result equals recursive RDP, segment for segment), so later passes touch
    fewer samples; the number of passes is the recursion depth.
    """
    n = len(frames)
    keep = keep.copy()
    pending = ~keep
    positions = np.arange(n)
    while pending.any():
        kept_at = np.flatnonzero(keep)
        samples = np.flatnonzero(pending)
        slot = np.searchsorted(kept_at, samples) - 1
        lo, hi = kept_at[slot], kept_at[slot + 1]
        t = ((frames[samples] - frames[lo]) / (frames[hi] - frames[lo]))[:, None]
        interpolated = values[lo] + t * (values[hi] - values[lo])
        err = np.asarray(error(interpolated, values[samples]), dtype=np.float64)
        starts = np.flatnonzero(np.r_[True, lo[1:] != lo[:-1]])
        worst = np.maximum.reduceat(err, starts)
        sizes = np.diff(np.r_[starts, len(samples)])
        is_worst = err == np.repeat(worst, sizes)
        first = np.minimum.reduceat(np.where(is_worst, positions[: len(samples)], n), starts)
        split = worst > tolerance
        keep[samples[first[split]]] = True
        pending[samples[np.repeat(~split, sizes)]] = False
        pending &= ~keep
    return keep


def reduce_curve(
    frames: Sequence[float] | np.ndarray,
    values: np.ndarray,
    tolerance: float,
    error: ErrorFn | None = None,
) -> np.ndarray:
    """Indices of the keys to keep so linear interpolation between them stays within ``tolerance``.

    Parameters
    ----------
    frames:
        ``(F,)`` strictly increasing key times.
    values:
        ``(F,)`` one channel, or ``(F, C)`` channels that share their keys.
    tolerance:
        the largest allowed ``error`` at a dropped frame (``>= 0``).
    error:
        ``error(interpolated (n, C), true (n, C)) -> (n,)``, vectorised over
        samples; default: the largest absolute difference over the channels.

    Returns
    -------
    Sorted ``int64`` indices into ``frames``; the first and last frame are always kept.
    """
    frames = np.asarray(frames, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 1:
        values = values[:, None]
    n = len(frames)
    if values.shape[0] != n:
        raise ValueError(f"{n} frames but {values.shape[0]} values")
    if n <= 2:
        return np.arange(n, dtype=np.int64)
    keep = np.zeros(n, dtype=bool)
    keep[0] = keep[-1] = True
    return np.flatnonzero(_rdp(frames, values, tolerance, error or _max_abs, keep))


def reduce_channels(frames: Sequence[float] | np.ndarray, values: np.ndarray, tolerance: float) -> list[np.ndarray]:
    """:func:`reduce_curve` for each channel of ``values (F, C)`` on its own; one index array per channel."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 1:
        values = values[:, None]
    return [reduce_curve(frames, values[:, c], tolerance) for c in range(values.shape[1])]


def rotation_error_fn(rotation_mode: str) -> ErrorFn:
    """Error function (degrees) for :func:`reduce_curve` on one bone's rotation channels."""

    def error(interpolated: np.ndarray, true: np.ndarray) -> np.ndarray:
        q_interp = channels_to_quaternion(interpolated, rotation_mode)
        q_true = channels_to_quaternion(true, rotation_mode)
        return np.degrees(rotation_angle(q_interp, q_true))

    return error


def reduce_rotation(
    frames: Sequence[float] | np.ndarray, values: np.ndarray, rotation_mode: str, tolerance_degrees: float
) -> np.ndarray:
    """Kept key indices for one bone's rotation channels ``(F, C)`` in ``rotation_mode``.

    The channels share their keys; a dropped frame's rotation, evaluated from
    the LINEAR keys around it as Blender does, is within ``tolerance_degrees``
    (geodesic angle) of the rotation the channel values give at that frame.
    """
    return reduce_curve(frames, values, tolerance_degrees, rotation_error_fn(rotation_mode))


def reduce_rotations(
    frames: Sequence[float] | np.ndarray,
    values: Sequence[np.ndarray],
    rotation_modes: Sequence[str],
    tolerance_degrees: float,
) -> list[np.ndarray]:
    """:func:`reduce_rotation` for many bones: ``values[b]`` is ``(F, C_b)``; one index array per bone.

    Bones of one rotation mode are reduced together in one batched pass (their
    curves laid end to end, with each bone's first and last frame forced), which
    is the same result as one bone at a time, many times faster.
    """
    frames = np.asarray(frames, dtype=np.float64)
    n = len(frames)
    out: list[np.ndarray] = [np.arange(0)] * len(values)
    if n <= 2:
        return [np.arange(n, dtype=np.int64) for _ in values]
    for mode in dict.fromkeys(rotation_modes):
        members = [b for b, m in enumerate(rotation_modes) if m == mode]
        stacked = np.concatenate([np.asarray(values[b], dtype=np.float64) for b in members])
        keep = np.zeros(len(stacked), dtype=bool)
        keep[0::n] = keep[n - 1 :: n] = True
        keep = _rdp(np.tile(frames, len(members)), stacked, tolerance_degrees, rotation_error_fn(mode), keep)
        for k, b in enumerate(members):
            out[b] = np.flatnonzero(keep[k * n : (k + 1) * n])
    return out


def interpolated_rotation_error(
    frames: Sequence[float] | np.ndarray, values: np.ndarray, kept: np.ndarray, rotation_mode: str
) -> np.ndarray:
    """Per-frame error (degrees) of LINEAR keys at ``kept`` against the full ``values (F, C)``."""
    frames = np.asarray(frames, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    interpolated = np.stack([np.interp(frames, frames[kept], values[kept, c]) for c in range(values.shape[1])], -1)
    return np.degrees(rotation_angle(channels_to_quaternion(interpolated, rotation_mode), channels_to_quaternion(values, rotation_mode)))
