"""The worker process's first step (``agents/worker.py``), run by ``runpy`` with ``WORKER_BOOT`` in its globals.

The child must import the extension under the very name Blender gave it (the pickled settings and twin spec
name their classes by it), and Blender's extension names (``bl_ext.<repository>.rig_dojo``) exist only in
Blender's process: each package above ours is made here as an empty namespace module over its folder.
Nothing of ours is imported before that, which is why this file is run by path and not imported.
"""

import importlib
import importlib.util
import sys
import types
from pathlib import Path


def boot(conn, package: str, package_dir: str, payload: bytes) -> None:
    folder = Path(package_dir)
    parts = package.split(".")
    for depth in range(1, len(parts)):  # bl_ext, bl_ext.user_default: namespaces over the folders above ours
        name = ".".join(parts[:depth])
        if name not in sys.modules and importlib.util.find_spec(name) is None:
            module = types.ModuleType(name)
            module.__path__ = [str(folder.parents[len(parts) - depth - 1])]
            sys.modules[name] = module
    if len(parts) == 1 and importlib.util.find_spec(package) is None:
        sys.path.insert(0, str(folder.parent))
    worker = importlib.import_module(f"{package}.agents.worker")
    worker.child_main(conn, payload)


if __name__ == "rig_dojo_worker":  # run by runpy.run_path (importing this module does nothing)
    boot(**globals()["WORKER_BOOT"])  # given by run_path's init_globals
