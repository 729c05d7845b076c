"""The style measure: how close a motion's joint velocities and accelerations are, in distribution, to a
reference clip's (no bpy).

Each frame of a motion gives one short window of three poses, summarised as the joint velocities and
accelerations at that frame (per joint, ``v = q_t - q_{t-1}``, ``a = q_t - 2 q_{t-1} + q_{t-2}``), scaled
by the reference's own spread per dimension. The measure is the **energy distance** between the motion's
windows and the reference's (Székely & Rizzo):

    ED(P, Q) = 2 E|X - Y| - E|X - X'| - E|Y - Y'|

which is zero exactly when the two distributions are equal and grows with any difference in them:
the speeds' scale, their spread, how often the joints accelerate and brake, and which joints move
together (it compares whole windows, not one joint at a time). It needs no bins, no fitted density and no
time alignment, so a reach that takes on the reference's bell-shaped speed profile scores well wherever in
the episode it happens.

Why not a moment match: matching the mean and spread of each joint's speed rewards a motion that spends
half its time still and half at twice the speed as much as the reference's smooth rise and fall, and
ignores how joints move together. Quantile matching per joint fixes the first but not the second.

As a reward the measure splits exactly into per-step terms: with ``x_t`` the window at step ``t`` of an
episode of ``T`` steps and ``y_j`` the ``M`` reference windows,

    r_t = -(2/M) Σ_j |x_t - y_j| + (2/T) Σ_{s<t} |x_t - x_s| + E|Y - Y'|

sums over the episode to ``-T · ED``: maximising the return minimises the energy distance of the
episode's own windows to the reference's (``rewards.pin_terms.style``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ...errors import RigDojoError


def window_features(q: np.ndarray) -> np.ndarray:
    """Joint angles ``(T, ..., J)`` → ``(T - 2, ..., 2J)`` windows: velocity then acceleration per joint
    (radians per frame, per frame²) at frames 2 … T-1."""
    q = np.asarray(q, dtype=np.float64)
    v = q[2:] - q[1:-1]
    a = q[2:] - 2.0 * q[1:-1] + q[:-2]
    return np.concatenate([v, a], axis=-1)


def step_features(q: np.ndarray, q_prev: np.ndarray, q_prev2: np.ndarray) -> np.ndarray:
    """The window at one step of a batch: ``(n, J)`` angles now, one and two steps ago → ``(n, 2J)``."""
    return np.concatenate([q - q_prev, q - 2.0 * q_prev + q_prev2], axis=-1)


def feature_scale(features: np.ndarray) -> np.ndarray:
    """Per-dimension spread of reference windows ``(M, D)``, floored so a joint the reference holds still
    does not turn a tiny motion into a huge feature."""
    std = np.asarray(features, dtype=np.float64).std(axis=0)
    floor = max(0.05 * float(std.mean()) if std.size else 0.0, 1e-6)
    return np.maximum(std, floor)


def _pairwise_mean(x: np.ndarray, y: np.ndarray) -> float:
    diff = x[:, None, :] - y[None, :, :]
    return float(np.sqrt(np.einsum("ijk,ijk->ij", diff, diff)).mean())


def energy_distance(x: np.ndarray, y: np.ndarray) -> float:
    """Energy distance between the samples ``x (N, D)`` and ``y (M, D)`` (≥ 0; 0 for identical samples)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if len(x) == 0 or len(y) == 0:
        raise RigDojoError("the style measure needs at least three frames of motion and of reference")
    return max(0.0, 2.0 * _pairwise_mean(x, y) - _pairwise_mean(x, x) - _pairwise_mean(y, y))


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
