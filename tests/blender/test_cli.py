"""The headless command line: train, evaluate, bake, Ctrl-C and resume, exit codes and one-line errors."""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import bpy

from rig_dojo.agents.config import TrainConfig
from rig_dojo.scene.builders import scenes
from harness import run_cli, small_config


pytestmark = pytest.mark.slow  # trains or runs the command line in subprocesses


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """A saved demo scene, a config, and one trained run shared by the tests of this module."""
    folder = tmp_path_factory.mktemp("cli")
    scenes.build_demo_scene()
    scene = folder / "scene.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(scene))
    config = folder / "run.toml"
    config.write_text(small_config().to_toml())
    run = folder / "run"
    proc = run_cli("train", scene, "--config", config, "--out", run)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {"folder": folder, "scene": scene, "config": config, "run": run, "train": proc}


def test_train_writes_a_run_folder_ending_in_summary_json(workspace):
    run = workspace["run"]
    for name in ("config.toml", "metrics.csv", "final.rdpolicy", "summary.json", "checkpoint.json"):
        assert (run / name).is_file(), name
    summary = json.loads((run / "summary.json").read_text())
    assert {"success_rate", "final_error", "steps", "wall_seconds", "steps_per_second"} <= set(summary)
    assert summary["steps"] >= 2048 and 0.0 <= summary["success_rate"] <= 1.0 and summary["final_error"] > 0
    # not a terminal: plain periodic lines, no carriage-return progress bar
    assert "\r" not in workspace["train"].stdout and "run folder:" in workspace["train"].stdout


def test_flags_override_the_config(workspace, tmp_path):
    proc = run_cli("train", workspace["scene"], "--config", workspace["config"], "--algo", "a2c", "--steps", "512",
                   "--seed", "7", "--target", "Target", "--out", tmp_path / "run")
    assert proc.returncode == 0, proc.stderr[-2000:]
    config = TrainConfig.load(tmp_path / "run" / "config.toml")
    assert config.algo.name == "a2c" and config.algo.total_steps == 512 and config.algo.seed == 7
    assert config.rig.target == "Target" and config.rig.region == ""


