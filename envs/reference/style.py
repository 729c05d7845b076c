"""The style measure: how close a motion's joint velocities and accelerations are, in distribution, to a
reference clip's (no bpy).

Each frame of a motion gives one short window of three poses: each joint's velocity at that frame and at
the frame before (``v_t = q_t - q_{t-1}`` and ``v_{t-1}``; their difference is the acceleration). Windows
are scaled by the reference's velocity spread over all joints, then by the median distance between the
reference's windows. The measure is an **energy distance** between the motion's windows and the
reference's (Székely & Rizzo), with a bounded distance between two windows,
``ρ(x, y) = 1 - exp(-|x - y|² / 2)``:

    D(P, Q) = 2 E ρ(X, Y) - E ρ(X, X') - E ρ(Y, Y')

(the squared maximum mean discrepancy with a Gaussian kernel). It is zero exactly when the two
distributions are equal and grows with any difference in them: the speeds' scale, their spread, how the
joints ease in and out, and which joints move together (it compares whole windows, not one joint at a
time). It needs no bins, no fitted density and no time alignment, so a reach that takes on the
reference's bell-shaped speed profile scores well wherever in the episode it happens.

Why not a moment match: matching the mean and spread of each joint's speed rewards a motion that spends
half its time still and half at twice the speed as much as the reference's smooth rise and fall, and
ignores how joints move together. Quantile matching per joint fixes the first but not the second.
Why two velocities rather than a velocity and an acceleration, and why a bounded ρ: an exploring policy's
accelerations are many times the reference's; scaled by the reference's (small) acceleration spread, and
with the plain ``|x - y|``, they swamped every other term (measured: the arm stopped reaching its target).
Two velocities carry the same information on the velocity's scale, and with ρ a window far from all of
the reference's costs at most 1.

As a reward the measure splits exactly into per-step shares: with ``x_t`` the window at step ``t`` of an
episode of ``T`` steps and ``y_j`` the ``M`` reference windows,

    c_t = (2/M) Σ_j ρ(x_t, y_j) - (2/T) Σ_{s<t} ρ(x_t, x_s) - E ρ(Y, Y')

add up to ``T · D``; ``rewards.pin_terms.style`` pays them as potential-based shaping with the trainer's
discount, so the discounted return is ``-γ^T T D`` whatever the order the windows come in.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ...errors import RigDojoError


def window_features(q: np.ndarray) -> np.ndarray:
    """Joint angles ``(T, ..., J)`` → ``(T - 2, ..., 2J)`` windows at frames 2 … T-1: each joint's velocity
    there and one frame before (radians per frame; their difference is the acceleration)."""
    q = np.asarray(q, dtype=np.float64)
    return np.concatenate([q[2:] - q[1:-1], q[1:-1] - q[:-2]], axis=-1)


def step_features(q: np.ndarray, q_prev: np.ndarray, q_prev2: np.ndarray) -> np.ndarray:
    """The window at one step of a batch: ``(n, J)`` angles now, one and two steps ago → ``(n, 2J)``."""
    return np.concatenate([q - q_prev, q_prev - q_prev2], axis=-1)


def feature_scale(features: np.ndarray) -> np.ndarray:
    """The scale ``(D,)`` of reference windows ``(M, D)``: the root-mean-square spread of the joints'
    velocities, one number for every dimension, so a joint the reference holds still is measured in the same
    units as the joints it moves (moving it costs as much as moving another joint as wrongly, no more)."""
    features = np.asarray(features, dtype=np.float64)
    spread = float(np.sqrt(features.var(axis=0).mean())) if features.size else 0.0
    return np.full(features.shape[1], max(spread, 1e-9))


def rho(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The bounded distance of the measure between windows ``x (..., D)`` and ``y (..., D)`` (unit bandwidth):
    ``1 - exp(-|x - y|² / 2)``, in [0, 1)."""
    diff = np.asarray(x, dtype=np.float64) - np.asarray(y, dtype=np.float64)
    return 1.0 - np.exp(-0.5 * np.einsum("...d,...d->...", diff, diff))


def energy_distance(x: np.ndarray, y: np.ndarray) -> float:
    """The style measure between the windows ``x (N, D)`` and ``y (M, D)``: ``2 E ρ(X, Y) - E ρ(X, X') -
    E ρ(Y, Y')`` with :func:`rho` (≥ 0; 0 exactly when the two samples are distributed alike)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if len(x) == 0 or len(y) == 0:
        raise RigDojoError("the style measure needs at least three frames of motion and of reference")
    xy = rho(x[:, None], y[None]).mean()
    return max(0.0, float(2.0 * xy - rho(x[:, None], x[None]).mean() - rho(y[:, None], y[None]).mean()))


def bandwidth(features: np.ndarray) -> float:
    """The median distance between reference windows (the kernel's width; at least a tiny positive number)."""
    f = np.asarray(features, dtype=np.float64)
    d = np.sqrt(np.einsum("ijk,ijk->ij", f[:, None] - f[None], f[:, None] - f[None]))
    off = d[~np.eye(len(f), dtype=bool)]
    return max(float(np.median(off)) if off.size else 0.0, 1e-6)


@dataclass
class StyleReference:
    """A reference clip's joint angles for the style measure.

    Attributes:
        source: the Action (or file) it was read from.
        bones: rig bones (after the bone map) whose angles ``angles`` holds.
        angles: (F, B, 3) Euler XYZ of each bone's local rotation, one row per frame, continuous.
        fps: frames per second it was sampled at (one row per control step).
    """

    source: str
    bones: list[str]
    angles: np.ndarray
    fps: float = 24.0
    notes: list[str] = field(default_factory=list)

    def joint_angles(self, joints: list[tuple[str, int]]) -> np.ndarray:
        """(F, J) angles of the joints ``(bone, axis)`` (axis 0, 1, 2 = X, Y, Z)."""
        return np.stack([self.angles[:, self.bones.index(b), axis] for b, axis in joints], axis=-1) \
            if joints else np.zeros((len(self.angles), 0))

    def windows(self, joints: list[tuple[str, int]]) -> tuple[np.ndarray, np.ndarray]:
        """The reference windows of ``joints``, scaled, and the scale ``(D,)`` a motion's windows are divided by."""
        raw = window_features(self.joint_angles(joints))
        if len(raw) == 0:
            raise RigDojoError(f"the style clip {self.source!r} has {len(self.angles)} frames; the style measure "
                               "needs at least 3 (velocities and accelerations); key it over more frames")
        scale = feature_scale(raw)
        scale = scale * bandwidth(raw / scale)  # unit kernel width in the scaled features
        return raw / scale, scale

    # ---- file -----------------------------------------------------------------------
    def to_arrays(self, prefix: str = "style.") -> dict[str, np.ndarray]:
        import json

        meta = {"source": self.source, "bones": self.bones, "fps": self.fps, "notes": self.notes}
        return {prefix + "meta": np.array(json.dumps(meta)), prefix + "angles": np.asarray(self.angles, float)}

    @classmethod
    def from_arrays(cls, data, prefix: str = "style.") -> "StyleReference":
        import json

        return cls(angles=np.array(data[prefix + "angles"]), **json.loads(str(data[prefix + "meta"])))
