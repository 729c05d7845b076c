"""The ``[reference]`` table of a TrainConfig: pins and a style clip (no bpy).

Generated into the sidebar's Reference panel, the TOML table and the command line's ``--pins`` and
``--style`` flags (``agents.schema.setting``); read once by the edge (``scene/kinematic/pins.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

from ...agents.schema import setting
from ..physics.settings import PIN_TASKS

# The pins are read by the kinematic tasks and by the physics tasks that take them; the rest of the table
# (effector pins' guide, the kinematic tolerances, the style clip) by the kinematic tasks only.
_KINEMATIC = ("reach", "aim", "grasp")
_PINNED = (*_KINEMATIC, *PIN_TASKS)


@dataclass
class ReferenceConfig:
    """Pins (keyed poses and effector positions the motion must pass through) and a style clip."""

    pins: str = setting("", label="Pins Action", cli=True, tasks=_PINNED,
                        description="An Action on the rig whose keyed poses the motion must pass through: each "
                                    "frame keyed on the controls (on a physics task: the simulated bones, and the "
                                    "root's location) becomes a pose pin (empty: no pose pins)")
    pin_frames: list[int] = setting(default_factory=list, label="Pin Frames", kind="numbers", tasks=_PINNED,
                                    description="Which keyed frames become pins, comma-separated (empty: every keyed "
                                                "frame in the frame range)")
    pin_bones: list[str] = setting(default_factory=list, label="Pin Bones", kind="names", tasks=_PINNED,
                                   description="The control bones the pose pins hold, comma-separated (empty: every "
                                               "control the Action keys)")
    effector_pins: list[str] = setting(default_factory=list, label="Effector Pins", kind="names", cli=True, tasks=_PINNED,
                                       description="A bone on an object at a frame, comma-separated: OBJECT@FRAME "
                                                   "for the effector (Cup@45) or BONE:OBJECT@FRAME")
    guide: bool = setting(True, label="Guide to Pins", tasks=_PINNED,
                          description="The policy's actions turn the controls on top of the straight way to the next "
                                      "keyed pose (on a physics task: move the servos' targets from the keys' "
                                      "in-betweens), so it learns what to change (arcs, a reach, a detour, balance) "
                                      "rather than finding each pose (off: it finds the way alone)")
    hard: bool = setting(True, label="Hard Pins", tasks=_PINNED,
                         description="Pins must be met within tolerance: they decide success and the hit rate "
                                     "(off: soft pins, a weighted reward only)")
    soft_frames: list[int] = setting(default_factory=list, label="Soft Frames", kind="numbers", tasks=_PINNED,
                                     description="Frames whose pins are soft whatever Hard Pins says, "
                                                 "comma-separated")
    pin_weight: float = setting(1.0, label="Pin Weight", min=0.0, soft_max=10.0, precision=2, tasks=_PINNED,
                                description="How much each pin's reward counts")
    angle_tolerance: float = setting(2.0, label="Angle Tolerance", min=1e-4, soft_max=45.0, precision=2, tasks=_KINEMATIC,
                                     description="Degrees each pinned bone may be off its keyed rotation")
    position_tolerance: float = setting(0.01, label="Position Tolerance", min=1e-6, soft_max=0.5, precision=3, tasks=_KINEMATIC,
                                        description="Chain lengths a pose pin's effector may be off the keyed "
                                                    "pose's (effector pins use the Success Tolerance)")
    style: str = setting("", label="Style Clip", cli=True, tasks=_KINEMATIC,
                         description="An Action on the rig whose joint velocities and accelerations the motion "
                                     "should match in distribution (its timing and arcs; empty: none)")
    bone_map: dict[str, str] = setting(default_factory=dict, label="Bone Map", kind="json", advanced=True,
                             description="Clip bone -> rig bone as a JSON object, over the automatic map (identical "
                                         "names, Rigify's DEF-/ORG-/_fk names); an empty value leaves a bone out")

    @property
    def active(self) -> bool:
        """Whether any pin or a style clip is set."""
        return bool(self.pins or self.effector_pins or self.style)

    @property
    def has_pins(self) -> bool:
        return bool(self.pins or self.effector_pins)

    def validate(self, config) -> None:
        """RigDojoError naming the key for values that parse but make no sense."""
        from ...errors import RigDojoError
        from .pins import parse_effector_pin

        for i, text in enumerate(self.effector_pins):
            parse_effector_pin(text, f"reference.effector_pins[{i}]")
        if self.pin_bones and not self.pins:
            raise RigDojoError("reference.pin_bones: set reference.pins (the Action whose keys the bones hold) too")
        if self.pin_frames and not self.pins:
            raise RigDojoError("reference.pin_frames: set reference.pins (the Action whose keyed frames they are) too")
        if not self.angle_tolerance > 0:
            raise RigDojoError(f"reference.angle_tolerance must be greater than 0 (found {self.angle_tolerance})")
        if not self.position_tolerance > 0:
            raise RigDojoError(f"reference.position_tolerance must be greater than 0 (found {self.position_tolerance})")
        if not self.pin_weight >= 0:  # NaN too
            raise RigDojoError(f"reference.pin_weight must be a number, 0 or more (found {self.pin_weight})")
        for key, value in self.bone_map.items():
            if not isinstance(value, str):
                raise RigDojoError(f"reference.bone_map[{key!r}]: give a bone name (a string), not {value!r}")
