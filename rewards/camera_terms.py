"""Reward terms of the camera task: framing, size, distance, smoothness, occlusion, collision, region.

The camera task fills a :class:`CameraState`, a :class:`~.state.RewardState` with the
camera's own fields added. The registry checks ``requires`` against the fields of
``RewardState`` itself, which we leave alone, so these terms declare no
``requires`` and check their fields when called (:func:`_need`): a camera term
given a state without them raises :class:`RigDojoError` naming the field.

Units: image coordinates are normalised as ``world_to_camera_view`` gives them
((0, 0) bottom left, (1, 1) top right); lengths are in *shot scales* (the
camera–subject distance at the shot's first frame); derivatives of the camera's
motion are divided by the camera's limits, so 1 is the most the twin allows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import RigDojoError
from .registry import Param, reward_term
from .state import RewardState

#: framing points in normalised image coordinates (``nearest_third``: the nearer vertical third line)
FRAMING_POINTS = {
    "center": (0.5, 0.5),
    "left_third": (1.0 / 3.0, 0.5),
    "right_third": (2.0 / 3.0, 0.5),
    "nearest_third": (np.nan, 0.5),
}
#: framing distance given to a subject behind the camera (worse than any point in the frame)
BEHIND_DISTANCE = 1.5


@dataclass
class CameraState(RewardState):
    """The reward state of the camera task (``n`` cameras at one step).

    Attributes:
        subject_uv: ``(n, 2)`` the subject centre in normalised image coordinates.
        subject_depth: ``(n,)`` its distance along the view axis (scene units; <= 0 behind).
        subject_size: ``(n,)`` the subject's diameter as a fraction of the frame height.
        subject_distance: ``(n,)`` camera–subject distance in shot scales.
        occlusion: ``(n,)`` fraction of the subject's points hidden by obstacles, in [0, 1].
        collision: ``(n,)`` bool, the camera is inside or too close to an obstacle.
        region_excess: ``(n,)`` distance outside the allowed region box in shot scales (0 inside).
        cam_vel, cam_acc, cam_jerk: ``(n, 3)`` camera position derivatives divided by the limits.
        rot_vel, rot_acc, rot_jerk: ``(n, 3)`` yaw/pitch/roll derivatives divided by the limits.
    """

    subject_uv: np.ndarray | None = None
    subject_depth: np.ndarray | None = None
    subject_size: np.ndarray | None = None
    subject_distance: np.ndarray | None = None
    occlusion: np.ndarray | None = None
    collision: np.ndarray | None = None
    region_excess: np.ndarray | None = None
    cam_vel: np.ndarray | None = None
    cam_acc: np.ndarray | None = None
    cam_jerk: np.ndarray | None = None
    rot_vel: np.ndarray | None = None
    rot_acc: np.ndarray | None = None
    rot_jerk: np.ndarray | None = None


def _need(state: RewardState, term: str, *names: str) -> list[np.ndarray]:
    values = [getattr(state, name, None) for name in names]
    missing = [n for n, v in zip(names, values) if v is None]
    if missing:
        raise RigDojoError(f"reward term {term!r} reads {', '.join(missing)}, which only the camera task provides; "
                           "use it with the camera task or disable it")
    return values


def framing_distance(uv: np.ndarray, depth: np.ndarray, point: str) -> np.ndarray:
    """``(n,)`` distance in normalised image units from the subject to the framing ``point``."""
    if point not in FRAMING_POINTS:
        raise RigDojoError(f"unknown framing point {point!r}; choose one of {', '.join(FRAMING_POINTS)}")
    px, py = FRAMING_POINTS[point]
    if np.isnan(px):
        px = np.where(uv[:, 0] < 0.5, 1.0 / 3.0, 2.0 / 3.0)
    d = np.hypot(uv[:, 0] - px, uv[:, 1] - py)
    return np.where(depth > 0, np.minimum(d, BEHIND_DISTANCE), BEHIND_DISTANCE)


@reward_term(
    "camera_framing",
    "Keep the subject at the framing point (centre or a third line) of the camera frame",
    params=[
        Param("point", "choice", "center", choices=tuple(FRAMING_POINTS),
              description="Where in the frame the subject should be: centre, a vertical third line, or the nearer one"),
        Param("shape", "choice", "exp", choices=("exp", "linear"),
              description="exp: exp(-distance / scale), in (0, 1]; linear: -distance"),
        Param("scale", "float", 0.1, min=1e-4, max=10.0,
              description="Image distance (fraction of the frame) over which the exp reward falls to 1/e"),
    ],
)
def camera_framing(state: RewardState, point: str, shape: str, scale: float) -> np.ndarray:
    uv, depth = _need(state, "camera_framing", "subject_uv", "subject_depth")
    d = framing_distance(uv, depth, point)
    return np.exp(-d / scale) if shape == "exp" else -d


@reward_term(
    "camera_subject_size",
    "Keep the subject at a target size in frame (its diameter as a fraction of the frame height)",
    params=[
        Param("target", "float", 0.3, min=1e-3, max=10.0, description="Wanted diameter / frame height"),
        Param("tolerance", "float", 0.1, min=1e-4, max=10.0,
              description="Size error at which the reward falls to 1/e (Gaussian)"),
    ],
)
def camera_subject_size(state: RewardState, target: float, tolerance: float) -> np.ndarray:
    size, depth = _need(state, "camera_subject_size", "subject_size", "subject_depth")
    size = np.where(depth > 0, size, 0.0)
    return np.exp(-(((size - target) / tolerance) ** 2))


@reward_term(
    "camera_distance_band",
    "Penalty for the camera leaving a band of distances to the subject (in shot scales)",
    params=[
        Param("near", "float", 0.5, min=0.0, max=100.0, description="Closest allowed distance, in shot scales"),
        Param("far", "float", 2.0, min=0.0, max=100.0, description="Farthest allowed distance, in shot scales"),
    ],
    penalty=True,
)
def camera_distance_band(state: RewardState, near: float, far: float) -> np.ndarray:
    (d,) = _need(state, "camera_distance_band", "subject_distance")
    return -(np.maximum(near - d, 0.0) + np.maximum(d - far, 0.0))


_SMOOTH_FIELDS = {"velocity": ("cam_vel", "rot_vel"), "acceleration": ("cam_acc", "rot_acc"),
                  "jerk": ("cam_jerk", "rot_jerk")}


@reward_term(
    "camera_smoothness",
    "Penalty on the camera's velocity, acceleration or jerk (position and rotation, relative to its limits)",
    params=[
        Param("order", "choice", "jerk", choices=tuple(_SMOOTH_FIELDS),
              description="Which derivative of the motion to penalise"),
        Param("rotation_weight", "float", 1.0, min=0.0, max=100.0,
              description="Weight of the rotation part against the position part"),
    ],
    penalty=True,
)
def camera_smoothness(state: RewardState, order: str, rotation_weight: float) -> np.ndarray:
    lin, rot = _need(state, "camera_smoothness", *_SMOOTH_FIELDS[order])
    return -(np.einsum("ij,ij->i", lin, lin) + rotation_weight * np.einsum("ij,ij->i", rot, rot))


@reward_term(
    "camera_occlusion",
    "Penalty: the fraction of the subject's points hidden from the camera by obstacles",
    penalty=True,
)
def camera_occlusion(state: RewardState) -> np.ndarray:
    (occ,) = _need(state, "camera_occlusion", "occlusion")
    return -np.asarray(occ, dtype=np.float64)


@reward_term("camera_collision", "Penalty of -1 while the camera is inside or too close to an obstacle", penalty=True)
def camera_collision(state: RewardState) -> np.ndarray:
    (hit,) = _need(state, "camera_collision", "collision")
    return -np.asarray(hit, dtype=np.float64)


@reward_term(
    "camera_region",
    "Penalty for leaving the allowed region box, growing with the distance outside (shot scales)",
    params=[Param("offset", "float", 1.0, min=0.0, max=100.0,
                  description="Constant penalty added as soon as the camera is outside")],
    penalty=True,
)
def camera_region(state: RewardState, offset: float) -> np.ndarray:
    (excess,) = _need(state, "camera_region", "region_excess")
    return -np.where(excess > 0, excess + offset, 0.0)
