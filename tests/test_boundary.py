"""DESIGN.md rule 1: rewards, agents and the twins import no bpy (they run on workers without Blender)."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import REPO_ROOT, run_python

import rig_dojo.envs


def core_sources() -> list[tuple[str, Path]]:
    """(module name, file) of every core module, sub-packages included (e.g. envs/rendering/)."""
    sources = []
    for package in ("rewards", "agents", "envs"):
        root = REPO_ROOT / package
        for path in sorted(root.rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if package == "envs" and len(parts) == 1 and parts[0] in rig_dojo.envs.BPY_MODULES:
                continue
            sources.append((".".join(("rig_dojo", package, *(p for p in parts if p != "__init__"))), path))
    return sources


def core_modules() -> list[str]:
    return ["rig_dojo", "rig_dojo.errors", "rig_dojo.deps"] + [name for name, _ in core_sources()]


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


def test_core_imports_where_importing_bpy_raises():
    modules = core_modules()
    assert "rig_dojo.rewards" in modules and "rig_dojo.agents" in modules
    assert "rig_dojo.envs.rendering.learner" in modules  # sub-packages are walked too
    proc = run_python(BLOCK_BPY, json.dumps(modules))
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(next(ln for ln in proc.stdout.splitlines() if ln.startswith("REPORT"))[6:])
    assert report["failed"] == {}
    assert report["imported"] == modules
    assert report["leaked"] == []


def test_blocker_catches_a_module_that_imports_bpy():
    # the harness itself must be able to fail: rig_dojo.envs.scenes imports bpy
    proc = run_python(BLOCK_BPY, json.dumps(["rig_dojo.envs.scenes"]))
    report = json.loads(next(ln for ln in proc.stdout.splitlines() if ln.startswith("REPORT"))[6:])
    assert "rig_dojo.envs.scenes" in report["failed"]


def test_core_sources_have_no_bpy_import_statement():
    # not even inside a function: these modules run on workers where there is no Blender
    for _name, path in core_sources():
        for line in path.read_text().splitlines():
            stripped = line.strip()
            assert not stripped.startswith(("import bpy", "from bpy", "import mathutils")), f"{path}: {line}"
