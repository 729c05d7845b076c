"""Slow training tests without Blender: the algorithms learning the toy task, a killed run resuming.

Split from ``tests/core`` so that the core's tests stay quick (seconds); these train for tens of seconds.
With ``RIG_DOJO_BLOCK_BPY=1`` (``./dojo test`` sets it for this folder) importing bpy, mathutils or
bpy_extras raises here, as in ``tests/core`` (DESIGN.md, rule 1). The toy task and the helpers are
``tests/core/test_agents.py``'s, put on the path here.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

CORE_TESTS = Path(__file__).resolve().parent.parent / "core"
if str(CORE_TESTS) not in sys.path:
    sys.path.insert(0, str(CORE_TESTS))

_BLOCKED = ("bpy", "mathutils", "bpy_extras", "bmesh", "addon_utils")


class _BpyBlocker:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in _BLOCKED:
            raise ImportError(f"{name} is blocked in the training tests: this code must run without Blender")
        return None


if os.environ.get("RIG_DOJO_BLOCK_BPY") == "1" and not any(isinstance(f, _BpyBlocker) for f in sys.meta_path):
    sys.meta_path.insert(0, _BpyBlocker())
