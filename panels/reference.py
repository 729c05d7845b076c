"""Reference & Pins: keyed poses and effector positions the motion must pass through, and a style clip
(drawn by the task family's ``draw_reference`` hook, for the families that have one)."""

import bpy

from ..envs.families import family_of
from .common import DojoSubPanel


def _draw_hook(context):
    return getattr(family_of(context.scene.rig_dojo.task).edge_hooks(), "draw_reference", None)


class VIEW3D_PT_rig_dojo_reference(DojoSubPanel, bpy.types.Panel):
    bl_label = "Reference & Pins"
    bl_options = {'DEFAULT_CLOSED'}

    @classmethod
    def poll(cls, context):
        return _draw_hook(context) is not None

    def draw(self, context):
        layout = self.layout
        layout.use_property_split = True
        layout.use_property_decorate = False
        _draw_hook(context)(layout, context, context.scene.rig_dojo)


classes = (VIEW3D_PT_rig_dojo_reference,)
register, unregister = bpy.utils.register_classes_factory(classes)
