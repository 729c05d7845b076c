"""The command line skeleton and the headless import path."""

from __future__ import annotations

import subprocess
import sys

import bpy

from conftest import REPO_ROOT


def test_python_m_rig_dojo_demo_builds_and_saves_the_scene(tmp_path):
    out = tmp_path / "demo"
    proc = subprocess.run([sys.executable, "-m", "rig_dojo", "demo", "--out", str(out)],
                          capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (out / "demo.blend").is_file()
    assert "upper_arm, forearm, hand" in proc.stdout
    # the saved file reopens with the rig remembered in the settings stored in the .blend
    code = ("import bpy, rig_dojo, sys; rig_dojo.register(); bpy.ops.wm.open_mainfile(filepath=sys.argv[1]);"
            "print('RIG=' + bpy.context.scene.rig_dojo.rig.name)")
    check = subprocess.run([sys.executable, "-c", code, str(out / "demo.blend")],
                           capture_output=True, text=True, timeout=600)
    assert "RIG=Arm" in check.stdout, check.stderr[-2000:]


def test_unknown_subcommand_is_a_usage_error(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "rig_dojo", "no-such-thing"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert proc.returncode == 2
    assert "invalid choice" in proc.stderr


def test_register_unregister_in_process_is_clean(dojo_registered):
    import rig_dojo

    assert hasattr(bpy.types.Scene, "rig_dojo")
    rig_dojo.unregister()
    try:
        assert not hasattr(bpy.types.Scene, "rig_dojo")
        assert not hasattr(bpy.types, "VIEW3D_PT_rig_dojo")
    finally:
        rig_dojo.register()
    assert hasattr(bpy.types, "VIEW3D_PT_rig_dojo")


def test_the_package_is_the_repository_root():
    import rig_dojo

    assert rig_dojo.__file__ == str(REPO_ROOT / "__init__.py")
