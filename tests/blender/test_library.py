"""Starting from the policy library (agents/library.py) on rigs it never saw: a chain with odd rolls, offsets,
scales and rotation modes, Rigify's FK arm, Rigify's quadruped metarig legs and a BVH import; through the
command line and the sidebar; and the starts that do not fit, refused in one line."""

from __future__ import annotations

import json
import textwrap
import time
from pathlib import Path

import pytest

import bpy

from rig_dojo import live
from rig_dojo.agents.config import TrainConfig, defaults_for
from rig_dojo.agents.evaluate import evaluate
from rig_dojo.agents.library import entry
from rig_dojo.agents.policy_file import load_policy
from rig_dojo.envs.families import env_factory
from rig_dojo.scene.builders import scenes
from rig_dojo.scene.families import spec_from_config
from harness import run_cli, run_python
from rigs import add_region, build_odd_chain

QUADRUPED_LEGS = {"hind": ["thigh.L", "shin.L", "foot.L", "toe.L"], "front": ["front_thigh.L", "front_shin.L",
                                                                          "front_foot.L"]}
BVH = textwrap.dedent("""\
    HIERARCHY
    ROOT Hips
    {
      OFFSET 0.0 0.0 0.0
      CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
      JOINT Shoulder
      {
        OFFSET 4.0 18.0 -0.5
        CHANNELS 3 Zrotation Xrotation Yrotation
        JOINT Elbow
        {
          OFFSET 8.0 -1.0 0.3
          CHANNELS 3 Zrotation Xrotation Yrotation
          JOINT Wrist
          {
            OFFSET 7.0 0.5 0.0
            CHANNELS 3 Zrotation Xrotation Yrotation
            End Site
            {
              OFFSET 2.0 0.0 0.0
            }
          }
        }
      }
    }
    MOTION
    Frames: 1
    Frame Time: 0.0333333
    0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
    """)


@pytest.fixture(autouse=True)
def training_threads():
    """Torch's threads as training sets them (agents.threads), for the evaluations run in this process."""
    import torch

    from rig_dojo.agents.threads import use_training_threads

    before = torch.get_num_threads()
    use_training_threads()
    yield
    torch.set_num_threads(before)


def chain_config(rig: str, controls: list[str], effector: str) -> TrainConfig:
    config = TrainConfig()
    config.task = "reach"
    config.algo = defaults_for("ppo")
    config.rig.rig, config.rig.controls, config.rig.effector, config.rig.region = rig, controls, effector, "Region"
    return config


def zero_shot(config: TrainConfig) -> float:
    """The library's deterministic success (its entry for the config's task) on the rig as the scene holds it,
    before any training."""
    config.rig.observation = "chain"
    make_env = env_factory(spec_from_config(config), config)
    return evaluate(load_policy(entry(config.task).path), make_env, config, episodes=64).success_rate


def aiming(config: TrainConfig) -> TrainConfig:
    config.task = "aim"
    config.algo = defaults_for("ppo", "aim")
    return config


def quadruped_blend(path: Path) -> Path:
    """Rigify's basic quadruped metarig as its operator builds it, with a target box per leg (a fresh
    interpreter: Rigify's handlers outlive a factory reset)."""
    code = ("import bpy, sys, os; from rig_dojo.scene.builders import scenes; scenes.empty_scene(); "
            "scenes.enable_rigify(); bpy.ops.object.armature_basic_quadruped_metarig_add(); "
            "bpy.ops.wm.save_as_mainfile(filepath=sys.argv[1]); sys.stdout.flush(); os._exit(0)")
    proc = run_python(code, str(path))
    assert proc.returncode == 0 and path.is_file(), proc.stderr[-2000:]
    return path


def test_stub_bones_far_apart_are_measured_by_their_joints(factory):
    """A glTF import under a 0.01-scaled parent has bones ~100x shorter than the spacing of their joints: the unit
    (chain length) was their summed drawn length, 0.009 here, so the success tolerance was 0.2 mm and the library
    missed every target zero-shot (118 "chain lengths" off). The joints' spacing is the unit now; a connected
    chain's unit is its bones' summed length, as before."""
    arm = bpy.data.armatures.new("Stubs")
    obj = bpy.data.objects.new("Stubs", arm)
    bpy.context.scene.collection.objects.link(obj)
    bpy.context.view_layer.objects.active = obj
    bpy.ops.object.mode_set(mode='EDIT')
    parent = None
    for i, name in enumerate("abc"):  # heads 0.3 apart, each bone 3 mm long
        bone = arm.edit_bones.new(name)
        bone.head, bone.tail, bone.parent = (0.3 * i, 0.0, 1.0), (0.3 * i + 0.003, 0.0, 1.0), parent
        parent = bone
    bpy.ops.object.mode_set(mode='OBJECT')
    scenes.add_empty("Region", (0.42, 0.25, 1.05), display="CUBE", size=0.05)
    config = chain_config("Stubs", ["a", "b", "c"], "c")
    assert spec_from_config(config).rig.chain_length == pytest.approx(0.603, abs=1e-4)
    assert zero_shot(config) >= 0.95
    chain = scenes.build_chain("Arm", (0.5, 0.4, 0.2), ("upper_arm", "forearm", "hand"))
    config = chain_config(chain.name, ["upper_arm", "forearm", "hand"], "hand")
    assert spec_from_config(config).rig.chain_length == pytest.approx(1.1, abs=1e-5)


