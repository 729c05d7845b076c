"""The extension as a user gets it: the built zip installs, enables, disables and enables again cleanly.

These run in a fresh interpreter: the installed extension registers the same
class names as the development checkout the other tests register.
"""

from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path

import pytest

from harness import REPO_ROOT, run_python

sys.path.insert(0, str(REPO_ROOT / "tools"))
import build  # noqa: E402

MODULE = "bl_ext.user_default.rig_dojo"

# A fingerprint of everything register() may add: classes, Scene properties,
# handlers, the CLI command's sys.path entry, our timers.
SNAPSHOT = r'''
import bpy, sys
def snapshot():
    handlers = {n: len(getattr(bpy.app.handlers, n)) for n in dir(bpy.app.handlers)
                if isinstance(getattr(bpy.app.handlers, n), list)}
    classes = sorted(n for n in dir(bpy.types) if "RIGDOJO" in n.upper() or "RIG_DOJO" in n.upper())
    ops = sorted(dir(bpy.ops.rig_dojo))
    timers = []
    for name, mod in list(sys.modules.items()):
        if name.startswith("bl_ext.user_default.rig_dojo"):
            for fn in vars(mod).values():
                if callable(fn) and getattr(fn, "__module__", "") == name and bpy.app.timers.is_registered(fn):
                    timers.append(f"{name}.{fn.__name__}")
    return {"handlers": handlers, "classes": classes, "ops": ops, "timers": timers,
            "scene_prop": hasattr(bpy.types.Scene, "rig_dojo"), "sys_path": list(sys.path)}
'''


@pytest.fixture(scope="module")
def extension_zip(tmp_path_factory) -> Path:
    (path,) = build.build(tmp_path_factory.mktemp("dist"))
    return path


def test_zip_leaves_out_tests_benchmarks_caches_and_venvs(extension_zip):
    names = zipfile.ZipFile(extension_zip).namelist()
    assert "blender_manifest.toml" in names and "__init__.py" in names
    assert "operators/__init__.py" in names and "panels/main.py" in names
    for name in names:
        top = name.split("/")[0]
        assert top not in {"tests", "bench", "tools", ".venv", ".venv-lint", ".git", "dist", "runs", ".ci"}, name
        assert "__pycache__" not in name and not name.endswith(".pyc"), name
    from rig_dojo.agents.library import ENTRIES  # the library ships in the zip: every entry and its recipe

    assert {f"library/{n}.{ext}" for n in ENTRIES for ext in ("rdpolicy", "json")} <= set(names)


def test_build_excludes_follow_gitignore_syntax():
    patterns = ["__pycache__/", "*.pyc", ".*", "/tests/"]
    assert build.is_excluded("tests", True, patterns)
    assert not build.is_excluded("envs/tests", True, patterns)  # anchored to the root
    assert build.is_excluded("envs/__pycache__", True, patterns)
    assert not build.is_excluded("__pycache__", False, patterns)  # a file of that name is not a folder
    assert build.is_excluded("envs/x.pyc", False, patterns)
    assert build.is_excluded(".venv", True, patterns)


def test_platform_zips_list_their_bundled_wheels(tmp_path):
    import tomllib

    wheels = tmp_path / "wheels"
    wheels.mkdir()
    for name in ("tiny-1.0-py3-none-any.whl", "fast-2.0-cp311-cp311-manylinux_2_28_x86_64.whl",
                 "fast-2.0-cp311-cp311-win_amd64.whl"):
        with zipfile.ZipFile(wheels / name, "w") as zf:
            zf.writestr("placeholder.txt", name)
    zips = {p.name: p for p in build.build(tmp_path / "dist", wheels)}
    assert sorted(zips) == ["rig_dojo-0.1.0-linux_x64.zip", "rig_dojo-0.1.0-windows_x64.zip"]
    with zipfile.ZipFile(zips["rig_dojo-0.1.0-linux_x64.zip"]) as zf:
        manifest = tomllib.loads(zf.read("blender_manifest.toml").decode())
        assert manifest["platforms"] == ["linux-x64"]
        assert manifest["wheels"] == [
            "./wheels/fast-2.0-cp311-cp311-manylinux_2_28_x86_64.whl", "./wheels/tiny-1.0-py3-none-any.whl"
        ]
        assert set(n for n in zf.namelist() if n.startswith("wheels/")) == {w[2:] for w in manifest["wheels"]}
        assert manifest["permissions"]["files"]  # the rest of the manifest is kept


