"""``python -m rig_dojo verify``: exit codes 0 exact, 3 not exact, 2 bad input, on .blend files."""

from __future__ import annotations

import json
import textwrap

import bpy
import pytest

from rig_dojo.scene.builders import scenes

import rigs
from harness import run_cli


@pytest.fixture
def scene_blend(factory, tmp_path):
    scenes.build_chain("Arm", (0.5, 0.4, 0.2), ("upper_arm", "forearm", "hand"))
    rigs.build_ik_chain()
    scenes.add_empty("Target")
    path = tmp_path / "scene.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    return path


def test_exact_selection_exits_0_with_a_json_report(scene_blend):
    proc = run_cli("verify", str(scene_blend), "--rig", "Arm", "--controls", "upper_arm,forearm,hand",
                   "--track", "hand", "--samples", "8", "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["exact"] and report["bones"][0]["bone"] == "hand"
    assert report["bones"][0]["position"] < 1e-4


def test_ik_selection_is_exact_and_unsupported_ik_exits_3_and_says_why(scene_blend, tmp_path):
    proc = run_cli("verify", str(scene_blend), "--rig", "IKArm", "--controls", "upper", "--track", "hand",
                   "--samples", "4")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    bpy.ops.wm.open_mainfile(filepath=str(scene_blend))
    bpy.data.objects["IKArm"].pose.bones["upper"].use_ik_limit_z = True
    limited = tmp_path / "limited.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(limited))
    proc = run_cli("verify", str(limited), "--rig", "IKArm", "--controls", "upper", "--track", "hand",
                   "--samples", "4")
    assert proc.returncode == 3, proc.stderr
    assert "NOT EXACT" in proc.stdout and "upper / IK: IK limits on Z are not compiled" in proc.stdout


@pytest.mark.parametrize("args,message", [
    (["missing.blend", "--rig", "Arm", "--controls", "a", "--track", "b"], "no such .blend file"),
    (["SCENE", "--rig", "Target", "--controls", "a", "--track", "b"], "not an armature"),
    (["SCENE", "--rig", "Arm", "--controls", "upper_arm,elbow", "--track", "hand"], "no bone named 'elbow'"),
    (["SCENE", "--rig", "Arm", "--controls", "hand", "--track", "upper_arm"], "no control moves"),
])
def test_bad_input_exits_2_with_one_line(scene_blend, tmp_path, args, message):
    args = [str(scene_blend) if a == "SCENE" else a for a in args]
    proc = run_cli("verify", *args, cwd=tmp_path)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr


def test_verify_an_armature_imported_from_a_bvh_file(factory, tmp_path):
    """Any armature a user brings: a BVH motion-capture skeleton through the bundled importer."""
    bvh = tmp_path / "walker.bvh"
    bvh.write_text(textwrap.dedent("""\
        HIERARCHY
        ROOT Hips
        {
          OFFSET 0.0 0.0 0.0
          CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
          JOINT Spine
          {
            OFFSET 0.0 10.0 0.5
            CHANNELS 3 Zrotation Xrotation Yrotation
            JOINT Shoulder
            {
              OFFSET 4.0 8.0 -0.5
              CHANNELS 3 Zrotation Xrotation Yrotation
              JOINT Elbow
              {
                OFFSET 8.0 -1.0 0.3
                CHANNELS 3 Zrotation Xrotation Yrotation
                End Site
                {
                  OFFSET 7.0 0.5 0.0
                }
              }
            }
          }
        }
        MOTION
        Frames: 2
        Frame Time: 0.0333333
        0 0 0 0 0 0 0 0 0 10 20 5 30 10 0
        0 1 0 5 0 0 2 3 4 12 22 6 35 12 3
        """))
    bpy.ops.import_anim.bvh(filepath=str(bvh))
    bpy.context.scene.frame_set(2)
    bvh_rig = next(o for o in bpy.data.objects if o.type == 'ARMATURE')
    blend = tmp_path / "bvh.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    proc = run_cli("verify", str(blend), "--rig", bvh_rig.name, "--controls", "Spine,Shoulder",
                   "--track", "Elbow", "--samples", "8", "--json")
    report = json.loads(proc.stdout)
    # Spine and Shoulder are animated by the BVH action: verify evaluates a held frame, so it is exact
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert report["exact"]
