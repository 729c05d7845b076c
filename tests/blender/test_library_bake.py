"""Baking a library policy on a rig without training: a run that trains nothing (``train --init-from library:reach
--zero-shot``, the sidebar's *Use Without Training*) binds the rig-agnostic policy to the rig, and the existing bake
and evaluate take that run like any other; starts that do not fit are refused in one line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import bpy

from rig_dojo import live
from rig_dojo.agents.config import TrainConfig
from rig_dojo.agents.library import entry
from rig_dojo.agents.policy_file import load_policy
from rig_dojo.scene.builders import scenes
from harness import run_cli
from rigs import add_region, build_odd_chain

ODD = ["b0", "b1", "b2", "b3", "b4"]


def odd_blend(path: Path) -> Path:
    """The odd chain (rolls, offsets, scales, a hinge, mixed rotation modes; no library ever saw it) with a target
    object "Cup" within reach, and an animation of the user's on it."""
    odd = build_odd_chain()
    add_region(odd, ODD, "b4", "Cup")
    odd.pose.bones["b0"].keyframe_insert("location", frame=1)  # the user's work: must survive the bake
    odd.animation_data.action.name = "UserWork"
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    return path


def tip_to_cup(blend: Path, frame: int) -> tuple[float, float]:
    """(distance from b4's tail to the Cup at ``frame``, the chain's length), both in metres, in ``blend``."""
    bpy.ops.wm.open_mainfile(filepath=str(blend))
    scene, odd = bpy.context.scene, bpy.data.objects["Odd"]
    scene.frame_set(frame)
    world = odd.matrix_world
    tip = world @ odd.pose.bones["b4"].tail
    length = sum((world @ odd.pose.bones[b].tail - world @ odd.pose.bones[b].head).length for b in ODD)
    return (tip - bpy.data.objects["Cup"].matrix_world.translation).length, length


