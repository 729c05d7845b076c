"""Property groups stored in the .blend (they will mirror TrainConfig)."""

import bpy
from bpy.props import PointerProperty
from bpy.types import PropertyGroup


def _is_armature(_self, obj) -> bool:
    return obj.type == 'ARMATURE'


class RigDojoSettings(PropertyGroup):
    rig: PointerProperty(
        name="Rig",
        description="The armature to train; only armatures can be picked",
        type=bpy.types.Object,
        poll=_is_armature,
    )


classes = (RigDojoSettings,)


def register() -> None:
    for cls in classes:
        bpy.utils.register_class(cls)
    bpy.types.Scene.rig_dojo = PointerProperty(type=RigDojoSettings)  # type: ignore[attr-defined]


def unregister() -> None:
    del bpy.types.Scene.rig_dojo  # type: ignore[attr-defined]
    for cls in reversed(classes):
        bpy.utils.unregister_class(cls)