def test_evaluate_prints_json(workspace):
    proc = run_cli("evaluate", workspace["scene"], "--policy", workspace["run"] / "final.rdpolicy",
                   "--episodes", "8", "--json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout)
    assert {"success_rate", "final_error", "mean_jerk", "limit_violation_total"} <= set(result)


def test_bake_writes_a_new_file_and_leaves_the_scene_untouched(workspace, tmp_path):
    before = hashlib.sha256(workspace["scene"].read_bytes()).hexdigest()
    out = tmp_path / "baked.blend"
    proc = run_cli("bake", workspace["scene"], "--policy", workspace["run"] / "final.rdpolicy", "--frames", "1-40",
                   "--action", "Baked", "--reduce", "0.5", "--output", out, "--json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout)
    assert report["keys_written"] > 0 and report["seconds"] > 0
    assert report["rotation_error_degrees"] <= 0.5 + 1e-3 and report["effector_error"] < 0.02
    assert hashlib.sha256(workspace["scene"].read_bytes()).hexdigest() == before
    code = ("import bpy, sys; bpy.ops.wm.open_mainfile(filepath=sys.argv[1]); a = bpy.data.actions['Baked'];"
            "print('SOURCE=' + a['rig_dojo_source']['policy_sha256'])")
    check = subprocess.run([sys.executable, "-c", code, str(out)], capture_output=True, text=True, timeout=300)
    summary = json.loads((workspace["run"] / "summary.json").read_text())
    assert f"SOURCE={summary['policy_sha256']}" in check.stdout, check.stderr[-2000:]


@pytest.mark.parametrize("args,message", [
    (["train", "missing.blend", "--config", "CONFIG"], "no such .blend file"),
    (["train", "SCENE", "--config", "CONFIG", "--rig", "Ghost"], "no object named 'Ghost'"),
    (["train", "SCENE", "--config", "CONFIG", "--controls", "upper_arm,elbow"], "no bone named 'elbow'"),
    (["train", "SCENE", "--config", "BADKEY"], "algo.lerning_rate"),
    (["bake", "SCENE", "--policy", "POLICY", "--frames", "40-1", "--output", "x.blend"], "END must be after START"),
    (["bake", "SCENE", "--policy", "POLICY", "--frames", "1-40"], "--save"),
    (["evaluate", "SCENE", "--policy", "nope.rdpolicy"], "cannot read policy file"),
])
def test_bad_input_exits_2_with_one_line(workspace, tmp_path, args, message):
    bad = tmp_path / "bad.toml"
    bad.write_text(workspace["config"].read_text().replace("learning_rate", "lerning_rate"))
    mapping = {"SCENE": workspace["scene"], "CONFIG": workspace["config"], "BADKEY": bad,
               "POLICY": workspace["run"] / "final.rdpolicy"}
    proc = run_cli(*[mapping.get(a, a) for a in args], cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], proc.stderr
    assert not list(tmp_path.glob("*.blend"))  # nothing written


def test_a_policy_from_another_rig_is_refused(workspace, tmp_path, factory):
    rig = scenes.build_chain("Arm", (0.5, 0.4, 0.2, 0.1), ("upper_arm", "forearm", "hand", "finger"))
    scenes.add_empty("Region", (0.6, 0.0, 1.0), display="CUBE", size=0.4)
    other = tmp_path / "other.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(other))
    config = small_config()
    config.rig.controls = ["upper_arm", "forearm", "hand", "finger"]
    config.rig.effector = "finger"
    (tmp_path / "c.toml").write_text(config.to_toml())
    # the policy trained on the 3-bone selection cannot drive this 4-bone one
    proc = run_cli("train", other, "--config", tmp_path / "c.toml", "--init-from",
                   workspace["run"] / "final.rdpolicy", "--out", tmp_path / "run")
    assert proc.returncode == 2
    assert "policy" in proc.stderr and ("observations" in proc.stderr or "controls" in proc.stderr), proc.stderr
    assert rig.name == "Arm"


def test_ctrl_c_keeps_the_checkpoint_and_resume_finishes(workspace, tmp_path):
    config = small_config(steps=400_000)
    (tmp_path / "long.toml").write_text(config.to_toml())
    run = tmp_path / "run"
    # SIGINT as a terminal sends it: restored in the child (a background job of a non-interactive shell, which
    # may have started these tests, ignores SIGINT and passes that on)
    proc = subprocess.Popen([sys.executable, "-m", "rig_dojo", "train", str(workspace["scene"]), "--config",
                             str(tmp_path / "long.toml"), "--out", str(run)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 120
    while not (run / "checkpoint.json").exists() and time.time() < deadline:
        time.sleep(0.2)
    assert (run / "checkpoint.json").exists()
    proc.send_signal(signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err[-2000:]
    assert f"--resume {run}" in err
    stopped_at = json.loads((run / "checkpoint.json").read_text())["step"]
    assert 0 < stopped_at < 400_000
    # finish it with a smaller budget
    text = (run / "config.toml").read_text().replace("total_steps = 400000", f"total_steps = {stopped_at + 1024}")
    (run / "config.toml").write_text(text)
    resumed = run_cli("train", workspace["scene"], "--resume", run)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert json.loads((run / "summary.json").read_text())["steps"] >= stopped_at + 1024


def test_same_config_same_result_in_process_and_on_the_command_line(workspace, tmp_path):
    """The sidebar runs a TrainingSession in Blender's process; the command line another process.

    Equal up to float rounding: torch's CPU kernels may sum in another order with another thread count.
    """
    from rig_dojo.agents.policy_file import load_policy
    from rig_dojo.agents.session import TrainingSession
    from rig_dojo.scene.kinematic.task_extract import task_from_config
    from rig_dojo.envs.kinematic.family import env_factory

    bpy.ops.wm.open_mainfile(filepath=str(workspace["scene"]))
    config = TrainConfig.load(workspace["config"])
    session = TrainingSession(config, env_factory(task_from_config(config)), tmp_path / "inproc")
    session.start()
    assert session.wait(300) == "finished", session.error
    ours = load_policy(tmp_path / "inproc" / "final.rdpolicy").arrays
    theirs = load_policy(workspace["run"] / "final.rdpolicy").arrays
    assert ours.keys() == theirs.keys()
    for key in ours:
        np.testing.assert_allclose(ours[key], theirs[key], rtol=0, atol=1e-5)


def test_same_config_same_result_with_stable_baselines3_ppo(workspace, tmp_path):
    """As above for ``sb3_ppo`` (Stable-Baselines3's PPO, which was ``ppo`` before ours)."""
    from rig_dojo.agents.policy_file import load_policy
    from rig_dojo.agents.session import TrainingSession
    from rig_dojo.envs.kinematic.family import env_factory
    from rig_dojo.scene.kinematic.task_extract import task_from_config

    config = small_config(steps=1024, algo="sb3_ppo")
    (tmp_path / "sb3.toml").write_text(config.to_toml())
    proc = run_cli("train", workspace["scene"], "--config", tmp_path / "sb3.toml", "--out", tmp_path / "cli")
    assert proc.returncode == 0, proc.stderr[-2000:]
    bpy.ops.wm.open_mainfile(filepath=str(workspace["scene"]))
    session = TrainingSession(config, env_factory(task_from_config(config)), tmp_path / "inproc")
    session.start()
    assert session.wait(300) == "finished", session.error
    ours = load_policy(tmp_path / "inproc" / "final.rdpolicy")
    theirs = load_policy(tmp_path / "cli" / "final.rdpolicy")
    assert ours.trainer == theirs.trainer == "sb3_ppo" and "mlp_extractor.policy_net.0.weight" in ours.arrays
    for key in ours.arrays:
        np.testing.assert_allclose(ours.arrays[key], theirs.arrays[key], rtol=0, atol=1e-5)
