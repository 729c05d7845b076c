"""Blender operators, registered in the order of ``submodules``."""

import importlib

submodules = ("install_deps", "config_io", "rig", "rewards", "train", "bake", "render_tune")


def _modules():
    return [importlib.import_module(f".{name}", __package__) for name in submodules]


def register() -> None:
    for module in _modules():
        module.register()


def unregister() -> None:
    for module in reversed(_modules()):
        module.unregister()
