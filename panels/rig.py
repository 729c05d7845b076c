"""Rig & Task: which rig (or camera), what it learns, the task's own settings; Verify."""

import bpy

from .. import live
from ..envs.families import family_of
from ..errors import a_or_an
from .common import DojoSubPanel, wrapped


class VIEW3D_PT_rig_dojo_rig(DojoSubPanel, bpy.types.Panel):
    bl_label = "Rig & Task"

    def draw(self, context):
        layout = self.layout
        layout.use_property_split = True
        layout.use_property_decorate = False
        settings = context.scene.rig_dojo
        family = family_of(settings.task)
        edge = family.edge_hooks()
        rig = settings.rig if settings.rig is not None and settings.rig.type == 'ARMATURE' else None
        if family.uses_rig:  # the camera task moves a camera, not a rig
            layout.prop(settings, "rig")
            if rig is None:
                active = context.active_object
                if active is not None and active.type != 'ARMATURE':
                    layout.label(text=f"{active.name} is {a_or_an(active.type.lower())}, not an armature", icon='INFO')
                layout.label(text="Pick the armature to train", icon='INFO')
        layout.prop(settings, "task")
        edge.draw_task(layout, context, settings)

        layout.operator("rig_dojo.verify", icon='VIEWZOOM')  # its poll says why when the family has no Verify
        result = live.results.get("verify")
        if edge.can_verify and result is not None and rig is not None and result[0] == rig.name:
            text, exact = result[1], result[2]
            outcome = result[3] if len(result) > 3 else ("exact" if exact else "not exact")
            box = layout.box()
            # exact, close (an IK solve a rounding apart from Blender's: the worst error is in the text), not exact
            wrapped(box, context, text, icon={'exact': 'CHECKMARK', 'close': 'INFO'}.get(outcome, 'ERROR'))
        switches = live.results.get("switches")
        if rig is not None and switches is not None and switches[0] == rig.name:
            for bone, prop, value in switches[1]:  # a refusal named the rig's switch (IK/FK): one click sets it
                op = layout.operator("rig_dojo.set_switch", text=f'Set {bone}["{prop}"] = {value}', icon='ARROW_LEFTRIGHT')
                op.bone, op.prop, op.value = bone, prop, value


class VIEW3D_PT_rig_dojo_rig_advanced(bpy.types.Panel):
    """The task family's less used settings (when it has any)."""

    bl_space_type = 'VIEW_3D'
    bl_region_type = 'UI'
    bl_category = "Dojo"
    bl_parent_id = "VIEW3D_PT_rig_dojo_rig"
    bl_label = "Advanced"
    bl_options = {'DEFAULT_CLOSED'}

    @classmethod
    def poll(cls, context):
        return family_of(context.scene.rig_dojo.task).edge_hooks().draw_advanced is not None

    def draw(self, context):
        layout = self.layout
        layout.use_property_split = True
        layout.use_property_decorate = False
        settings = context.scene.rig_dojo
        family_of(settings.task).edge_hooks().draw_advanced(layout, settings)


classes = (VIEW3D_PT_rig_dojo_rig, VIEW3D_PT_rig_dojo_rig_advanced)
register, unregister = bpy.utils.register_classes_factory(classes)
