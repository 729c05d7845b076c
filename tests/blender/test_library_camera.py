"""``library:camera`` (agents/library_camera.py) on shots it never saw, built here with bpy: zero-shot framing
against an untrained network and Track To, the command line's zero-shot run and fine-tune, and the starts
that do not fit, refused in one line."""

from __future__ import annotations

import json

import numpy as np
import pytest

import bpy

from rig_dojo.agents.config import TrainConfig
from rig_dojo.agents.library import entry
from rig_dojo.agents.library_camera import CameraRecipe, new_network
from rig_dojo.agents.policy_file import load_policy
from rig_dojo.envs.camera.task import CameraTask, rollout, scripted_rollout, shot_metrics
from rig_dojo.scene.builders.camera_shots import FPS, RESOLUTION, add_ground, add_shot_camera, add_subject, \
    key_transforms
from rig_dojo.scene.camera.extract import extract_camera_shot
from harness import run_cli


@pytest.fixture(autouse=True)
def training_threads():
    import torch

    from rig_dojo.agents.threads import use_training_threads

    before = torch.get_num_threads()
    use_training_threads()
    yield
    torch.set_num_threads(before)


def build_unseen_shot(frames: int = 96, scale: float = 1.0):
    """A dog-like subject trotting an S-curve that speeds up, stops and climbs a ramp, seen from 6 m off its
    side with a 50 mm lens, no obstacles; ``scale`` makes it a tabletop or a stadium shot."""
    scene = bpy.context.scene
    scene.frame_start, scene.frame_end = 1, frames
    scene.render.fps, scene.render.fps_base = FPS, 1.0
    scene.render.resolution_x, scene.render.resolution_y = RESOLUTION
    t = np.linspace(0.0, 1.0, frames)
    ease = np.where(t < 0.7, (t / 0.7) ** 1.5 * 0.85, 0.85 + 0.15 * np.minimum((t - 0.7) / 0.15, 1.0))
    x = -6.0 + 12.0 * ease
    path = np.stack([x, 3.0 * np.sin(x / 2.5), 0.4 + 0.6 * np.clip(x - 3.0, 0.0, None) / 3.0], axis=1) * scale
    subject = add_subject("Dog", 0.35 * scale)
    key_transforms(subject, np.arange(1, frames + 1), location=path)
    add_ground(30 * scale)
    add_shot_camera("Cam", (-3.0 * scale, -5.0 * scale, 1.8 * scale), tuple(path[0]), lens=50.0)
    return "Cam", "Dog"


def _metrics(policy, spec):
    task = CameraTask(spec, n_envs=1)
    move = scripted_rollout(task, "track_to") if policy == "track_to" else rollout(task, policy)
    return shot_metrics(task, move)


def test_the_camera_library_frames_shots_it_never_saw(factory):
    lib = load_policy(entry("camera").path)
    untrained = new_network(CameraRecipe(seed=3))
    for scale in (1.0, 0.1, 8.0):
        bpy.ops.wm.read_factory_settings(use_empty=True)
        camera, subject = build_unseen_shot(scale=scale)
        spec = extract_camera_shot(camera, subject)
        ours = _metrics(lambda obs: lib.predict(obs)[0], spec)
        blank = _metrics(lambda obs: untrained.predict(obs)[0], spec)
        track = _metrics("track_to", spec)
        assert ours["success"] and ours["framing"] < 0.05, (scale, ours)
        assert blank["on_target"] < 0.5 and not blank["success"], (scale, blank)
        assert ours["collisions"] == 0 and track["success"], (scale, track)


@pytest.mark.slow
def test_the_command_line_starts_camera_runs_from_the_library(factory, tmp_path):
    camera, subject = build_unseen_shot()
    blend = tmp_path / "shot.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    shot = ["--task", "camera", "--camera", camera, "--subject", subject]
    zero = tmp_path / "zero"
    proc = run_cli("train", blend, *shot, "--init-from", "library:camera", "--zero-shot", "--out", zero)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert 'algo.name = "ppo"' in proc.stderr  # the shot solver (the camera's default) cannot start from weights
    summary = json.loads((zero / "summary.json").read_text())
    assert summary["steps"] == 0 and summary["success"], summary
    config = TrainConfig.load(zero / "config.toml")
    assert (config.algo.name, config.algo.start_from) == ("ppo", "library:camera")
    tuned = tmp_path / "tuned"
    proc = run_cli("train", blend, *shot, "--init-from", "library:camera", "--steps", "20000", "--out", tuned)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = json.loads((tuned / "summary.json").read_text())
    assert summary["success"] and summary["framing_error"] < 0.05, summary


@pytest.mark.slow
def test_camera_starts_that_do_not_fit_are_refused_in_one_line(factory, tmp_path):
    camera, subject = build_unseen_shot()
    blend = tmp_path / "shot.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    shot = ["--task", "camera", "--camera", camera, "--subject", subject]
    before = blend.read_bytes()
    cases = [
        (["--mode", "dolly"], "acts with"),
        (["--algo", "cem"], "was trained with ppo; cem starts only from a linear policy"),
        (["--algo", "sb3_ppo"], "was trained with ppo; this run uses sb3_ppo"),
        (["--algo", "solve"], "is not a solved path of this shot"),
        (["--algo", "ppo", "--zero-shot"], None),  # fits: the refusals above are about the start, not the shot
    ]
    for k, (args, message) in enumerate(cases):
        steps = [] if "--zero-shot" in args else ["--steps", "1000"]
        proc = run_cli("train", blend, *shot, *args, "--init-from", "library:camera", *steps, "--out",
                       tmp_path / f"bad{k}")
        if message is None:
            assert proc.returncode == 0, proc.stderr
            continue
        errors = [ln for ln in proc.stderr.splitlines() if "error" in ln]
        assert proc.returncode == 2 and len(errors) == 1 and message in errors[0], (args, proc.stderr)
        assert "Traceback" not in proc.stderr
    proc = run_cli("train", blend, *shot, "--init-from", "library:reach", "--steps", "1000", "--out", tmp_path / "r")
    assert proc.returncode == 2 and "library:reach starts reach tasks; this run's task is camera" in proc.stderr, \
        proc.stderr
    assert blend.read_bytes() == before


def test_the_sidebar_offers_the_camera_library(factory):
    from rig_dojo.operators.rewards import _start_items

    assert "library:camera" in [item[0] for item in _start_items(None, None)]
    camera, subject = build_unseen_shot()
    s = bpy.context.scene.rig_dojo
    s.task = "camera"
    assert s.algo.name == "solve"  # the camera's default, which cannot start from weights
    assert bpy.ops.rig_dojo.start_from(source="library:camera") == {'FINISHED'}
    assert (s.algo.start_from, s.observation, s.algo.name) == ("library:camera", "full", "ppo")
    s.task = "reach"
    with pytest.raises(RuntimeError, match="starts camera tasks"):
        bpy.ops.rig_dojo.start_from(source="library:camera")
