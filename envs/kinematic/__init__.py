"""The kinematic family (reach, aim, grasp): rig spec, batched forward-kinematics twin, tasks.

This module is the family's registry entry (``envs.families``); it imports nothing heavy.
"""

from __future__ import annotations

from ...rewards.composer import TermConfig
from ..families import SB3_ALGORITHMS, Family, Task
from .bake_options import KinematicBakeOptions


# With pins the goal is what the pins say (a keyed pose at its frame, the hand on the cup at 45), so the
# task's own goal terms, which would pull toward the target on every frame, give way to the pin terms;
# the smoothness and limit terms stay. A style clip adds the style term.
PIN_TERMS = [TermConfig("pin_pose", 1.0), TermConfig("pin_effector", 1.0)]
STYLE_TERM = TermConfig("style", 0.05)
_PINNED = [TermConfig("effort", 0.02), TermConfig("joint_limits", 0.2), TermConfig("joint_acceleration", 1e-6)]


def default_terms(task: str, config=None) -> list[TermConfig]:
    """The reward terms each task starts with (the defaults are the product); ``config.reference`` adds pins
    and a style clip."""
    reference = getattr(config, "reference", None)
    extra = [STYLE_TERM] if reference is not None and reference.style else []
    if reference is not None and (reference.pins or reference.effector_pins):
        return [*PIN_TERMS, *_PINNED, *extra]
    return _task_terms(task) + extra


def _task_terms(task: str) -> list[TermConfig]:
    if task == "aim":
        return [TermConfig("look_at", 1.0), TermConfig("effort", 0.01), TermConfig("joint_limits", 0.2),
                TermConfig("joint_velocity", 0.001)]
    if task == "grasp":
        return [TermConfig("distance", 1.0), TermConfig("grasp_contact", 1.0), TermConfig("palm_orientation", 0.3),
                TermConfig("effort", 0.01), TermConfig("joint_limits", 0.2)]
    return [TermConfig("distance", 1.0), TermConfig("distance", 1.0, params={"shape": "exp", "scale": 0.05}),
            TermConfig("success_bonus", 1.0), TermConfig("effort", 0.02), TermConfig("joint_limits", 0.2)]


FAMILY = Family(
    name="kinematic",
    tasks=(
        Task("reach", "Reach", "Move the effector bone to a target (a still or animated object, or random points in "
             "a region)", "chain lengths"),
        Task("aim", "Aim", "Point an axis of the effector bone at a target (a head looking, a gun aiming)", "radians"),
        Task("grasp", "Grasp", "Bring the fingertips onto the surface of a mesh object", "chain lengths"),
    ),
    default_terms=default_terms,
    core="rig_dojo.envs.kinematic.family",
    edge="rig_dojo.scene.kinematic.family",
    settings="reference",
    algorithms=SB3_ALGORITHMS,
    discrete_actions=True,
    bake_reduces_keys=True,
    bake_options=KinematicBakeOptions,
    joint_metrics=True,
    extra={"default_terms_follow": ("pins", "effector_pins", "style")},
)
