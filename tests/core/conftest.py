"""The bpy-free core's tests (rewards, agents, the family registry, twins and tasks without Blender).

With ``RIG_DOJO_BLOCK_BPY=1`` (``./dojo test`` sets it for this folder) importing bpy, mathutils or
bpy_extras raises here, so these tests prove the core needs no Blender (DESIGN.md, rule 1).
"""

from __future__ import annotations

import os
import sys

_BLOCKED = ("bpy", "mathutils", "bpy_extras", "bmesh", "addon_utils")


class _BpyBlocker:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in _BLOCKED:
            raise ImportError(f"{name} is blocked in the core tests: this code must run without Blender")
        return None


if os.environ.get("RIG_DOJO_BLOCK_BPY") == "1":
    sys.meta_path.insert(0, _BpyBlocker())
