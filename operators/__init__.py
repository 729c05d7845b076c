"""Blender operators, registered in the order of ``submodules``."""

from ..registration import submodule_registration

submodules = ("install_deps", "config_io", "rig", "rewards", "train", "zero_shot", "bake", "export", "sweep", "render_tune")
register, unregister = submodule_registration(__package__, submodules)
