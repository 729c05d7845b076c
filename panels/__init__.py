"""The "Dojo" tab of the 3D viewport sidebar, registered in the order of ``submodules``."""

import importlib

submodules = ("main", "rig", "rewards", "training", "run", "bake", "render_tune")


def _modules():
    return [importlib.import_module(f".{name}", __package__) for name in submodules]


def register() -> None:
    for module in _modules():
        module.register()


def unregister() -> None:
    for module in reversed(_modules()):
        module.unregister()