@pytest.mark.slow
def test_the_command_line_bakes_the_library_on_a_rig_without_training(factory, tmp_path):
    blend = odd_blend(tmp_path / "odd.blend")
    before = blend.read_bytes()
    run = tmp_path / "run"
    proc = run_cli("train", blend, "--task", "reach", "--rig", "Odd", "--controls", ",".join(ODD), "--effector", "b4",
                   "--target", "Cup", "--init-from", "library:reach", "--zero-shot", "--out", run)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "zero-shot: library:reach as it is, no training" in proc.stdout and "bake it:" in proc.stdout
    summary = json.loads((run / "summary.json").read_text())
    assert summary["steps"] == 0 and summary["zero_shot"] == "library:reach"
    assert summary["success_rate"] >= 0.95, summary
    config = TrainConfig.load(run / "config.toml")  # the run's settings: this rig, observed as the library reads
    assert (config.rig.rig, config.rig.controls, config.rig.target) == ("Odd", ODD, "Cup")
    assert (config.rig.observation, config.algo.start_from) == ("chain", "library:reach")
    assert (run / "twin_check.json").is_file()  # train only what verifies: the parity check ran and is kept
    written, shipped = load_policy(run / "final.rdpolicy"), load_policy(entry("reach").path)
    for name, array in shipped.arrays.items():  # the library's weights, untouched
        assert np.array_equal(written.arrays[name], array), name

    proc = run_cli("evaluate", blend, "--policy", run / "final.rdpolicy", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["success_rate"] >= 0.95

    baked = tmp_path / "baked.blend"
    proc = run_cli("bake", blend, "--policy", run / "final.rdpolicy", "--frames", "1-64", "--output", baked, "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    assert report["effector_error"] < 0.01 and report["keys_written"] > 0, report  # Blender confirms the rollout
    assert blend.read_bytes() == before  # the input file is untouched
    distance, length = tip_to_cup(baked, 64)
    assert distance < 0.02 * length, (distance, length)  # the baked motion reaches the cup in Blender
    odd = bpy.data.objects["Odd"]
    action = odd.animation_data.action
    assert action.name == report["action"] and action.name != "UserWork"
    assert action["rig_dojo_bake"]["keys_written"] == report["keys_written"]
    source = action["rig_dojo_source"]  # traceable to the run folder, which says where it started
    assert Path(source["run_folder"]) == run.resolve() and source["policy_sha256"] == written.sha256
    assert "UserWork" in bpy.data.actions  # the user's Action is kept, layered under the bake


@pytest.mark.slow
def test_the_sidebar_uses_the_library_without_training_and_bakes_it(factory, rigify_blend, tmp_path, capfd):
    from test_sidebar import draw_panels

    from rig_dojo.demo import HUMAN_ARM, HUMAN_LIMITS

    bpy.ops.wm.open_mainfile(filepath=str(rigify_blend))
    rig = bpy.data.objects["rig"]
    scenes.limit_rotations(rig, HUMAN_LIMITS)
    cup = scenes.add_empty("Cup", (0.45, -0.2, 1.35), display="CUBE", size=0.05)  # in front of the left hand
    s = bpy.context.scene.rig_dojo
    s.rig, s.task, s.controls, s.effector, s.target = rig, "reach", ", ".join(HUMAN_ARM), "DEF-hand.L", cup
    s.run_dir = str(tmp_path / "run")
    assert not bpy.ops.rig_dojo.use_without_training.poll()  # nothing to start from yet
    assert bpy.ops.rig_dojo.start_from(source="library:reach") == {'FINISHED'}
    assert "VIEW3D_PT_rig_dojo_training" in draw_panels(capfd)  # the button draws beside Start From
    rest = [pb.matrix_basis.copy() for pb in rig.pose.bones]
    assert bpy.ops.rig_dojo.use_without_training() == {'FINISHED'}
    run = live.current()
    assert run.ended and run.state == "finished" and run.session.latest().step == 0
    assert all(pb.matrix_basis == m for pb, m in zip(rig.pose.bones, rest))  # the scene is as it was
    assert rig.animation_data is None or rig.animation_data.action is None
    config = TrainConfig.load(tmp_path / "run" / "config.toml")
    assert (config.rig.observation, config.algo.start_from, config.rig.target) == ("chain", "library:reach", "Cup")
    path, evaluation = live.results["evaluation"]
    assert Path(path) == tmp_path / "run" / "final.rdpolicy" == live.policy_path(s)  # Bake and Evaluate take it
    assert evaluation.success_rate >= 0.95, evaluation
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["zero_shot"] == "library:reach"
    draw_panels(capfd)

    s.bake.use_scene_range = False
    s.bake.frame_start, s.bake.frame_end = 1, 48
    bpy.ops.ed.undo_push(message="before bake")  # background mode starts with the undo system off
    assert bpy.ops.rig_dojo.bake('EXEC_DEFAULT', True) == {'FINISHED'}  # undo=True: as from a button
    assert live.results["bake_ok"] and "verified in Blender" in live.results["bake"]
    action = rig.animation_data.action
    assert action["rig_dojo_bake"]["keys_written"] > 0
    bpy.context.scene.frame_set(48)
    hand = rig.matrix_world @ rig.pose.bones["DEF-hand.L"].tail
    assert (hand - cup.matrix_world.translation).length < 0.02  # the hand reaches the cup in Blender
    baked = action.name
    assert bpy.ops.ed.undo() == {'FINISHED'}  # one undo reverts the bake
    assert baked not in bpy.data.actions
    rig = bpy.data.objects["rig"]
    assert rig.animation_data is None or rig.animation_data.action is None

    s = bpy.context.scene.rig_dojo  # the task changed after Start From: refused in one line, nothing written
    s.task, s.run_dir = "aim", str(tmp_path / "refused")
    assert s.algo.start_from == "library:reach"
    with pytest.raises(RuntimeError, match="library:reach starts reach tasks; this run's task is aim"):
        bpy.ops.rig_dojo.use_without_training()
    assert not (tmp_path / "refused").exists() and not live.is_training()


@pytest.mark.slow
def test_library_starts_that_do_not_fit_are_refused_in_one_line_without_training(factory, tmp_path):
    blend = odd_blend(tmp_path / "odd.blend")
    long = scenes.build_chain("Long", tuple([0.1] * 9), location=(0.0, 1.0, 1.0))
    scenes.add_empty("Far", (0.6, 1.0, 1.2), display="CUBE", size=0.05)
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    before = blend.read_bytes()
    odd = ["--rig", "Odd", "--controls", ",".join(ODD), "--effector", "b4", "--target", "Cup"]
    nine = ",".join(pb.name for pb in long.pose.bones)
    cases = [
        (["train", blend, "--task", "aim", *odd, "--init-from", "library:reach", "--zero-shot"],
         "library:reach starts reach tasks; this run's task is aim"),
        (["train", blend, "--task", "reach", "--rig", "Long", "--controls", nine, "--effector",
          long.pose.bones[-1].name, "--target", "Far", "--init-from", "library:reach", "--zero-shot"],
         "chains of 2-8 bones; this one has 9"),
        (["train", blend, "--task", "reach", *odd, "--zero-shot"], "--zero-shot uses a start policy as it is"),
        (["train", blend, "--task", "reach", *odd, "--init-from", "library:reach", "--zero-shot", "--steps", "100"],
         "--zero-shot writes a new run that trains nothing; not with --steps"),
        (["bake", blend, "--policy", "library:reach", "--frames", "1-10", "--save"],
         "library:reach is not bound to a rig"),
        (["evaluate", blend, "--policy", entry("reach").path], "--init-from library:reach --zero-shot"),
    ]
    for k, (args, message) in enumerate(cases):
        out = ["--out", tmp_path / f"run{k}"] if args[0] == "train" else []
        proc = run_cli(*args, *out)
        errors = [ln for ln in proc.stderr.splitlines() if "error" in ln]
        assert proc.returncode == 2 and len(errors) == 1 and message in errors[0], (args, proc.stderr)
        assert "Traceback" not in proc.stderr
        assert not (tmp_path / f"run{k}").exists()  # no half-made run folder
    assert blend.read_bytes() == before
