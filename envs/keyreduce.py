"""Keyframe reduction (pure numpy, no bpy); the rotation arithmetic it measures with is ``envs.rotations``.

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

Rotation conventions: see :mod:`.rotations`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .rotations import (  # noqa: F401  (re-exported: the bake and the tests use them from here)
    EULER_ORDERS,
    ROTATION_MODES,
    axis_angle_to_quaternion,
    channels_to_quaternion,
    continuous_quaternions,
    euler_to_quaternion,
    matrix_rotation_angle,
    normalize_quaternions,
    quaternion_multiply,
    quaternion_to_axis_angle,
    quaternion_to_channels,
    quaternion_to_euler,
    quaternion_to_matrix,
    rotation_angle,
)


# --- rotation arithmetic ---------------------------------------------------------------------


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
