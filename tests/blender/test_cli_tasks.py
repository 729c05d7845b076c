"""The camera task and the physics tasks on the command line: train, evaluate, bake, bad input.

Every command runs in a subprocess (``python -m rig_dojo``) on scenes these tests build and
save. Budgets are tiny: the tests check outputs, files, exit codes and messages, not learning.
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import zipfile

import bpy
import numpy as np
import pytest

from rig_dojo.agents.config import TrainConfig, defaults_for
from rig_dojo.errors import RigDojoError
from harness import run_cli

pytestmark = pytest.mark.slow  # trains or runs the command line in subprocesses

SHOT_FRAMES = 24


def physics_config(task: str = "stand", steps: int = 512) -> TrainConfig:
    config = TrainConfig(task=task)
    config.algo = defaults_for("ppo")
    config.algo.total_steps, config.algo.n_envs, config.algo.n_steps = steps, 4, 64
    config.algo.batch_size, config.algo.n_epochs = 64, 1
    config.rig.rig = "Biped"
    config.physics.episode_seconds = 1.0
    config.output.checkpoint_every = 256
    return config


def _save(path) -> None:
    bpy.ops.wm.save_as_mainfile(filepath=str(path))


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, dojo_registered):
    """Saved scenes (a camera shot, a biped, and one broken scene per refusal) and two trained runs."""
    from rig_dojo.scene.builders import creatures
    from rig_dojo.scene.builders.camera import build_camera_demo_scene

    folder = tmp_path_factory.mktemp("cli_tasks")
    files = {}
    bpy.ops.wm.read_factory_settings(use_empty=True)
    build_camera_demo_scene(frames=SHOT_FRAMES)
    _save(files.setdefault("camera", folder / "shot.blend"))
    bpy.context.scene.frame_end = bpy.context.scene.frame_start
    _save(files.setdefault("one_frame", folder / "one_frame.blend"))
    bpy.context.scene.frame_end = SHOT_FRAMES
    bpy.data.objects.remove(bpy.data.objects["ShotCam"])
    _save(files.setdefault("no_camera", folder / "no_camera.blend"))

    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.context.scene.frame_start, bpy.context.scene.frame_end = 1, 48
    biped = creatures.build_biped()
    _save(files.setdefault("biped", folder / "biped.blend"))
    con = biped.pose.bones["thigh.L"].constraints.new('LIMIT_ROTATION')
    con.use_limit_x, con.min_x, con.max_x = True, 0.5, -0.5
    _save(files.setdefault("bad_limit", folder / "bad_limit.blend"))
    bpy.ops.wm.read_factory_settings(use_empty=True)
    lonely = creatures._armature("Lonely", (0, 0, 0))
    creatures._add_bones(lonely, [("root", (0, 0, 0), (0, 0, 1), None, False)])
    _save(files.setdefault("lonely", folder / "lonely.blend"))

    # the camera from flags alone (the .blend holds default settings): the shot solver is the camera's default
    camera_run = folder / "camera_run"
    cam = run_cli("train", files["camera"], "--task", "camera", "--subject", "Subject", "--framing", "left_third",
                  "--mode", "free", "--frames", f"1-{SHOT_FRAMES}", "--steps", "6000", "--out", camera_run)
    assert cam.returncode == 0, cam.stderr[-3000:]
    # a physics run from a config, with the physical parameters as flags
    config = folder / "stand.toml"
    config.write_text(physics_config().to_toml())
    stand_run = folder / "stand_run"
    stand = run_cli("train", files["biped"], "--config", config, "--density", "800", "--strength", "1.5",
                    "--friction", "0.8", "--out", stand_run)
    assert stand.returncode == 0, stand.stderr[-3000:]
    return {"folder": folder, **files, "camera_run": camera_run, "camera_train": cam, "stand_run": stand_run,
            "stand_train": stand, "stand_config": config}


def _reads_without_pickle(policy_path) -> dict:
    with zipfile.ZipFile(policy_path) as zf:
        assert sorted(zf.namelist()) == ["metadata.json", "weights.npz"]
        metadata = json.loads(zf.read("metadata.json"))
        with np.load(io.BytesIO(zf.read("weights.npz")), allow_pickle=False) as npz:
            assert all(npz[k].dtype.kind == "f" for k in npz.files)
    return metadata


def _action_source(blend, action: str) -> str:
    code = ("import bpy, sys; bpy.ops.wm.open_mainfile(filepath=sys.argv[1]); a = bpy.data.actions[sys.argv[2]];"
            "print('SOURCE=' + a['rig_dojo_source']['policy_sha256'])")
    check = subprocess.run([sys.executable, "-c", code, str(blend), action], capture_output=True, text=True,
                           timeout=300)
    return check.stdout + check.stderr


# ---- TrainConfig -----------------------------------------------------------------------------


def test_camera_and_physics_tables_round_trip_through_toml():
    config = TrainConfig(task="camera")
    config.algo = defaults_for("cem")
    cam = config.camera
    cam.camera, cam.subject, cam.bone, cam.frame_start, cam.frame_end = "Cam", "Hero", "head", 10, 58
    cam.mode, cam.framing, cam.use_lens, cam.allow_roll, cam.start_noise = "dolly", "right_third", True, True, 0.1
    ph = config.physics
    ph.root, ph.density, ph.strength, ph.friction, ph.obstacles = "pelvis", 750.0, 2.0, 0.6, ["Box", "Crate"]
    ph.direction, ph.obstacle_heights, ph.root_motion = [1.0, 0.0, 0.0], [0.05, 0.1], "object"
    text = config.to_toml()
    assert "[camera]" in text and "[physics]" in text
    assert TrainConfig.from_toml(text) == config
    config.task = "jump"
    config.algo = defaults_for("ppo")
    assert TrainConfig.from_toml(config.to_toml()) == config
    # a TOML written before these tables existed still loads, with the defaults
    assert TrainConfig.from_toml('task = "reach"\n').physics.density == 1000.0


@pytest.mark.parametrize("text,message", [
    ('[camera]\nlenz = 35.0\n', "unknown key 'camera.lenz'"),
    ('[physics]\ndensity = "heavy"\n', "physics.density: expected float"),
    ('[physics]\ndirection = [0, "x", 0]\n', "physics.direction[1]: expected float"),
    ('task = "camera"\n[camera]\nmode = "crane"\n', "camera.mode"),
    ('task = "camera"\n[camera]\nframe_start = 5\nframe_end = 5\n', "camera.frame_end (5) must be after"),
    ('task = "stand"\n[physics]\ndensity = 0.0\n', "physics.density must be greater than 0"),
    ('task = "reach"\n[algo]\nname = "cem"\n', "cem cannot train the reach task"),
    ('task = "dance"\n', "task: unknown task 'dance'"),
    ('task = "camera"\n[algo]\nname = "cem"\nextra = { elit = 0.2 }\n', "algo.extra.elit"),
])
def test_bad_tables_name_the_key(text, message):
    with pytest.raises(RigDojoError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        TrainConfig.from_toml(text)


# ---- camera ----------------------------------------------------------------------------------


def test_camera_train_writes_summary_with_baselines(workspace):
    run = workspace["camera_run"]
    for name in ("config.toml", "metrics.csv", "final.rdpolicy", "summary.json", "checkpoint.json"):
        assert (run / name).is_file(), name
    summary = json.loads((run / "summary.json").read_text())
    assert summary["task"] == "camera" and summary["algo"] == "solve" and summary["camera"] == "ShotCam"
    # the budget, unless the solve converged first (then summary.json and the command line say so)
    assert summary["steps"] >= 6000 or "converged" in summary.get("ended_early", ""), summary
    assert summary["wall_seconds"] > 0 and summary["steps_per_second"] > 0
    for key in ("framing_error", "occlusion", "jerk"):
        assert np.isfinite(summary[key])
    shot = summary["shot"]
    assert shot["framing_point"] == "left_third" and shot["frames"] == [1, SHOT_FRAMES]
    for camera in ("trained", "fixed", "track_to", "track_to_dolly"):
        assert {"framing", "occlusion", "jerk", "jerk_position", "jerk_rotation", "collisions", "on_target",
                "success"} <= set(shot[camera])
    assert shot["trained"]["framing"] == summary["framing_error"] == summary["final_error"]
    assert shot["trained"]["on_target"] == summary["success_rate"]
    assert shot["fixed"]["jerk"] == 0.0 and shot["track_to"]["jerk"] > 0.0  # the baselines are what they say
    config = TrainConfig.load(run / "config.toml")
    assert (config.camera.subject, config.camera.framing, config.camera.frame_end) == ("Subject", "left_third",
                                                                                        SHOT_FRAMES)
    metadata = _reads_without_pickle(run / "final.rdpolicy")
    assert metadata["algo"] == "solve" and metadata["controls"] == ["location", "rotation"]
    out = workspace["camera_train"].stdout
    assert "Track To + dolly" in out and "run folder:" in out and "final error" not in out


def test_camera_search_session_is_the_policy_search_of_the_camera_module(workspace, tmp_path):
    """The CLI's cem run is envs.camera.task.train_policy_search: same settings and seed, same policy."""
    from rig_dojo.envs.camera.task import train_policy_search
    from rig_dojo.scene.families import spec_from_config
    from rig_dojo.envs.families import env_factory
    from rig_dojo.agents.policy_file import load_policy as load_task_policy
    from rig_dojo.agents.session import make_session

    bpy.ops.wm.open_mainfile(filepath=str(workspace["camera"]))
    config = TrainConfig(task="camera")
    config.algo = defaults_for("cem")
    config.camera.subject, config.camera.framing = "Subject", "right_third"
    config.algo.n_envs = 16
    spec = spec_from_config(config)
    config.algo.total_steps = 3 * 16 * (spec.n_frames - 1)
    session = make_session(config, env_factory(spec, config), tmp_path / "run")
    session.start()
    assert session.wait(120) == "finished", session.error
    assert session.latest().preview.shape == (spec.n_frames, 2, 3)
    ours = load_task_policy(tmp_path / "run" / "final.rdpolicy")
    theirs, history = train_policy_search(spec, generations=3, population=16, seed=0, framing="right_third")
    assert len(history) == 3
    np.testing.assert_allclose(ours.arrays["weights"], theirs.weights)
    np.testing.assert_allclose(ours.arrays["bias"], theirs.bias)


