"""Add-on preferences: the dependency check and "Install dependencies"."""

import bpy
from bpy.props import BoolProperty
from bpy.types import AddonPreferences

from . import deps

_PACKAGE = __package__


def addon_preferences():
    """This add-on's preferences, or None where Blender has none for it (the ``bpy`` module without the add-on
    enabled through its preferences)."""
    addon = bpy.context.preferences.addons.get(_PACKAGE)
    return getattr(addon, "preferences", None)


class RigDojoPreferences(AddonPreferences):
    bl_idname = _PACKAGE

    training_process: BoolProperty(
        name="Train in a Separate Process",
        description="Run the sidebar's training in a worker process of its own, so that a busy machine does not "
                    "make the viewport and the live preview stutter (off: a thread inside Blender; it starts a "
                    "few seconds sooner)",
        default=True,
    )

    spare_core: BoolProperty(
        name="Keep a Core for Blender",
        description="The training process leaves one of the machine's cores to Blender, so that the viewport and "
                    "the live preview stay smooth while it trains (off: training uses every core; a physics "
                    "training then runs up to about 1.5x faster on 2 cores, and the viewport may stutter)",
        default=True,
    )

    def draw(self, context):
        layout = self.layout
        layout.prop(self, "training_process")
        row = layout.row()
        row.enabled = self.training_process
        row.prop(self, "spare_core")
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
