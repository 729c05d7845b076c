"""Add-on preferences: the dependency check and "Install dependencies"."""

import bpy
from bpy.types import AddonPreferences

from . import deps

_PACKAGE = __package__


class RigDojoPreferences(AddonPreferences):
    bl_idname = _PACKAGE

    def draw(self, context):
        layout = self.layout
        absent = deps.missing()
        installer = deps.current
        col = layout.column()
        if installer is not None and installer.poll() is None:
            col.label(text="Installing dependencies... (Blender stays usable)", icon='SORTTIME')
        elif installer is not None and installer.returncode not in (None, 0):
            col.label(text=f"Install failed: {installer.last_error()}", icon='ERROR')
            col.label(text=f"Full log: {installer.log_path}")
        if absent:
            col.label(text=f"Missing: {', '.join(absent)}", icon='ERROR')
            col.label(text=f"Installs into {deps.user_site(_PACKAGE)}")
            col.operator("rig_dojo.install_dependencies", icon='IMPORT')
        else:
            col.label(text="All training dependencies found", icon='CHECKMARK')
        if deps.missing(["ray"]):  # optional: sweeps on Ray and Blender workers on a Ray cluster
            row = col.row()
            row.label(text="Optional: Ray, for sweeps of many trainings", icon='INFO')
            row.operator("rig_dojo.install_ray", icon='IMPORT')
        else:
            col.label(text="Ray found: sweeps are available", icon='CHECKMARK')


classes = (RigDojoPreferences,)
register, unregister = bpy.utils.register_classes_factory(classes)
