"""Rig Dojo: teach rigs to move by reinforcement learning, inside Blender.

This package is both the Blender extension (``register``/``unregister``) and the
library behind ``python -m rig_dojo``. Nothing here imports ``bpy``, torch or
Stable-Baselines3 at import time, so ``import rig_dojo.rewards`` works where
there is no Blender and the add-on registers where the training dependencies
are missing (DESIGN.md, rule 1).
"""

from .errors import RigDojoError

__all__ = ["RigDojoError", "register", "unregister"]

# Registered in this order, unregistered in reverse (like Rigify / Pose Library).
_SUBMODULES = ("props", "preferences", "operators", "panels")

_cli_handle = None


def _modules():
    import importlib

    return [importlib.import_module(f".{name}", __package__) for name in _SUBMODULES]


def register() -> None:
    import bpy

    from . import cli, deps

    deps.activate_user_site(__package__)
    for module in _modules():
        module.register()

    global _cli_handle
    if _cli_handle is None and hasattr(bpy.utils, "register_cli_command"):
        _cli_handle = bpy.utils.register_cli_command("rig_dojo", cli.blender_command)


def unregister() -> None:
    import bpy

    from . import deps

    global _cli_handle
    if _cli_handle is not None:
        bpy.utils.unregister_cli_command(_cli_handle)
        _cli_handle = None
    for module in reversed(_modules()):
        module.unregister()
    deps.deactivate_user_site()
