"""Register a package's submodules in order and unregister them in reverse (Rigify's and Pose Library's
pattern), for ``operators/`` and ``panels/``."""

from __future__ import annotations

import importlib
from typing import Callable


def submodule_registration(package: str, names: tuple[str, ...]) -> tuple[Callable[[], None], Callable[[], None]]:
    """``register, unregister`` for the submodules ``names`` of ``package``."""

    def modules():
        return [importlib.import_module(f".{name}", package) for name in names]

    def register() -> None:
        for module in modules():
            module.register()

    def unregister() -> None:
        for module in reversed(modules()):
            module.unregister()

    return register, unregister
