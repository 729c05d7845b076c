"""The top panel of the Dojo tab: the dependency status line, the run's one-line status, config files."""

import bpy

from .. import deps, live

STATE_LABELS = {"running": "Training", "paused": "Paused", "stopping": "Stopping", "stopped": "Stopped",
                "finished": "Finished", "error": "Failed", "idle": "Starting"}


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
        run = live.current()
        if run is not None:
            text = f"{STATE_LABELS.get(run.state, run.state)}: {run.rig_name}"
            if run.state == "error":
                layout.label(text=text, icon='ERROR')
            elif run.active:
                layout.label(text=text, icon='PLAY')
            else:
                layout.label(text=text, icon='CHECKMARK')
        row = layout.row(align=True)
        row.operator("rig_dojo.import_config", text="Import", icon='IMPORT')
        row.operator("rig_dojo.export_config", text="Export", icon='EXPORT')


classes = (VIEW3D_PT_rig_dojo,)
register, unregister = bpy.utils.register_classes_factory(classes)
