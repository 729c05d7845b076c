"""``library:grasp`` on hands it never saw (it was pretrained on random hands only, ``envs/kinematic/grasp_chains.py``):
issue 12's Rigify hand (index and thumb; all five fingers) and, through the command line without training, baked
and verified in Blender; and a three-fingered hand built with bpy. Which fingertips a joint moves is measured
through the rig's own helper bones and constraints (Rigify's fingertips are DEF bones copying ORG bones that follow
the FK controls)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import bpy

from rig_dojo.agents.config import TrainConfig, defaults_for
from rig_dojo.agents.evaluate import evaluate
from rig_dojo.agents.library import entry
from rig_dojo.agents.policy_file import load_policy
from rig_dojo.envs.families import env_factory
from rig_dojo.envs.kinematic.grasp_chains import ChainGraspTask
from rig_dojo.scene.builders import grasp
from rig_dojo.scene.families import spec_from_config
from harness import run_cli, run_python

pytestmark = pytest.mark.slow  # generates a Rigify rig; evaluates and bakes in subprocesses


@pytest.fixture(autouse=True)
def training_threads():
    import torch

    from rig_dojo.agents.threads import use_training_threads

    before = torch.get_num_threads()
    use_training_threads()
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def grasp_blend(tmp_path_factory, dojo_registered):
    """Issue 12's scene (``build_rigify_grasp``), built in a fresh interpreter (Rigify's handlers outlive a reset)."""
    path = tmp_path_factory.mktemp("grasp_library") / "grasp.blend"
    code = ("import bpy, sys, os; from rig_dojo.scene.builders import scenes, grasp; scenes.empty_scene(); "
            "grasp.build_rigify_grasp(); bpy.ops.wm.save_as_mainfile(filepath=sys.argv[1]); sys.stdout.flush(); "
            "os._exit(0)")
    proc = run_python(code, str(path))
    assert proc.returncode == 0 and path.is_file(), proc.stderr[-3000:]
    return path


def _zero_shot(config: TrainConfig) -> tuple[float, float, ChainGraspTask]:
    """The library's deterministic success and final error on the hand as the scene holds it, before training."""
    config.rig.observation = "chain"
    make_env = env_factory(spec_from_config(config), config)
    result = evaluate(load_policy(entry("grasp").path), make_env, config, episodes=4)
    return result.success_rate, result.final_error, make_env(config, 1, 0)


def test_the_rigify_hand_grips_the_ball_without_training_and_bakes_verified(grasp_blend, tmp_path):
    bpy.ops.wm.open_mainfile(filepath=str(grasp_blend))
    config = TrainConfig()
    grasp.grasp_selection(config)
    config.algo = defaults_for("ppo", "grasp")
    success, error, task = _zero_shot(config)
    assert success == 1.0 and error < task.tolerance, (success, error)
    # forearm and hand move both fingertips, each finger's controls only its own tip (through MCH, ORG, DEF bones)
    joints_of = lambda names: np.isin(task.dof_control, [config.rig.controls.index(n) for n in names])  # noqa: E731
    arm, index = joints_of(["forearm_fk.L", "hand_fk.L"]), joints_of(["f_index.01.L", "f_index.02.L", "f_index.03.L"])
    assert task._moves[arm].all() and (task._moves[index] == [1, 0]).all()
    assert (task._moves[~arm & ~index] == [0, 1]).all()
    five = TrainConfig()  # the whole hand: 17 controls, 51 joints, five fingertips on the same ball
    grasp.rigify_five_selection(five)
    five.algo = defaults_for("ppo", "grasp")
    success, error, task = _zero_shot(five)
    assert task.n_joints == 51 and success == 1.0 and error < task.tolerance, (success, error)

    run = tmp_path / "run"  # README's command line: --tracked names the fingertips
    sel = config.rig
    proc = run_cli("train", grasp_blend, "--task", "grasp", "--rig", sel.rig, "--controls", ",".join(sel.controls),
                   "--effector", sel.effector, "--tracked", ",".join(sel.tracked), "--target", sel.target,
                   "--init-from", "library:grasp", "--zero-shot", "--out", run)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "zero-shot: library:grasp as it is, no training" in proc.stdout
    summary = json.loads((run / "summary.json").read_text())
    assert summary["steps"] == 0 and summary["success_rate"] == 1.0, summary
    baked = tmp_path / "baked.blend"
    baked.write_bytes(grasp_blend.read_bytes())
    proc = run_cli("bake", baked, "--policy", run / "final.rdpolicy", "--frames", "1-64", "--save")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "verified in Blender" in proc.stdout and "FAILS" not in proc.stdout, proc.stdout


def test_a_three_fingered_hand_built_with_bpy_grips_zero_shot(factory):
    """``build_claw``: other finger count, lengths, rolls and limits than any Rigify hand, Euler and quaternion
    controls, a turned and scaled object; the ball its curled fingers hold. The sidebar's Start From offers it."""
    objs = grasp.build_claw()
    s = bpy.context.scene.rig_dojo
    s.rig, s.task, s.target = objs["rig"], "grasp", objs["ball"]
    assert bpy.ops.rig_dojo.start_from(source="library:grasp") == {'FINISHED'}
    assert (s.algo.start_from, s.observation, s.algo.name) == ("library:grasp", "chain", "ppo")
    s.task = "reach"
    with pytest.raises(RuntimeError, match="library:grasp starts grasp tasks; this task is reach"):
        bpy.ops.rig_dojo.start_from(source="library:grasp")
    config = TrainConfig()
    grasp.claw_selection(config)
    config.algo = defaults_for("ppo", "grasp")
    success, error, task = _zero_shot(config)
    assert task.n_joints == 17 and task._moves.sum(0).tolist() == [9, 9, 9]  # forearm and palm: 5 joints; each finger 4
    assert success == 1.0 and error < task.tolerance, (success, error)
    # from rest the fingertips are far from the ball: the grip is the library's doing
    task.reset()
    _, _, _, infos = task.step(np.zeros((1, task.action_space.shape[0]), dtype=np.float32))
    assert not infos[0]["success"] and infos[0]["error"] > 3 * task.tolerance
