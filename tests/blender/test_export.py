"""``python -m rig_dojo export``: a run of the demo arm as ONNX + sidecar, run by onnxruntime on the task's
own observations; a policy file from before the export (no recorded layout) with and without ``--scene``;
bad input (a missing file, a crafted zip, a foreign file, an algorithm without a network, onnx missing, a
bad output name) in one line with exit 2. The parity on random observations: tests/core/test_onnx_export.py.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

import bpy

from rig_dojo.agents import policy_file
from rig_dojo.agents.algorithms import build_model
from rig_dojo.agents.config import OutputConfig, TrainConfig
from rig_dojo.envs.families import env_factory
from rig_dojo.scene.builders import scenes
from rig_dojo.scene.families import spec_from_config
from harness import run_cli, small_config

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")
pytestmark = pytest.mark.slow  # trains and runs the command line in subprocesses

DATA = Path(__file__).resolve().parent / "data"


def arm_config(algo: str = "ppo", steps: int = 2048) -> TrainConfig:
    """harness.small_config with 16 environments of 32-step rollouts (and discrete actions where the algorithm
    needs them), checkpoints at the default interval."""
    config = small_config(steps, algo, checkpoint_every=OutputConfig().checkpoint_every)
    config.algo.n_envs, config.algo.n_steps, config.algo.batch_size = 16, 32, 256
    config.rig.discrete = algo in ("qlearning", "dqn")
    return config


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    folder = tmp_path_factory.mktemp("export")
    scenes.build_demo_scene()
    scene = folder / "scene.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(scene))
    config = folder / "run.toml"
    config.write_text(arm_config().to_toml())
    run = folder / "run"
    proc = run_cli("train", scene, "--config", config, "--out", run)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {"folder": folder, "scene": scene, "run": run}


def test_a_run_exports_and_onnxruntime_acts_as_the_policy_on_the_tasks_observations(workspace, tmp_path):
    proc = run_cli("export", workspace["run"], "--onnx", tmp_path / "arm.onnx")
    assert proc.returncode == 0, proc.stderr
    assert "wrote" in proc.stdout and "records no joint layout" not in proc.stdout
    info = json.loads((tmp_path / "arm.json").read_text())
    policy = policy_file.load_policy(workspace["run"] / "final.rdpolicy")
    config = policy.config
    env = env_factory(spec_from_config(config), config)(config, 64, 3)
    # the sidecar describes the task's joints, limits, observation slices and frame as the twin has them
    assert [j["control"] for j in info["joints"]][:1] == ["upper_arm"] and len(info["joints"]) == env.n_joints
    np.testing.assert_allclose([j["low"] for j in info["joints"]], env.q_low)
    np.testing.assert_allclose([j["high"] for j in info["joints"]], env.q_high)
    assert [s["name"] for s in info["observation"]] == ["joints", "effector", "target", "target_minus_effector",
                                                         "target_velocity"]
    assert sum(s["size"] for s in info["observation"]) == env.observation_space.shape[0] == info["input"]["shape"][1]
    assert info["action_scaling"]["per_step"] == pytest.approx(env.spec.max_delta)
    assert info["frame"]["unit"] == pytest.approx(env.unit) and info["family"] == "kinematic"
    assert info["rig"] == "Arm" and info["task"] == "reach" and info["algo"] == "ppo"
    # onnxruntime on the observations of an episode acts as the torch policy
    session = ort.InferenceSession(str(tmp_path / "arm.onnx"), providers=["CPUExecutionProvider"])
    obs = env.reset()
    for _ in range(10):
        expected = policy.predict(obs, deterministic=True)[0]
        got = session.run(None, {"observation": obs.astype(np.float32)})[0]
        np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)
        obs = env.step(got)[0]


def test_a_policy_file_without_a_layout_exports_its_spaces_or_with_scene_its_joints(workspace, tmp_path):
    legacy = DATA / "legacy_ppo_run" / "final.rdpolicy"  # SB3's PPO, written before the export existed
    assert "layout" not in policy_file.load_policy(legacy).metadata
    proc = run_cli("export", legacy, "--onnx", tmp_path / "old.onnx")
    assert proc.returncode == 0, proc.stderr
    assert "records no joint layout" in proc.stdout and "--scene" in proc.stdout
    info = json.loads((tmp_path / "old.json").read_text())
    assert info["algo"] == "sb3_ppo" and [j["name"] for j in info["joints"]] == ["upper_arm", "forearm", "hand"]
    proc = run_cli("export", legacy, "--onnx", tmp_path / "described.onnx", "--scene", workspace["scene"])
    assert proc.returncode == 0, proc.stderr
    info = json.loads((tmp_path / "described.json").read_text())
    assert info["joints"][0]["name"].startswith("upper_arm.rot_") and "low" in info["joints"][0]


def test_bad_input_is_one_line_and_exit_2(workspace, tmp_path):
    run = workspace["run"]
    crafted = tmp_path / "crafted.rdpolicy"
    with zipfile.ZipFile(crafted, "w") as zf:
        zf.writestr("metadata.json", json.dumps({"format": "rig_dojo.policy", "version": 1}))
        zf.writestr("payload.pkl", b"\x80\x04cos\nsystem\n.")
    foreign = tmp_path / "foreign.rdpolicy"
    shutil.copy(workspace["scene"], foreign)
    # an algorithm the export does not take: DQN (one index over every joint's choices) of the same arm
    config = arm_config("dqn")
    env = env_factory(spec_from_config(config), config)(config, 4, 0)
    table = tmp_path / "table.rdpolicy"
    policy_file.save_policy(build_model(config, env), table, algo="dqn", config=config, env=env)
    not_ended = tmp_path / "empty_run"
    not_ended.mkdir()
    cases = [
        (("export", tmp_path / "missing.rdpolicy", "--onnx", tmp_path / "a.onnx"), "no such run folder or policy file"),
        (("export", not_ended, "--onnx", tmp_path / "a.onnx"), "has no final.rdpolicy"),
        (("export", crafted, "--onnx", tmp_path / "a.onnx"), "is not a Rig Dojo policy file"),
        (("export", foreign, "--onnx", tmp_path / "a.onnx"), "is not a Rig Dojo policy file"),
        (("export", table, "--onnx", tmp_path / "a.onnx"), "trained with dqn cannot be exported to ONNX"),
        (("export", run, "--onnx", tmp_path / "a.txt"), "give a file name ending in .onnx"),
        (("export", run, "--onnx", tmp_path), "is a folder"),
        (("export", run, "--onnx", tmp_path / "nowhere" / "a.onnx"), "does not exist"),
        (("export", run), "the following arguments are required: --onnx"),
    ]
    for args, message in cases:
        proc = run_cli(*args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, (args, proc.stderr)
        assert "Traceback" not in proc.stderr
    assert not (tmp_path / "a.onnx").exists() and not (tmp_path / "a.json").exists()
    # onnx not installed (made unimportable): what to install, before reading anything
    proc = run_cli("export", run, "--onnx", tmp_path / "b.onnx", env={"RIG_DOJO_NO_ONNX": "1"})
    assert proc.returncode == 2 and "pip install -r requirements-export.txt" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and not (tmp_path / "b.onnx").exists()


def test_the_bake_panels_export_onnx_button_writes_the_shown_policy(dojo_registered, workspace, tmp_path):
    bpy.ops.wm.open_mainfile(filepath=str(workspace["scene"]))
    settings = bpy.context.scene.rig_dojo
    settings.bake.policy_path = ""
    settings.last_run_dir = ""
    assert not bpy.ops.rig_dojo.export_onnx.poll()  # nothing to export yet: the button is greyed with a reason
    legacy = tmp_path / "legacy.rdpolicy"  # no recorded layout: described from this scene's arm
    shutil.copy(DATA / "legacy_ppo_run" / "final.rdpolicy", legacy)
    settings.bake.policy_path = str(legacy)
    assert bpy.ops.rig_dojo.export_onnx.poll()
    assert bpy.ops.rig_dojo.export_onnx(filepath=str(tmp_path / "legacy.onnx")) == {'FINISHED'}
    info = json.loads((tmp_path / "legacy.json").read_text())
    assert info["algo"] == "sb3_ppo" and info["joints"][0]["name"].startswith("upper_arm.rot_")
    session = ort.InferenceSession(str(tmp_path / "legacy.onnx"), providers=["CPUExecutionProvider"])
    obs = np.random.default_rng(1).normal(size=(64, info["input"]["shape"][1])).astype(np.float32)
    expected = policy_file.load_policy(legacy).predict(obs, deterministic=True)[0]
    np.testing.assert_allclose(session.run(None, {"observation": obs})[0], expected, atol=1e-5, rtol=0)
    # a bad name and a foreign policy are refused in the operator's report, and nothing is written
    with pytest.raises(RuntimeError, match="give a file name ending in .onnx"):
        bpy.ops.rig_dojo.export_onnx(filepath=str(tmp_path / "x.txt"))
    settings.bake.policy_path = str(workspace["scene"])
    with pytest.raises(RuntimeError, match="is not a Rig Dojo policy file"):
        bpy.ops.rig_dojo.export_onnx(filepath=str(tmp_path / "y.onnx"))
    assert not (tmp_path / "x.txt").exists() and not (tmp_path / "y.onnx").exists()
