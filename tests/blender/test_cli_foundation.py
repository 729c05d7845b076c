"""The command line skeleton and the headless import path."""

from __future__ import annotations

import json
import subprocess
import sys

import bpy
import pytest

from harness import REPO_ROOT


@pytest.mark.slow
def test_python_m_rig_dojo_demo_writes_every_file(tmp_path):
    out = tmp_path / "demo"
    proc = subprocess.run([sys.executable, "-m", "rig_dojo", "demo", "--quick", "--out", str(out)],
                          capture_output=True, text=True, cwd=tmp_path, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for name in ("demo.blend", "metrics.csv", "curve.png", "contact_sheet_arm.png", "contact_sheet_human.png",
                 "summary.json", "arm/final.rdpolicy", "human/final.rdpolicy"):
        assert (out / name).is_file(), name
    summary = json.loads((out / "summary.json").read_text())
    for run in ("arm", "human"):
        assert {"success_rate", "final_error", "steps", "wall_seconds", "steps_per_second"} <= set(summary[run])
        assert summary[run]["bake"]["keys_written"] > 0
        assert summary[run]["bake"]["rotation_error_degrees"] < 1.0  # reduction at 0.5 degrees, verified in Blender
    from rig_dojo.agents.curve import read_png_size

    assert read_png_size(out / "contact_sheet_arm.png") == (1280, 480)
    assert f"Look in {out}" in proc.stdout
    # the saved file reopens with both baked Actions, the rigs keyed by them
    code = ("import bpy, sys; bpy.ops.wm.open_mainfile(filepath=sys.argv[1]);"
            "print('ACTIONS=' + ','.join(sorted(a.name for a in bpy.data.actions if a.name.startswith('RigDojo'))));"
            "print('ARM=' + bpy.data.objects['Arm'].animation_data.action.name)")
    check = subprocess.run([sys.executable, "-c", code, str(out / "demo.blend")],
                           capture_output=True, text=True, timeout=600)
    assert "ACTIONS=RigDojo_arm_follow,RigDojo_reach_cup" in check.stdout, check.stderr[-2000:]
    assert "ARM=RigDojo_arm_follow" in check.stdout


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