def test_camera_evaluate_reports_the_shot(workspace):
    proc = run_cli("evaluate", workspace["camera"], "--policy", workspace["camera_run"] / "final.rdpolicy",
                   "--episodes", "2", "--json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout)
    assert result["task"] == "camera" and result["episodes"] == 1  # one deterministic move over the shot
    summary = json.loads((workspace["camera_run"] / "summary.json").read_text())
    assert result["shot"]["trained"] == summary["shot"]["trained"]  # deterministic
    assert result["final_error"] == summary["final_error"] and result["success_rate"] == summary["success_rate"]
    text = run_cli("evaluate", workspace["camera"], "--policy", workspace["camera_run"] / "final.rdpolicy")
    assert text.returncode == 0, text.stderr[-2000:]
    lines = text.stdout.strip().splitlines()
    trained = summary["shot"]["trained"]
    assert len(lines) == 3 and lines[1].startswith("solved move, frames 1-") and "final error" not in text.stdout
    assert f"on {trained['on_target']:.0%} of frames" in lines[1] and "Track To + dolly" in lines[2]


def test_camera_bake_keys_a_new_action_and_verifies_it(workspace, tmp_path):
    before = hashlib.sha256(workspace["camera"].read_bytes()).hexdigest()
    out = tmp_path / "baked.blend"
    proc = run_cli("bake", workspace["camera"], "--policy", workspace["camera_run"] / "final.rdpolicy",
                   "--frames", f"1-{SHOT_FRAMES}", "--action", "DojoShot", "--output", out, "--json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout)
    assert report["action"] == "DojoShot" and report["camera"] == "ShotCam"
    assert report["keys_written"] == SHOT_FRAMES * 6  # location and Euler rotation, one key per frame
    assert report["frames_compared"] == SHOT_FRAMES and report["image_error"] < 1e-4
    assert report["position_error"] < 1e-4
    summary = json.loads((workspace["camera_run"] / "summary.json").read_text())
    assert report["shot"]["framing"] == pytest.approx(summary["framing_error"])
    assert hashlib.sha256(workspace["camera"].read_bytes()).hexdigest() == before
    assert f"SOURCE={summary['policy_sha256']}" in _action_source(out, "DojoShot")


def test_camera_trains_with_ppo_too_and_resumes_cem(workspace, tmp_path):
    proc = run_cli("train", workspace["camera"], "--task", "camera", "--subject", "Subject", "--algo", "ppo",
                   "--steps", "256", "--out", tmp_path / "ppo")
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads((tmp_path / "ppo" / "summary.json").read_text())
    assert summary["algo"] == "ppo" and "shot" in summary
    # resume a finished cem run with a larger budget: it continues from the checkpoint
    run = tmp_path / "cem"
    first = run_cli("train", workspace["camera"], "--task", "camera", "--subject", "Subject", "--algo", "cem",
                    "--steps", "2000", "--out", run)
    assert first.returncode == 0, first.stderr[-2000:]
    steps = json.loads((run / "summary.json").read_text())["steps"]
    text = (run / "config.toml").read_text().replace("total_steps = 2000", "total_steps = 5000")
    (run / "config.toml").write_text(text)
    resumed = run_cli("train", workspace["camera"], "--resume", run)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert json.loads((run / "summary.json").read_text())["steps"] >= 5000 > steps


# ---- physics ---------------------------------------------------------------------------------


def test_physics_train_writes_summary_and_takes_the_physical_flags(workspace):
    run = workspace["stand_run"]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["task"] == "stand" and summary["algo"] == "ppo" and summary["rig"] == "Biped"
    assert summary["steps"] >= 512 and summary["steps_per_second"] > 0
    physics = summary["physics"]
    for who in ("trained", "zero_actions"):
        assert 0 < physics[who]["seconds_up"] <= 1.0 + 1e-9 and np.isfinite(physics[who]["distance"])
    config = TrainConfig.load(run / "config.toml")
    assert (config.physics.density, config.physics.strength, config.physics.friction) == (800.0, 1.5, 0.8)
    assert _reads_without_pickle(run / "final.rdpolicy")["algo"] == "ppo"
    assert "radians of tilt" in workspace["stand_train"].stdout


@pytest.mark.parametrize("task", ["locomotion", "jump"])
def test_other_physics_tasks_train_and_evaluate(workspace, tmp_path, task):
    config = tmp_path / "c.toml"
    config.write_text(physics_config(task, steps=256).to_toml())
    proc = run_cli("train", workspace["biped"], "--config", config, "--out", tmp_path / "run")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["task"] == task
    ev = run_cli("evaluate", workspace["biped"], "--policy", tmp_path / "run" / "final.rdpolicy", "--episodes", "2")
    assert ev.returncode == 0, ev.stderr[-2000:]
    assert "zero_actions" in ev.stdout and "deterministic episodes" in ev.stdout


def test_physics_evaluate_prints_json(workspace):
    proc = run_cli("evaluate", workspace["biped"], "--policy", workspace["stand_run"] / "final.rdpolicy",
                   "--episodes", "3", "--json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout)
    assert result["episodes"] == 3 and result["task"] == "stand"
    assert {"trained", "zero_actions"} <= set(result["physics"])


def test_physics_bake_writes_root_motion_and_joints_and_verifies(workspace, tmp_path):
    out = tmp_path / "baked.blend"
    proc = run_cli("bake", workspace["biped"], "--policy", workspace["stand_run"] / "final.rdpolicy",
                   "--frames", "1-12", "--action", "Balance", "--output", out, "--json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout)
    assert report["action"] == "Balance" and report["rig"] == "Biped" and report["root_motion"] == "bone"
    assert report["frames"][0] == 1 and report["frames"][1] <= 12 and report["keys_written"] > 0
    assert report["relative_error"] <= 1e-4, report
    summary = json.loads((workspace["stand_run"] / "summary.json").read_text())
    assert f"SOURCE={summary['policy_sha256']}" in _action_source(out, "Balance")
    # key reduction is for rig bakes: said, not ignored
    refused = run_cli("bake", workspace["biped"], "--policy", workspace["stand_run"] / "final.rdpolicy",
                      "--frames", "1-12", "--reduce", "0.5", "--output", tmp_path / "x.blend")
    assert refused.returncode == 2 and "--reduce" in refused.stderr and not (tmp_path / "x.blend").exists()


# ---- bad input: one line, exit 2, nothing written ------------------------------------------


@pytest.mark.parametrize("scene,args,message", [
    ("no_camera", ["--task", "camera", "--subject", "Subject"], "the scene has no camera"),
    ("camera", ["--task", "camera", "--camera", "Ghost", "--subject", "Subject"], "no object named 'Ghost'"),
    ("camera", ["--task", "camera", "--subject", "Wall"], "does not move between frames"),
    ("camera", ["--task", "camera"], "no subject"),
    ("camera", ["--task", "camera", "--subject", "Subject", "--frames", "5-5"], "END must be after START"),
    ("one_frame", ["--task", "camera", "--subject", "Subject"], "the shot is empty"),
    ("camera", ["--task", "stand", "--rig", "Biped", "--frames", "1-5"], "--frames sets the shot"),
    ("lonely", ["--task", "stand", "--rig", "Lonely"], "no bones under the root 'root'"),
    ("biped", ["--task", "locomotion", "--rig", "Biped", "--density", "0"], "physics.density must be greater than 0"),
    ("bad_limit", ["--task", "jump", "--rig", "Biped"], "min > max"),
    ("biped", ["--task", "stand"], "no rig chosen"),
    ("biped", ["--task", "stand", "--rig", "Biped", "--algo", "cem"], "cem cannot train the stand task"),
])
def test_bad_input_exits_2_with_one_line(workspace, tmp_path, scene, args, message):
    proc = run_cli("train", workspace[scene], *args, "--steps", "64", "--out", tmp_path / "run", cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], proc.stderr
    assert not (tmp_path / "run").exists()
