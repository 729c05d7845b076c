"""The physics family's settings: the ``[physics]`` table of a TrainConfig (no bpy).

The physics tasks read these directly (``envs.physics.task.PhysicsTask``); lengths are in creature
sizes and times in seconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ...agents.schema import check_choices, setting

RADIUS_SOURCES = (("length", "Length", "Capsule radius proportional to the bone's length (Radius Ratio)"),
                  ("envelope", "Envelope", "Capsule radius from the bone's envelope radius"),
                  ("bbone", "B-Bone Size", "Capsule radius from the bone's B-Bone display size"))
ROOT_MOTION = (("bone", "Root Bone", "Bake the creature's travel to the root bone's location and rotation"),
               ("object", "Object", "Bake the creature's travel to the armature object's location and rotation"))
_WALKING = ("locomotion", "obstacles")
_TRACK = ("track",)
PIN_TASKS = ("stand", "locomotion", "jump", "obstacles")  # the physics tasks that take pins (reference.pins)


@dataclass
class PhysicsConfig:
    """The physics tasks: the creature's physical parameters and the task's settings (sizes, seconds)."""

    root: str = setting("", label="Root Bone", kind="bone", cli=True,
                        description="The bone that floats free (empty: the armature's only top-level bone)")
    density: float = setting(1000.0, label="Density", min=1e-3, soft_max=5000.0, precision=1, cli=True,
                             description="Mass per volume of every bone's capsule (kg/m³; water is 1000)")
    strength: float = setting(1.0, label="Strength", min=0.0, soft_max=10.0, precision=3, cli=True,
                              description="Multiplier of every joint motor's strength")
    friction: float = setting(1.0, label="Friction", min=0.0, soft_max=3.0, precision=3, cli=True,
                              description="Friction of the feet on the ground and the obstacles")
    radius_source: str = setting("length", label="Radius From", choices=RADIUS_SOURCES,
                                 description="Where each capsule's radius comes from (a bone's rig_dojo_radius "
                                             "custom property overrides it)")
    radius_ratio: float = setting(0.12, label="Radius Ratio", min=1e-4, soft_max=0.5, precision=3, advanced=True,
                                  description="Capsule radius as a fraction of the bone's length (Radius From: "
                                              "Length)")
    soles: bool = setting(True, label="Soles", advanced=True,
                          description="Feet stand on flat soles: a bone within 40° of flat whose lower end rests on the "
                                      "ground at rest gets a sole on the ground from a heel behind its upper end to its "
                                      "lower end (off: only the bones' capsules touch the ground, so an ankle-to-toe foot "
                                      "stands on its toe tip)")
    sole_width: float = setting(0.0, label="Sole Width", min=0.0, max=20.0, advanced=True, cli=True,
                                description="How wide a sole is across the foot, in the foot bone's radius: 2 is "
                                            "one capsule as wide as the bone, round across the foot (no support "
                                            "sideways); more is two capsules with a flat band between them, which "
                                            "a biped balancing on one foot needs; 0 uses the task's own (4 for "
                                            "tracking a clip, 2 otherwise)")
    obstacles: list[str] = setting(default_factory=list, label="Obstacles", kind="objects", advanced=True,
                                   description="Objects that become obstacle boxes, comma-separated (empty: the "
                                               "objects with a rig_dojo_obstacle custom property)")
    platform: str = setting("", label="Platform", kind="object", advanced=True,
                            description="An animated mesh that becomes a moving box the creature stands on")
    root_motion: str = setting("bone", label="Root Motion", choices=ROOT_MOTION,
                               description="Where the bake writes the creature's travel")
    episode_seconds: float = setting(10.0, label="Episode Seconds", min=1e-3, soft_max=60.0, precision=2,
                                     advanced=True, description="Length of a training episode in seconds")
    substeps: int = setting(8, label="Substeps", min=1, soft_max=64, advanced=True,
                            description="Physics steps per frame")
    direction: list[float] = setting(default_factory=lambda: [0.0, -1.0, 0.0], label="Direction", kind="vector",
                                     size=3, subtype="XYZ", advanced=True, tasks=_WALKING,
                                     description="Direction to travel in (horizontal; locomotion and obstacles)")
    target_speed: float = setting(1.0, label="Target Speed", min=1e-3, soft_max=10.0, precision=2, advanced=True,
                                  tasks=_WALKING, description="Wanted forward speed in body sizes per second")
    fall_height: float = setting(0.5, label="Fall Height", min=1e-3, max=1.0, precision=2, advanced=True,
                                 description="An episode ends when the root drops below this fraction of its rest "
                                             "height")
    max_tilt_degrees: float = setting(60.0, label="Max Tilt", min=1e-3, max=180.0, precision=1, advanced=True,
                                      description="An episode ends when the creature tilts more than this many "
                                                  "degrees from upright")
    reset_noise: float = setting(0.05, label="Reset Noise", min=0.0, soft_max=0.5, precision=3, advanced=True,
                                 description="Random joint angles at the start of an episode (radians)")
    push: float = setting(0.0, label="Push", min=0.0, soft_max=5.0, precision=3, advanced=True,
                          description="Random spin of the root at the start of an episode (rad/s, standard "
                                      "deviation; 0: none)")
    jump_height: float = setting(0.15, label="Jump Height", min=1e-3, soft_max=2.0, precision=3, advanced=True,
                                 tasks=("jump",),
                                 description="Rise of the centre of mass (body sizes) that counts as a jump")
    obstacle_heights: list[float] = setting(default_factory=lambda: [0.02, 0.05, 0.08, 0.12], kind="numbers",
                                            label="Obstacle Heights", advanced=True, tasks=("obstacles",),
                                            description="The obstacle course's stages: the obstacle's height at "
                                                        "each (body sizes), comma-separated, growing")
    obstacle_distance: float = setting(1.0, label="Obstacle Distance", min=1e-3, soft_max=10.0, precision=2,
                                       advanced=True, tasks=("obstacles",),
                                       description="How far ahead the obstacle stands (body sizes)")
    action_scale: float = setting(0.0, label="Action Scale", min=0.0, max=1.0, precision=2, advanced=True,
                                  description="How far from rest toward a joint limit a full action asks the servo "
                                              "to go; 0 uses the task's default (0.5 walking, 0.35 tracking)")

    reference: str = setting("", label="Reference", cli=True, tasks=_TRACK,
                             description="The clip to track: an Action on the rig (its name) or a BVH file (a path "
                                         "ending in .bvh), mapped to the rig by bone names")
    reference_loop: bool = setting(True, label="Loop Reference", tasks=_TRACK,
                                   description="Play the clip again from its first frame when it ends, carrying on "
                                               "from where the last cycle took the root (a walk or trot cycle); off: "
                                               "hold its last frame")
    reference_map: dict[str, str] = setting(default_factory=dict, label="Bone Map", kind="json", advanced=True,
                                            tasks=_TRACK,
                                            description="Clip bone -> rig bone as a JSON object, over the automatic "
                                                        "map (identical names, Rigify's DEF-/ORG-/_fk names); an empty "
                                                        "value leaves a bone out")
    shove: float = setting(0.5, label="Shoves", min=0.0, soft_max=3.0, precision=2, advanced=True, tasks=_TRACK,
                           description="While training, shove the creature's root in a random horizontal direction "
                                       "at half to all of this speed (sizes per second) about every two seconds, so "
                                       "the tracked motion survives a push (0: no shoves; at 1 the walk and trot "
                                       "took about twice as long to track)")
    track_tolerance: float = setting(5.0, label="Track Tolerance", min=1e-3, soft_max=45.0, precision=1,
                                     advanced=True, tasks=_TRACK,
                                     description="Mean joint angle error (degrees) within which a step counts as "
                                                 "tracking the reference")
    pin_tolerance: float = setting(10.0, label="Pin Tolerance", min=1e-3, soft_max=45.0, precision=1, tasks=PIN_TASKS,
                                   description="Degrees (root-mean-square over its hinges) within which a pose pin "
                                               "counts as hit")
    pin_distance: float = setting(0.1, label="Pin Distance", min=1e-4, soft_max=1.0, precision=3, tasks=PIN_TASKS,
                                  description="Creature sizes within which a pinned point (the keyed root, a bone "
                                              "on an object) counts as hit")

    def validate(self, config=None) -> None:
        """RigDojoError naming the key for values that parse but make no sense."""
        from ...errors import RigDojoError

        check_choices(self, "physics")
        if not self.density > 0:
            raise RigDojoError(f"physics.density must be greater than 0 kg/m³ (found {self.density:g}): "
                               "a body without mass cannot be simulated; e.g. 1000 (water)")
        for key in ("strength", "friction", "push", "reset_noise", "shove"):
            value = getattr(self, key)
            if not value >= 0:
                raise RigDojoError(f"physics.{key} must not be negative (found {value:g})")
        for key in ("radius_ratio", "episode_seconds", "target_speed", "fall_height", "max_tilt_degrees",
                    "jump_height", "obstacle_distance", "track_tolerance", "pin_tolerance", "pin_distance"):
            value = getattr(self, key)
            if not value > 0:
                raise RigDojoError(f"physics.{key} must be greater than 0 (found {value:g})")
        if not 0.0 <= self.action_scale <= 1.0:
            raise RigDojoError(f"physics.action_scale must be between 0 (the task's default) and 1 "
                               f"(found {self.action_scale:g})")
        if self.substeps < 1:
            raise RigDojoError(f"physics.substeps must be at least 1 (found {self.substeps})")
        if not (self.sole_width == 0.0 or 2.0 <= self.sole_width <= 20.0):
            raise RigDojoError(f"physics.sole_width must be between 2 (a sole as wide as the foot bone) and 20 "
                               f"of the foot bone's radius, or 0 for the task's own (found {self.sole_width:g})")
        if len(self.direction) != 3 or math.hypot(self.direction[0], self.direction[1]) < 1e-9 \
                or not all(math.isfinite(v) for v in self.direction):
            raise RigDojoError(f"physics.direction must be a horizontal 3D vector like [0.0, -1.0, 0.0] "
                               f"(found {self.direction})")
        for key, value in self.reference_map.items():
            if not isinstance(value, str):
                raise RigDojoError(f"physics.reference_map[{key!r}]: give a bone name (a string), not {value!r}")
        if not self.obstacle_heights or any(not h > 0 for h in self.obstacle_heights):
            raise RigDojoError(f"physics.obstacle_heights must be a non-empty list of heights > 0 "
                               f"(found {self.obstacle_heights})")