def test_zip_installs_enables_disables_and_enables_again_cleanly(extension_zip):
    code = SNAPSHOT + r'''
import addon_utils, json, os
zip_path = sys.argv[1]
baseline = snapshot()
bpy.ops.extensions.package_install_files(filepath=zip_path, repo="user_default", enable_on_install=True)
repo = next(r for r in bpy.context.preferences.extensions.repos if r.module == "user_default")
installed_dir = os.path.join(repo.directory, "rig_dojo")
report = {"installed": os.path.isfile(os.path.join(installed_dir, "__init__.py")),
          "enabled_after_install": MODULE in bpy.context.preferences.addons}
first = snapshot()
report["first"] = {k: first[k] for k in ("classes", "ops", "scene_prop")}
# the sidebar panel and the preferences draw against real Blender data
panel_cls = bpy.types.VIEW3D_PT_rig_dojo
report["panel"] = [panel_cls.bl_space_type, panel_cls.bl_region_type, panel_cls.bl_category]
report["prefs_idname"] = type(bpy.context.preferences.addons[MODULE].preferences).bl_idname
addon_utils.disable(MODULE, default_set=True)
report["after_disable_equal"] = snapshot() == baseline
addon_utils.enable(MODULE, default_set=True)
report["after_reenable_equal"] = {k: snapshot()[k] for k in ("classes", "ops", "scene_prop")} == report["first"]
addon_utils.disable(MODULE, default_set=True)
report["after_second_disable_equal"] = snapshot() == baseline
bpy.ops.extensions.package_uninstall(repo_index=list(bpy.context.preferences.extensions.repos).index(repo),
                                     pkg_id="rig_dojo")
report["removed"] = not os.path.exists(installed_dir)
print("REPORT" + json.dumps(report))
sys.stdout.flush()
os._exit(0)  # skip the bpy module's teardown, which crashes in the 4.2-4.5 wheels
'''.replace("MODULE", repr(MODULE))
    proc = run_python(code, str(extension_zip))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("REPORT"))
    report = json.loads(line[len("REPORT"):])
    assert report["installed"] and report["enabled_after_install"]
    assert "VIEW3D_PT_rig_dojo" in report["first"]["classes"]
    assert "RIG_DOJO_OT_install_dependencies" in report["first"]["classes"]
    assert "install_dependencies" in report["first"]["ops"]
    assert report["first"]["scene_prop"]
    assert report["panel"] == ["VIEW_3D", "UI", "Dojo"]
    assert report["prefs_idname"] == MODULE
    assert report["after_disable_equal"], "disable left classes, properties, handlers, timers or paths behind"
    assert report["after_reenable_equal"]
    assert report["after_second_disable_equal"]
    assert report["removed"]


def test_the_installed_extension_trains_in_its_worker_process(extension_zip, tmp_path):
    """Installed, the package is ``bl_ext.user_default.rig_dojo``, a name only Blender's process can import: the
    sidebar's training process (agents/worker.py) imports it by that name from the installed folder, trains,
    and stops with the run saved."""
    code = r'''
import bpy, importlib, json, os, sys, time
import addon_utils
zip_path, run_dir = sys.argv[1], sys.argv[2]
bpy.ops.extensions.package_install_files(filepath=zip_path, repo="user_default", enable_on_install=True)
ext = importlib.import_module("MODULE")
scenes = importlib.import_module("MODULE.scene.builders.scenes")
live = importlib.import_module("MODULE.live")
objs = scenes.build_demo_scene()  # factory settings: the add-ons go, so enable it again
addon_utils.enable("MODULE", default_set=True)
s = bpy.context.scene.rig_dojo
s.rig, s.task, s.controls, s.effector, s.region = objs["rig"], "reach", "upper_arm, forearm", "hand", objs["region"]
s.run_dir = run_dir
prefs = bpy.context.preferences.addons["MODULE"].preferences
report = {"preference": prefs.training_process, "spare_core": prefs.spare_core}
report["train"] = sorted(bpy.ops.rig_dojo.train())
run = live.current()
session = run.session
report["session"] = [type(session).__module__, type(session).__name__, session.pid != os.getpid()]
end = time.monotonic() + 120
while (session.latest() is None or session.latest().step < 20000) and time.monotonic() < end:
    live.tick()
    time.sleep(0.05)
report["step"] = session.latest().step if session.latest() else 0
report["mine"] = sorted(os.sched_getaffinity(0))  # Blender's main thread: every core
report["child"] = [sorted(os.sched_getaffinity(int(t))) for t in os.listdir(f"/proc/{session.pid}/task")]
report["stop"] = sorted(bpy.ops.rig_dojo.stop())
report["state"], report["error"] = run.state, run.error
report["policy"] = os.path.isfile(os.path.join(run_dir, "final.rdpolicy"))
print("REPORT" + json.dumps(report))
sys.stdout.flush()
os._exit(0)
'''.replace("MODULE", MODULE)
    proc = run_python(code, str(extension_zip), str(tmp_path / "run"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    report = json.loads(next(ln for ln in proc.stdout.splitlines() if ln.startswith("REPORT"))[len("REPORT"):])
    assert report["preference"] is True and report["spare_core"] is True and report["train"] == ["FINISHED"]
    left = report["mine"][1:] or report["mine"]  # the worker leaves a core to Blender (one-core machine: none)
    assert len(report["child"]) >= 2 and all(cores == left for cores in report["child"]), report
    assert report["session"] == [f"{MODULE}.agents.worker", "WorkerSession", True]
    assert report["step"] >= 20000, report
    assert report["stop"] == ["FINISHED"] and report["state"] == "stopped" and report["error"] is None
    assert report["policy"]
