"""DESIGN.md rule 1: bpy stays at the edges.

Every module under the bpy-free core (``envs/``, ``rewards/``, ``agents/``) imports with bpy
blocked; there is no exemption list. Every module under the edge folder ``scene/`` imports bpy
or mathutils, or says why not.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from core_harness import REPO_ROOT, run_python

CORE_PACKAGES = ("rewards", "agents", "envs")
EDGE_PACKAGE = "scene"
BPY_IMPORT = re.compile(r"^\s*(import (bpy|mathutils|bmesh)\b|from (bpy|mathutils|bmesh|bpy_extras)\b)", re.M)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO_ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(["rig_dojo", *parts])


def core_files() -> list[Path]:
    return sorted(p for package in CORE_PACKAGES for p in (REPO_ROOT / package).rglob("*.py"))


def core_modules() -> list[str]:
    return ["rig_dojo", "rig_dojo.errors", "rig_dojo.deps", *(module_name(p) for p in core_files())]


BLOCK_BPY = r'''
import importlib, json, sys
class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("bpy", "mathutils", "bpy_extras", "bmesh", "addon_utils"):
            raise ImportError(f"bpy is blocked in this test: {name}")
sys.meta_path.insert(0, Blocker())
try:
    import bpy
except ImportError:
    pass
else:
    raise SystemExit("the blocker did not block bpy")
imported, failed = [], {}
for name in json.loads(sys.argv[1]):
    try:
        importlib.import_module(name)
        imported.append(name)
    except Exception as exc:
        failed[name] = repr(exc)
leaked = sorted(m for m in sys.modules if m.split(".")[0] in ("bpy", "mathutils", "bpy_extras"))
print("REPORT" + json.dumps({"imported": imported, "failed": failed, "leaked": leaked}))
'''


def _report(modules: list[str]) -> dict:
    proc = run_python(BLOCK_BPY, json.dumps(modules))
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(next(ln for ln in proc.stdout.splitlines() if ln.startswith("REPORT"))[6:])


def test_every_core_module_imports_where_importing_bpy_raises():
    modules = core_modules()
    # the walk reaches into the family subpackages
    assert {"rig_dojo.envs.kinematic.twin", "rig_dojo.envs.camera.twin", "rig_dojo.envs.physics.twin"} <= set(modules)
    report = _report(modules)
    assert report["failed"] == {}
    assert report["imported"] == modules
    assert report["leaked"] == []


def test_blocker_catches_a_module_that_imports_bpy():
    # the harness itself must be able to fail
    report = _report(["rig_dojo.scene.builders.scenes"])
    assert "rig_dojo.scene.builders.scenes" in report["failed"]


def test_core_sources_have_no_bpy_import_statement():
    # not even inside a function: these modules run on workers where there is no Blender
    offenders = [f"{p.relative_to(REPO_ROOT)}: {m.group(0).strip()}"
                 for p in core_files() for m in BPY_IMPORT.finditer(p.read_text())]
    assert offenders == []


def test_every_edge_module_imports_bpy_or_says_why_not():
    files = sorted((REPO_ROOT / EDGE_PACKAGE).rglob("*.py"))
    assert len(files) > 10
    silent = [str(p.relative_to(REPO_ROOT)) for p in files
              if not BPY_IMPORT.search(p.read_text()) and not re.search(r"^# no bpy: \S", p.read_text(), re.M)]
    assert silent == []


def test_no_module_outside_the_edge_and_the_sidebar_imports_bpy_at_the_top():
    # bpy at module level only in the registration, property groups, operators, panels, live and scene/
    allowed = {"props.py", "preferences.py", "live.py", "props_config.py", "demo.py", "headless.py", "cli.py"}
    top_level = re.compile(r"^(import bpy|from bpy|import mathutils|from mathutils)\b", re.M)
    offenders = []
    for p in sorted(REPO_ROOT.glob("*.py")):
        if p.name not in allowed and top_level.search(p.read_text()):
            offenders.append(p.name)
    assert offenders == []
