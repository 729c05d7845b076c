"""Rig & Task: which rig, which bones move, what they reach for; Verify."""

import bpy

from .. import live
from .common import DojoSubPanel, wrapped


class VIEW3D_PT_rig_dojo_rig(DojoSubPanel, bpy.types.Panel):
    bl_label = "Rig & Task"

    def draw(self, context):
        layout = self.layout
        layout.use_property_split = True
        layout.use_property_decorate = False
        settings = context.scene.rig_dojo
        rig = settings.rig if settings.rig is not None and settings.rig.type == 'ARMATURE' else None
        layout.prop(settings, "rig")
        if rig is None:
            active = context.active_object
            if active is not None and active.type != 'ARMATURE':
                layout.label(text=f"{active.name} is a {active.type.lower()}, not an armature", icon='INFO')
            layout.label(text="Pick the armature to train", icon='INFO')
        layout.prop(settings, "task")
        grasp = settings.task == 'grasp'

        col = layout.column()
        col.prop(settings, "controls")
        row = col.row()
        row.operator("rig_dojo.controls_from_selection", icon='RESTRICT_SELECT_OFF')
        if rig is not None:
            row = col.row(align=True)
            row.prop_search(settings, "control_collection", rig.data, "collections_all", text="Collection")
            row.operator("rig_dojo.controls_from_collection", text="", icon='CHECKMARK')
            col.prop_search(settings, "effector", rig.data, "bones")
        else:
            col.prop(settings, "effector")
        col.prop(settings, "tracked", text="Fingertips" if grasp else "Tracked")
        if rig is not None:
            col.prop_search(settings, "tracked_pick", rig.data, "bones", text="Add")

        col = layout.column()
        col.prop(settings, "target", text="Grasp Object" if grasp else "Target")
        if not grasp:
            col.prop(settings, "region")
        col.prop(settings, "episode_length")
        col.prop(settings, "tolerance")
        col.prop(settings, "discrete")

        layout.operator("rig_dojo.verify", icon='VIEWZOOM')
        result = live.results.get("verify")
        if result is not None and rig is not None and result[0] == rig.name:
            _, text, exact = result
            box = layout.box()
            wrapped(box, context, text, icon='CHECKMARK' if exact else 'ERROR')


classes = (VIEW3D_PT_rig_dojo_rig,)
register, unregister = bpy.utils.register_classes_factory(classes)
