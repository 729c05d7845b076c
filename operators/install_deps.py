"""Install the pinned training dependencies with Blender's own Python."""

import bpy

from .. import deps

_PACKAGE = __package__.rpartition(".")[0]
_POLL_SECONDS = 1.0


def _poll_installer():
    """Timer: redraw the preferences until pip finishes, then make the packages importable."""
    installer = deps.current
    for window in getattr(bpy.context.window_manager, "windows", []):
        for area in window.screen.areas:
            area.tag_redraw()
    if installer is None or installer.poll() is None:
        return _POLL_SECONDS if installer is not None else None
    if installer.returncode == 0:
        deps.activate_user_site(_PACKAGE)
    return None


class RIGDOJO_OT_install_dependencies(bpy.types.Operator):
    """Install torch, Stable-Baselines3, Gymnasium and MuJoCo (pinned versions) into this add-on's user folder"""

    bl_idname = "rig_dojo.install_dependencies"
    bl_label = "Install dependencies"

    @classmethod
    def poll(cls, context):
        if deps.current is not None and deps.current.poll() is None:
            cls.poll_message_set("An installation is already running")
            return False
        return True

    def execute(self, context):
        installer = deps.Installer(target=deps.user_site(_PACKAGE, create=True))
        try:
            installer.start()
        except (RuntimeError, OSError) as exc:
            self.report({'ERROR'}, str(exc))
            return {'CANCELLED'}
        deps.current = installer
        if not bpy.app.timers.is_registered(_poll_installer):
            bpy.app.timers.register(_poll_installer, first_interval=_POLL_SECONDS)
        self.report({'INFO'}, f"Installing dependencies into {installer.target}")
        return {'FINISHED'}


class RIGDOJO_OT_install_ray(bpy.types.Operator):
    """Install Ray Tune (optional: sweeps of many trainings, Blender workers on a Ray cluster) into this add-on's
    user folder"""

    bl_idname = "rig_dojo.install_ray"
    bl_label = "Install Ray"

    @classmethod
    def poll(cls, context):
        return RIGDOJO_OT_install_dependencies.poll(context)

    def execute(self, context):
        installer = deps.Installer(target=deps.user_site(_PACKAGE, create=True), requirements=list(deps.OPTIONAL["ray"]))
        try:
            installer.start()
        except (RuntimeError, OSError) as exc:
            self.report({'ERROR'}, str(exc))
            return {'CANCELLED'}
        deps.current = installer
        if not bpy.app.timers.is_registered(_poll_installer):
            bpy.app.timers.register(_poll_installer, first_interval=_POLL_SECONDS)
        self.report({'INFO'}, f"Installing Ray into {installer.target}")
        return {'FINISHED'}


classes = (RIGDOJO_OT_install_dependencies, RIGDOJO_OT_install_ray)


def register() -> None:
    for cls in classes:
        bpy.utils.register_class(cls)


def unregister() -> None:
    if bpy.app.timers.is_registered(_poll_installer):
        bpy.app.timers.unregister(_poll_installer)
    for cls in reversed(classes):
        bpy.utils.unregister_class(cls)
