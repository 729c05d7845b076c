"""The camera family: shot spec, batched camera twin, camera task.

This module is the family's registry entry (``envs.families``); it imports nothing heavy.
"""

from __future__ import annotations

from ...rewards.composer import TermConfig
from ..families import CONTINUOUS_ALGORITHMS, Family, Task


def default_camera_terms(framing: str = "center") -> list[TermConfig]:
    """The reward terms the camera task starts with (they aim at the framing point)."""
    return [
        TermConfig("camera_framing", 1.0, params={"point": framing}),
        TermConfig("camera_subject_size", 0.2),
        TermConfig("camera_distance_band", 0.5),
        TermConfig("camera_occlusion", 1.0),
        TermConfig("camera_collision", 1.0),
        TermConfig("camera_region", 1.0),
        TermConfig("camera_smoothness", 0.2, params={"order": "acceleration"}),
        TermConfig("camera_smoothness", 1.0, params={"order": "jerk"}),
    ]


def default_terms(task: str, config=None) -> list[TermConfig]:
    return default_camera_terms(config.camera.framing if config is not None else "center")


FAMILY = Family(
    name="camera",
    tasks=(Task("camera", "Camera", "Move a camera over the shot so it keeps an animated subject framed, smooth and "
                "unobstructed", "image units from the framing point"),),
    default_terms=default_terms,
    core="rig_dojo.envs.camera.family",
    edge="rig_dojo.scene.camera.family",
    settings="camera",
    # solve: the shot solver (the path optimised over the known shot, envs/camera/solve.py), the default;
    # cem and SB3's learn a policy that reacts
    algorithms=CONTINUOUS_ALGORITHMS + ("cem", "solve"),
    default_algorithm="solve",
    algorithm_modules={"solve": "rig_dojo.envs.camera.solve_session"},
    uses_rig=False,
    bake_is_seeded=False,
    extra={"default_terms_follow": ("framing",)},
)
