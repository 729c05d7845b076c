"""The kinematic family's bake options (no bpy): which controls a rig bake keys.

Not part of a training's config: the Bake panel's properties and the ``bake`` command's flags are
generated from these fields (``Family.bake_options``), and ``scene/kinematic/family.py``'s ``bake``
takes them as keyword arguments.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...agents.schema import setting

KEYS_ON = (("trained", "Trained Controls", "Key the controls the policy moved"),
           ("ik", "IK", "Convert a Rigify limb's motion onto its IK control and pole (switch keyed to IK)"),
           ("fk", "FK", "Convert a Rigify limb's motion onto its FK controls (switch keyed to FK)"))


@dataclass
class KinematicBakeOptions:
    keys_on: str = setting("trained", label="Keys On", choices=KEYS_ON, cli=True,
                           description="Which controls get the keys: the controls the policy was trained on, or a "
                                       "Rigify limb's IK controls (IK control and pole, switch keyed to IK) or FK "
                                       "controls (switch keyed to FK); Blender re-evaluates the result either way")
    target: str = setting("", label="Bake Target", kind="object", cli=True,
                          description="Bake toward this object (still or animated) instead of the target the policy "
                                      "was trained on: a policy trained on a region reaches any point in it. Empty: "
                                      "the trained target (for a region, a random point drawn with the bake's seed); "
                                      "the target used is recorded on the baked Action")
