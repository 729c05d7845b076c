"""Export and import the settings as the TOML file the command line reads (``TrainConfig``)."""

import bpy
from bpy_extras.io_utils import ExportHelper, ImportHelper

from ..agents.config import TrainConfig
from ..errors import RigDojoError
from ..props import config_to_settings, settings_to_config


class RIGDOJO_OT_export_config(bpy.types.Operator, ExportHelper):
    """Save these settings as a TOML file for the command line (rig_dojo train --config FILE)"""

    bl_idname = "rig_dojo.export_config"
    bl_label = "Export Config"

    filename_ext = ".toml"
    filter_glob: bpy.props.StringProperty(default="*.toml", options={'HIDDEN'})
    filepath: bpy.props.StringProperty(name="File Path", subtype='FILE_PATH', options={'SKIP_SAVE'})

    def execute(self, context):
        try:
            config = settings_to_config(context.scene.rig_dojo)
            config.save(self.filepath)
        except RigDojoError as exc:
            self.report({'ERROR'}, str(exc))
            return {'CANCELLED'}
        except OSError as exc:
            self.report({'ERROR'}, f"cannot write {self.filepath}: {exc.strerror}")
            return {'CANCELLED'}
        self.report({'INFO'}, f"Saved the settings to {self.filepath}")
        return {'FINISHED'}


class RIGDOJO_OT_import_config(bpy.types.Operator, ImportHelper):
    """Load settings from a TOML file (the command line's format); objects it names must be in this file"""

    bl_idname = "rig_dojo.import_config"
    bl_label = "Import Config"
    bl_options = {'REGISTER', 'UNDO'}

    filename_ext = ".toml"
    filter_glob: bpy.props.StringProperty(default="*.toml", options={'HIDDEN'})
    filepath: bpy.props.StringProperty(name="File Path", subtype='FILE_PATH', options={'SKIP_SAVE'})

    def execute(self, context):
        try:
            config = TrainConfig.load(self.filepath)
            config_to_settings(config, context.scene.rig_dojo)
        except RigDojoError as exc:
            self.report({'ERROR'}, str(exc))
            return {'CANCELLED'}
        self.report({'INFO'}, f"Loaded the settings from {self.filepath}")
        return {'FINISHED'}


classes = (RIGDOJO_OT_export_config, RIGDOJO_OT_import_config)
register, unregister = bpy.utils.register_classes_factory(classes)