@pytest.mark.slow
def test_the_library_reaches_zero_shot_on_rigs_it_never_saw(factory, rigify_blend, tmp_path):
    rates = {}
    odd = build_odd_chain()  # rolls, unconnected offsets, pose scale, a hinge, a rotated and squashed object
    scenes.limit_rotations(odd, {"b0": ((-1.2, 1.2), (-0.4, 0.4), (-1.0, 1.0)), "b2": ((-1.5, 0.3), None, None),
                                 "b4": (None, (-0.3, 0.3), (-0.9, 0.9))})  # limits of its own (IK limits, locks)
    add_region(odd, ["b0", "b1", "b2", "b3", "b4"], "b4")
    rates["odd chain"] = zero_shot(chain_config("Odd", ["b0", "b1", "b2", "b3", "b4"], "b4"))
    world = odd.matrix_world @ odd.pose.bones["b4"].matrix
    ahead = world.translation + world.col[1].xyz.normalized() * 1.5  # 1.5 m along b4's Y: what it aims at
    scenes.add_empty("Ahead", tuple(ahead), display="CUBE", size=0.2)
    config = aiming(chain_config("Odd", ["b0", "b1", "b2", "b3", "b4"], "b4"))
    config.rig.region = "Ahead"
    rates["odd chain aims"] = zero_shot(config)

    bpy.ops.wm.open_mainfile(filepath=str(quadruped_blend(tmp_path / "quadruped.blend")))
    meta = bpy.data.objects["metarig"]
    for leg, bones in QUADRUPED_LEGS.items():
        add_region(meta, bones, bones[-1], f"Region_{leg}")
        config = chain_config("metarig", bones, bones[-1])
        config.rig.region = f"Region_{leg}"
        rates[f"quadruped {leg} leg"] = zero_shot(config)

    bpy.ops.wm.open_mainfile(filepath=str(rigify_blend))
    from rig_dojo.demo import HUMAN_ARM, HUMAN_LIMITS

    scenes.limit_rotations(bpy.data.objects["rig"], HUMAN_LIMITS)
    scenes.add_empty("Region", (0.45, -0.2, 1.35), display="CUBE", size=0.1)  # in front of the left hand
    rates["rigify FK arm"] = zero_shot(chain_config("rig", list(HUMAN_ARM), "DEF-hand.L"))
    scenes.add_empty("Above", (0.0, -0.6, 2.4), display="CUBE", size=0.15)  # above and in front of the head
    config = aiming(chain_config("rig", ["neck", "head"], "head"))  # the head's Y axis (up its bone) at the box
    config.rig.region = "Above"
    rates["rigify neck and head aim"] = zero_shot(config)

    bpy.ops.wm.read_factory_settings(use_empty=True)
    bvh = tmp_path / "arm.bvh"
    bvh.write_text(BVH)
    bpy.ops.import_anim.bvh(filepath=str(bvh))
    rig = next(o for o in bpy.data.objects if o.type == 'ARMATURE')
    rig.animation_data_clear()  # the capture's keys would hold the joints
    add_region(rig, ["Shoulder", "Elbow", "Wrist"], "Wrist")
    rates["bvh arm"] = zero_shot(chain_config(rig.name, ["Shoulder", "Elbow", "Wrist"], "Wrist"))
    assert all(rate >= 0.95 for rate in rates.values()), str(rates)


