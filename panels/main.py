"""The top panel of the Dojo tab: the rig picker and the dependency status line."""

import bpy

from .. import deps


class VIEW3D_PT_rig_dojo(bpy.types.Panel):
    bl_space_type = 'VIEW_3D'
    bl_region_type = 'UI'
    bl_category = "Dojo"
    bl_label = "Rig Dojo"

    def draw(self, context):
        layout = self.layout
        line = deps.status_line()
        if line:
            layout.label(text=line, icon='ERROR')
        settings = context.scene.rig_dojo
        layout.prop(settings, "rig")


classes = (VIEW3D_PT_rig_dojo,)
register, unregister = bpy.utils.register_classes_factory(classes)