@pytest.mark.slow
def test_the_command_line_fine_tunes_from_the_library_and_bakes(factory, tmp_path):
    build_odd_chain()
    add_region(bpy.data.objects["Odd"], ["b0", "b1", "b2", "b3", "b4"], "b4")
    blend = tmp_path / "odd.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    run = tmp_path / "run"
    proc = run_cli("train", blend, "--task", "reach", "--rig", "Odd", "--controls", "b0,b1,b2,b3,b4", "--effector",
                   "b4", "--region", "Region", "--init-from", "library:reach", "--steps", "40000", "--out", run)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = json.loads((run / "summary.json").read_text())
    assert summary["success_rate"] >= 0.95, summary
    config = TrainConfig.load(run / "config.toml")
    assert (config.rig.observation, config.algo.start_from) == ("chain", "library:reach")
    assert config.algo.extra["desired_kl"] == 0.002 and "desired_kl = 0.002" in proc.stderr  # a fine-tune's steps
    assert summary["final_error"] < 0.01, summary  # the library's precision kept (zero-shot: ~0.0004)
    assert load_policy(run / "final.rdpolicy").metadata["policy_kwargs"]["kind"] == "rig_dojo_chain"
    before = blend.read_bytes()
    baked = tmp_path / "baked.blend"
    proc = run_cli("bake", blend, "--policy", run / "final.rdpolicy", "--frames", "1-64", "--output", baked)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "worst effector error" in proc.stdout and baked.is_file() and blend.read_bytes() == before


@pytest.mark.slow
def test_starts_that_do_not_fit_are_refused_in_one_line(factory, tmp_path):
    scenes.build_demo_scene()
    long = scenes.build_chain("Long", tuple([0.1] * 9), location=(0.0, 1.0, 1.0))
    scenes.add_empty("Far", (0.6, 1.0, 1.2), display="CUBE", size=0.05)
    blend = tmp_path / "scene.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    arm = ["--rig", "Arm", "--controls", "upper_arm,forearm,hand", "--effector", "hand", "--region", "Region"]
    nine = ",".join(pb.name for pb in long.pose.bones)
    cases = [
        (["--task", "reach", *arm, "--init-from", "library:walk"], "not in the policy library; it has library:reach"),
        (["--task", "aim", *arm, "--init-from", "library:reach"], "library:reach starts reach tasks"),
        (["--task", "reach", *arm, "--algo", "sb3_ppo", "--init-from", "library:reach"],
         "was trained with ppo; this run uses sb3_ppo"),
        (["--task", "reach", "--rig", "Long", "--controls", nine, "--effector", long.pose.bones[-1].name, "--region",
          "Far", "--init-from", "library:reach"], "chains of 2-8 bones; this one has 9"),
        (["--task", "reach", *arm, "--init-from", str(tmp_path / "none.rdpolicy")], "no such policy file"),
    ]
    before = blend.read_bytes()
    for k, (args, message) in enumerate(cases):
        proc = run_cli("train", blend, *args, "--steps", "1000", "--out", tmp_path / f"run{k}")
        errors = [ln for ln in proc.stderr.splitlines() if "error" in ln]  # a reach warning may come before
        assert proc.returncode == 2 and len(errors) == 1 and message in errors[0], (args, proc.stderr)
        assert "Traceback" not in proc.stderr
    assert blend.read_bytes() == before


@pytest.mark.slow
def test_the_sidebar_starts_from_the_library_and_trains(factory, tmp_path, capfd):
    from test_sidebar import draw_panels

    from rig_dojo.scene.builders.scenes import build_demo_scene

    objs = build_demo_scene()
    s = bpy.context.scene.rig_dojo
    s.rig, s.task, s.controls, s.effector, s.region = objs["rig"], "reach", "upper_arm, forearm, hand", "hand", \
        objs["region"]
    s.run_dir = str(tmp_path / "run")
    assert bpy.ops.rig_dojo.start_from(source="library:reach") == {'FINISHED'}
    assert (s.algo.start_from, s.observation, s.algo.name) == ("library:reach", "chain", "ppo")
    assert "VIEW3D_PT_rig_dojo_training" in draw_panels(capfd)  # Start From and its menu draw cleanly
    s.algo.name = "sac"  # picking another algorithm keeps where the run starts (not a tuning)
    assert s.algo.start_from == "library:reach"
    s.algo.name = "ppo"
    s.algo.total_steps = 20_000
    assert bpy.ops.rig_dojo.train() == {'FINISHED'}
    run = live.current()
    end = time.monotonic() + 120
    while not run.ended:
        assert time.monotonic() < end, "timed out waiting for the training"
        live.tick()
        time.sleep(live.TICK_SECONDS)
    assert run.state == "finished", run.error
    live.shutdown()
    config = TrainConfig.load(tmp_path / "run" / "config.toml")
    assert (config.rig.observation, config.algo.start_from) == ("chain", "library:reach")
    assert bpy.ops.rig_dojo.evaluate() == {'FINISHED'}
    _path, evaluation = live.results["evaluation"]
    assert evaluation.success_rate >= 0.95, evaluation
    draw_panels(capfd)
    assert bpy.ops.rig_dojo.start_from(source="SCRATCH") == {'FINISHED'}
    assert (s.algo.start_from, s.observation) == ("", "full")
    s.task = "aim"
    with pytest.raises(RuntimeError, match="starts reach tasks"):
        bpy.ops.rig_dojo.start_from(source="library:reach")
    assert s.algo.start_from == ""
