"""The camera task and the physics tasks in the Dojo sidebar, end to end on the real bpy module.

Settings → Train (the operator) → the timer's preview on the camera / the creature → Stop
(restored) → Bake into a new Action (the user's own Action untouched) → Evaluate; every
panel's draw() for these tasks; TOML export/import; poll refusals. Budgets are tiny: the
tests check the plumbing, not learning. The wheel has no event loop: the tests call the
timer callback (``live.tick``) themselves.
"""

from __future__ import annotations

import math
import re

import bpy
import numpy as np
import pytest
import test_sidebar
from test_sidebar import tick_until

from rig_dojo import live
from rig_dojo.agents.config import TrainConfig, defaults_for
from rig_dojo.errors import RigDojoError
from rig_dojo.props import config_to_settings, settings_to_config

SHOT_FRAMES = 24
PHYSICS_TASKS = ("stand", "locomotion", "jump", "obstacles", "track")
# every Dojo panel: test_sidebar's list and the Rig & Task panel's Advanced child (camera and physics only)
PANELS = (*test_sidebar.PANELS, "VIEW3D_PT_rig_dojo_rig_advanced")


def draw_panels(capfd) -> list[str]:
    """test_sidebar's headless draw of every panel (a real UILayout), over this module's panel list."""
    saved = test_sidebar.PANELS
    test_sidebar.PANELS = PANELS
    try:
        return test_sidebar.draw_panels(capfd)
    finally:
        test_sidebar.PANELS = saved


@pytest.fixture(autouse=True)
def no_training_left_behind():
    yield
    live.shutdown()


# --- scenes ----------------------------------------------------------------------------------


def camera_scene(tmp_path=None):
    """The camera demo shot (a subject on a Follow Path curve behind a wall), set up in the sidebar."""
    from rig_dojo.scene.builders.camera import build_camera_demo_scene

    objs = build_camera_demo_scene(frames=SHOT_FRAMES)
    s = bpy.context.scene.rig_dojo
    s.task = 'camera'
    s.camera.subject = objs["subject"]
    s.camera.framing = 'left_third'
    s.algo.name = 'cem'  # the learned policy (the shot solver, the default, ends when it converges: its own test)
    s.algo.n_envs = 16
    s.algo.total_steps = 10**8  # runs until stopped
    if tmp_path is not None:
        s.run_dir = str(tmp_path / "camera_run")
    return objs


def physics_scene(tmp_path=None, task: str = "stand"):
    """The test biped, set up in the sidebar for ``task`` with small PPO settings and 1 s episodes."""
    from rig_dojo.scene.builders.creatures import build_biped

    scene = bpy.context.scene
    scene.frame_start, scene.frame_end = 1, 48
    biped = build_biped()
    s = scene.rig_dojo
    s.rig = biped
    s.task = task
    ph = s.physics
    ph.density, ph.strength, ph.friction, ph.episode_seconds = 800.0, 1.5, 0.8, 1.0
    algo = s.algo
    algo.n_envs, algo.n_steps, algo.batch_size, algo.n_epochs, algo.net_arch = 4, 64, 64, 1, "32, 32"
    algo.total_steps = 10**8
    s.checkpoint_every = 256
    if tmp_path is not None:
        s.run_dir = str(tmp_path / f"{task}_run")
    return biped


def keep_still_action(obj, data_path: str, name: str) -> bpy.types.Action:
    """The animator's own keys (the current values at frames 1 and 20): a bake must leave them alone."""
    for frame in (1, 20):
        obj.keyframe_insert(data_path, frame=frame)
    action = obj.animation_data.action
    action.name = name
    return action


def action_keys(action, owner) -> list:
    from rig_dojo.scene import anim

    out = []
    for c in anim.iter_fcurves(action, owner):
        co = np.empty(len(c.keyframe_points) * 2, dtype=np.float32)
        c.keyframe_points.foreach_get("co", co)
        out.append((c.data_path, c.array_index, co.tolist()))
    return sorted(out)


def world(obj) -> np.ndarray:
    return np.array(obj.matrix_world)


def transform(obj) -> tuple:
    return (tuple(obj.location), tuple(obj.rotation_euler), tuple(obj.rotation_quaternion), tuple(obj.scale))


def joint_pose(obj) -> np.ndarray:
    return np.array([list(pb.rotation_euler) + list(pb.rotation_quaternion) + list(pb.location)
                     for pb in obj.pose.bones])


def number_after(text: str, words: str) -> float:
    match = re.search(re.escape(words) + r" ([-+0-9.e]+)", text)
    assert match, f"{words!r} not in {text!r}"
    return float(match.group(1))


# --- settings ----------------------------------------------------------------------------------


def test_camera_task_offers_solve_as_its_default_and_cem_and_only_there(factory):
    from rig_dojo.props import _algorithm_items

    s = bpy.context.scene.rig_dojo
    items = lambda: [i[0] for i in _algorithm_items(s.algo, bpy.context)]  # noqa: E731  (what the menu lists)
    assert "cem" not in items()
    with pytest.raises(TypeError, match="enum \"cem\" not found"):
        s.algo.name = 'cem'
    s.task = 'camera'
    assert s.algo.name == 'solve' and settings_to_config(s).algo == defaults_for("solve")
    assert {"solve", "cem"} <= set(items()) and "dqn" not in items()  # the camera's actions are continuous
    s.algo.name = 'cem'
    assert settings_to_config(s).algo == defaults_for("cem")
    s.algo.name = 'solve'
    assert [t.name for t in s.rewards][0] == "camera_framing"
    s.camera.framing = 'right_third'  # unedited default terms follow the framing point
    assert s.rewards[0].params["point"].value() == "right_third"
    s.task = 'stand'
    assert s.algo.name == 'ppo' and "cem" not in items() and "solve" not in items()
    assert [t.name for t in s.rewards][:2] == ["alive_bonus", "upright"]
    s.algo.name = 'sac'  # a choice that fits the next task is kept
    s.task = 'camera'
    assert s.algo.name == 'sac'
    s.task = 'reach'
    s.algo.name = 'dqn'
    assert s.discrete
    s.task = 'locomotion'  # dqn cannot train physics: back to the default, continuous actions, with the task's tuning
    assert s.algo.name == 'ppo' and not s.discrete
    assert settings_to_config(s).algo == defaults_for("ppo", "locomotion") != defaults_for("ppo")
    s.task = 'reach'  # and back: the task's default, our PPO
    assert s.algo.name == 'ppo' and settings_to_config(s).algo == defaults_for("ppo", "reach")
    s.task = 'locomotion'
    assert settings_to_config(s).task == "locomotion"


def _camera_and_physics_config() -> TrainConfig:
    config = TrainConfig(task="camera")
    config.algo = defaults_for("cem")
    config.algo.n_envs = 24
    cam = config.camera
    cam.camera, cam.subject, cam.region = "ShotCam", "Subject", "Wall"
    cam.frame_start, cam.frame_end = 2, 20
    cam.mode, cam.framing, cam.use_lens, cam.allow_roll = "dolly", "nearest_third", True, True
    cam.tolerance, cam.start_noise, cam.occlusion = 0.05, 0.1, False
    ph = config.physics
    ph.root, ph.density, ph.strength, ph.friction = "pelvis", 750.0, 2.5, 0.6
    ph.radius_source, ph.radius_ratio, ph.root_motion = "envelope", 0.1, "object"
    ph.obstacles, ph.platform = ["Wall", "Ground"], "Subject"
    ph.episode_seconds, ph.substeps, ph.direction = 2.5, 4, [1.0, 0.5, 0.0]
    ph.target_speed, ph.fall_height, ph.max_tilt_degrees = 1.25, 0.4, 45.0
    ph.reset_noise, ph.push, ph.jump_height = 0.02, 0.3, 0.2
    ph.obstacle_heights, ph.obstacle_distance = [0.03, 0.07, 0.1], 1.5
    return config


def test_the_stored_algorithm_numbers_never_change_and_sb3_ppo_comes_after_them(factory, tmp_path):
    """A .blend stores the algorithm as its enum item's number: the numbers files were saved with stay
    (cem was 6 before sb3_ppo existed), and Stable-Baselines3's PPO survives a save and reload."""
    from rig_dojo import props

    numbers = {name: props._ALGORITHM_ITEMS[name][3] for name in props._ALGORITHM_ITEMS}
    assert numbers == {"ppo": 0, "a2c": 1, "sac": 2, "td3": 3, "dqn": 4, "qlearning": 5, "cem": 6, "solve": 7,
                       "sb3_ppo": 8}
    s = bpy.context.scene.rig_dojo
    s.algo.name = 'sb3_ppo'
    assert settings_to_config(s).algo == defaults_for("sb3_ppo")
    blend = tmp_path / "sb3.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.ops.wm.open_mainfile(filepath=str(blend))
    assert bpy.context.scene.rig_dojo.algo.name == 'sb3_ppo'


def test_camera_and_physics_settings_round_trip_through_toml_and_the_blend(factory, tmp_path):
    from rig_dojo.scene.builders.creatures import build_biped

    camera_scene()
    build_biped()
    s = bpy.context.scene.rig_dojo
    config = _camera_and_physics_config()
    config.rig.rig = "Biped"
    config_to_settings(config, s)
    assert s.camera.camera == bpy.data.objects["ShotCam"] and s.camera.region == bpy.data.objects["Wall"]
    assert not s.camera.use_scene_range and s.physics.platform == bpy.data.objects["Subject"]
    assert s.other_sections in ("", "{}")  # real properties now, not opaque JSON
    assert settings_to_config(s) == config

    path = tmp_path / "camera.toml"
    assert bpy.ops.rig_dojo.export_config(filepath=str(path)) == {'FINISHED'}
    assert path.read_text() == config.to_toml() and TrainConfig.load(path) == config
    s.task = 'reach'
    s.camera.subject, s.physics.density, s.physics.obstacle_heights = None, 5.0, "0.5"
    assert bpy.ops.rig_dojo.import_config(filepath=str(path)) == {'FINISHED'}
    assert settings_to_config(s) == config

    # a physics config written for the command line: the task and its table come in
    physics = TrainConfig(task="jump")
    physics.rig.rig = "Biped"
    physics.physics = _camera_and_physics_config().physics
    path.write_text(physics.to_toml())
    assert bpy.ops.rig_dojo.import_config(filepath=str(path)) == {'FINISHED'}
    assert s.task == 'jump' and s.algo.name == 'ppo' and s.physics.root_motion == 'object'
    assert settings_to_config(s) == physics

    # every field survives save and reload
    blend = tmp_path / "tasks.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.ops.wm.open_mainfile(filepath=str(blend))
    assert settings_to_config(bpy.context.scene.rig_dojo) == physics
    config_to_settings(config, bpy.context.scene.rig_dojo)
    bpy.ops.wm.save_mainfile()
    bpy.ops.wm.open_mainfile(filepath=str(blend))
    assert settings_to_config(bpy.context.scene.rig_dojo) == config


def test_camera_and_physics_imports_naming_missing_objects_are_refused_and_change_nothing(factory, tmp_path):
    camera_scene()
    s = bpy.context.scene.rig_dojo
    before = settings_to_config(s)
    path = tmp_path / "bad.toml"
    for text, message in (
        ('task = "camera"\n[algo]\nname = "cem"\n[camera]\nsubject = "Ghost"\n', "camera.subject: the object 'Ghost'"),
        ('task = "camera"\n[algo]\nname = "cem"\n[camera]\ncamera = "Wall"\n', "camera.camera: 'Wall' is a mesh"),
        ('task = "stand"\n[physics]\nobstacles = ["Wall", "Crate"]\n', r"physics.obstacles\[1\]: the object 'Crate'"),
        ('task = "stand"\n[physics]\nobstacle_heights = []\n', "physics.obstacle_heights must be a non-empty"),
    ):
        path.write_text(text)
        with pytest.raises(RuntimeError, match=message):
            bpy.ops.rig_dojo.import_config(filepath=str(path))
    assert settings_to_config(s) == before
    s.task = 'stand'
    s.physics.obstacle_heights = "0.1, high"
    with pytest.raises(RigDojoError, match="physics.obstacle_heights: '0.1, high' is not"):
        settings_to_config(s)


def test_panels_draw_the_camera_and_physics_settings(factory, capfd):
    from rig_dojo.scene.builders.creatures import build_biped

    camera_scene()
    build_biped()
    s = bpy.context.scene.rig_dojo
    assert set(draw_panels(capfd)) == set(PANELS)
    s.camera.subject = bpy.data.objects["Biped"]  # an armature subject: its bone is offered
    s.camera.bone = "head"
    s.camera.use_scene_range = False
    draw_panels(capfd)
    s.camera.camera, bpy.context.scene.camera = None, None  # "the scene has no camera"
    draw_panels(capfd)
    s.rig = bpy.data.objects["Biped"]
    for task in PHYSICS_TASKS:
        s.task = task
        assert set(draw_panels(capfd)) == set(PANELS)
    s.physics.radius_source = 'bbone'
    s.rig = None
    draw_panels(capfd)
    s.task = 'reach'  # the rig tasks have no Advanced settings
    assert set(draw_panels(capfd)) == set(PANELS) - {"VIEW3D_PT_rig_dojo_rig_advanced"}


# --- refusals ------------------------------------------------------------------------------------


def test_poll_refuses_a_camera_task_without_camera_or_subject_and_physics_without_rig(factory):
    s = bpy.context.scene.rig_dojo
    s.task = 'camera'
    with pytest.raises(RuntimeError, match="The scene has no camera"):
        bpy.ops.rig_dojo.train()
    objs = camera_scene()
    s.camera.subject = None
    with pytest.raises(RuntimeError, match="Pick the Subject"):
        bpy.ops.rig_dojo.train()
    s.camera.subject = objs["camera"]
    with pytest.raises(RuntimeError, match="cannot frame itself"):
        bpy.ops.rig_dojo.train()
    s.camera.subject = objs["subject"]
    s.camera.use_scene_range, s.camera.frame_start, s.camera.frame_end = False, 10, 10
    with pytest.raises(RuntimeError, match="End frame must be after its Start"):
        bpy.ops.rig_dojo.train()
    s.camera.use_scene_range = True
    assert bpy.ops.rig_dojo.train.poll()
    with pytest.raises(RuntimeError, match="Verify checks the rig twin"):
        bpy.ops.rig_dojo.verify()
    # bad input the poll cannot see is refused by the operator with the extractor's reason
    s.camera.subject = objs["wall"]
    with pytest.raises(RuntimeError, match="does not move between frames"):
        bpy.ops.rig_dojo.train()
    assert not live.is_training()

    s.task = 'stand'
    with pytest.raises(RuntimeError, match="Pick an armature"):
        bpy.ops.rig_dojo.train()
    physics_scene()
    s.physics.root = "tail"
    with pytest.raises(RuntimeError, match="no bone 'tail'"):
        bpy.ops.rig_dojo.train()
    s.physics.root = ""
    assert bpy.ops.rig_dojo.train.poll()
    s.task = 'track'  # tracking needs its clip
    with pytest.raises(RuntimeError, match="Pick the Reference to track"):
        bpy.ops.rig_dojo.train()
    s.task = 'stand'
    assert bpy.ops.rig_dojo.train.poll()
    with pytest.raises(RuntimeError, match="Verify checks the rig twin"):
        bpy.ops.rig_dojo.verify()


# --- end to end ----------------------------------------------------------------------------------


def test_camera_trains_previews_on_the_camera_stops_bakes_and_evaluates(factory, tmp_path, capfd):
    from rig_dojo.envs.camera.twin import camera_rotation

    objs = camera_scene(tmp_path)
    cam = objs["camera"]
    user_action = keep_still_action(cam, "location", "CameraWork")
    user_keys = action_keys(user_action, cam)
    bpy.context.scene.frame_set(1)
    rest_world, rest_channels = world(cam), transform(cam)

    assert bpy.ops.rig_dojo.train() == {'FINISHED'}
    run = live.current()
    assert run.kind == "camera" and run.rig_name == "ShotCam" and run.session.runs.__name__ == "CemSession"
    moved = []
    tick_until(lambda: run.preview is not None and run.history_len >= 1
               and (moved.append(not np.allclose(world(cam), rest_world, atol=1e-6)) or any(moved)))
    assert run.preview.shape == (SHOT_FRAMES, 2, 3)  # per frame: location, yaw/pitch/roll
    shown = run.preview[(run.frame - 1) % len(run.preview)]
    np.testing.assert_allclose(world(cam)[:3, 3], shown[0], atol=1e-5)
    np.testing.assert_allclose(world(cam)[:3, :3], camera_rotation(shown[1]), atol=1e-5)
    assert set(draw_panels(capfd)) == set(PANELS)  # a running camera session

    assert bpy.ops.rig_dojo.stop() == {'FINISHED'}
    assert run.state == "stopped" and not bpy.app.timers.is_registered(live.tick)
    assert transform(cam) == rest_channels  # the camera is back exactly
    policy = run.run_dir / "final.rdpolicy"
    assert policy.is_file() and live.policy_path(bpy.context.scene.rig_dojo) == policy

    bpy.ops.ed.undo_push(message="before bake")  # background mode starts with the undo system off
    assert bpy.ops.rig_dojo.bake('EXEC_DEFAULT', True) == {'FINISHED'}  # the shot (scene range), as from a button
    text = live.results["bake"]
    assert "on camera 'ShotCam'" in text and f"over {SHOT_FRAMES} frames" in text
    assert number_after(text, "worst image error") < 1e-4
    baked = cam.animation_data.action
    assert baked.name != "CameraWork" and baked["rig_dojo_source"]["policy"] == str(policy.resolve())
    assert action_keys(bpy.data.actions["CameraWork"], cam) == user_keys  # the user's keys are untouched
    baked_name = baked.name
    assert bpy.ops.ed.undo() == {'FINISHED'}  # one undo step reverts the bake
    cam = bpy.data.objects["ShotCam"]
    assert baked_name not in bpy.data.actions and cam.animation_data.action.name == "CameraWork"
    assert action_keys(cam.animation_data.action, cam) == user_keys

    assert bpy.ops.rig_dojo.evaluate() == {'FINISHED'}
    path, evaluation = live.results["evaluation"]
    assert evaluation.episodes == 1  # the camera's one deterministic move over the shot
    _, task, extra = live.results["task_report"]
    assert task == "camera" and extra["shot"]["framing_point"] == "left_third"
    for who in ("trained", "fixed", "track_to", "track_to_dolly"):
        assert math.isfinite(extra["shot"][who]["framing"])
    draw_panels(capfd)  # the shot's table in Evaluate


@pytest.mark.slow  # solves the shot until it converges
def test_the_default_camera_solve_previews_finishes_on_its_own_bakes_and_evaluates(factory, tmp_path, capfd):
    objs = camera_scene(tmp_path)
    s = bpy.context.scene.rig_dojo
    s.algo.name = 'solve'  # the camera's default, with its tuned settings
    assert settings_to_config(s).algo == defaults_for("solve")
    cam = objs["camera"]
    bpy.context.scene.frame_set(1)
    rest_channels = transform(cam)
    assert bpy.ops.rig_dojo.train() == {'FINISHED'}
    run = live.current()
    assert run.session.runs.__name__ == "ShotSolveSession"  # in the worker process
    shown = []
    tick_until(lambda: (shown.append(run.preview is not None) or run.ended), 120.0)
    assert any(shown) and run.state == "finished"  # the solve ends when it has converged (or its budget is spent)
    assert run.preview.shape == (SHOT_FRAMES, 2, 3) and run.snapshot.success_rate >= 0.9
    assert transform(cam) == rest_channels
    assert bpy.ops.rig_dojo.bake('EXEC_DEFAULT', True) == {'FINISHED'}
    assert number_after(live.results["bake"], "worst image error") < 1e-4
    assert bpy.ops.rig_dojo.evaluate() == {'FINISHED'}
    _, evaluation = live.results["evaluation"]
    _, task, extra = live.results["task_report"]
    shot = extra["shot"]
    assert shot["method"] == "solve" and evaluation.episodes == 1
    assert evaluation.success_rate == shot["trained"]["on_target"] and evaluation.final_error == shot["trained"]["framing"]
    assert shot["trained"]["occlusion"] <= max(0.05, shot["track_to"]["occlusion"] / 2)
    draw_panels(capfd)  # the shot's table in Evaluate, with Track To + dolly


def test_physics_trains_previews_the_joints_stops_bakes_and_evaluates(factory, tmp_path, capfd):
    biped = physics_scene(tmp_path)
    shin = biped.pose.bones["shin.L"]
    shin.keyframe_insert("rotation_euler", frame=1)
    shin.keyframe_insert("rotation_euler", frame=20)
    user_action = biped.animation_data.action
    user_action.name = "BipedWork"
    user_keys = action_keys(user_action, biped)
    bpy.context.scene.frame_set(1)
    rest_pose, rest_object = joint_pose(biped), transform(biped)

    assert bpy.ops.rig_dojo.train() == {'FINISHED'}
    run = live.current()
    assert run.kind == "physics" and run.rig_name == "Biped" and "pelvis" not in run.bones
    moved = []
    tick_until(lambda: run.preview is not None
               and (moved.append(not np.allclose(joint_pose(biped), rest_pose, atol=1e-6)) or any(moved)), 90.0)
    assert run.preview.shape[1:] == (len(run.bones), 3)
    assert set(draw_panels(capfd)) == set(PANELS)  # a running physics session

    assert bpy.ops.rig_dojo.stop() == {'FINISHED'}
    assert run.state == "stopped" and not bpy.app.timers.is_registered(live.tick)
    assert np.array_equal(joint_pose(biped), rest_pose) and transform(biped) == rest_object
    policy = run.run_dir / "final.rdpolicy"
    assert policy.is_file()

    s = bpy.context.scene.rig_dojo
    s.bake.use_scene_range = False
    s.bake.frame_start, s.bake.frame_end = 1, 12
    s.bake.use_reduce = True  # a rig-bake option: said, not silently applied
    assert bpy.ops.rig_dojo.bake() == {'FINISHED'}
    text = live.results["bake"]
    assert "on 'Biped'" in text and "Reduce Keys and Replace an Action apply to rig bakes" in text
    assert number_after(text, "worst bone position error") >= 0.0
    assert float(re.search(r"\(([-+0-9.e]+) of the creature's size", text).group(1)) <= 1e-4
    baked = biped.animation_data.action
    assert baked.name != "BipedWork" and baked["rig_dojo_bake"]["root_motion"] == "bone"
    assert action_keys(bpy.data.actions["BipedWork"], biped) == user_keys

    assert bpy.ops.rig_dojo.evaluate() == {'FINISHED'}
    _, evaluation = live.results["evaluation"]
    _, task, extra = live.results["task_report"]
    assert task == "stand" and {"trained", "zero_actions"} <= set(extra["physics"])
    assert 0 < extra["physics"]["trained"]["seconds_up"] <= 1.0 + 1e-9
    draw_panels(capfd)  # the physics table in Evaluate


def test_a_camera_trained_by_ppo_previews_its_move_and_is_restored(factory, tmp_path):
    from rig_dojo.envs.camera.twin import camera_rotation

    objs = camera_scene(tmp_path)
    cam = objs["camera"]
    s = bpy.context.scene.rig_dojo
    s.algo.name = 'ppo'
    s.algo.n_envs, s.algo.n_steps, s.algo.batch_size, s.algo.n_epochs, s.algo.net_arch = 4, 32, 64, 1, "16"
    s.algo.total_steps = 10**8
    rest_world, rest_channels = world(cam), transform(cam)
    assert bpy.ops.rig_dojo.train() == {'FINISHED'}
    run = live.current()
    assert run.session.runs.__name__ == "TrainingSession"
    moved = []
    tick_until(lambda: run.preview is not None
               and (moved.append(not np.allclose(world(cam), rest_world, atol=1e-6)) or any(moved)), 90.0)
    assert run.preview.shape[1:] == (2, 3)  # every session previews the camera's location and rotation
    shown = run.preview[(run.frame - 1) % len(run.preview)]
    np.testing.assert_allclose(world(cam)[:3, 3], shown[0], atol=1e-5)
    np.testing.assert_allclose(world(cam)[:3, :3], camera_rotation(shown[1]), atol=1e-5)
    bpy.ops.rig_dojo.stop()
    assert transform(cam) == rest_channels


def test_tracking_a_keyed_walk_trains_stops_bakes_and_reports_against_the_raw_keys(factory, tmp_path, capfd):
    from rig_dojo.scene.builders.creatures import key_walk

    biped = physics_scene(tmp_path, task="track")
    key_walk(biped)
    s = bpy.context.scene.rig_dojo
    s.physics.reference = "Walk"
    assert set(draw_panels(capfd)) == set(PANELS)  # the Reference field and its Loop toggle
    rest_pose = joint_pose(biped)
    assert bpy.ops.rig_dojo.train() == {'FINISHED'}
    run = live.current()
    assert run.kind == "physics"
    tick_until(lambda: run.preview is not None, 90.0)
    # the preview carries the reference's pose: the rig plays the policy, a ghost beside it plays the clip
    bones = len(biped.pose.bones)
    assert run.preview.shape[1:] == (bones - 1 + 2 * bones, 3)
    seen = []
    tick_until(lambda: seen.append(run.preview_target.ghost.segments.copy()) or len(seen) > 8, 30.0)
    ghost = seen[-1].reshape(-1, 2, 3)
    assert ghost.shape == (bones, 2, 3) and len({g.tobytes() for g in seen[1:]}) > 1  # it plays along
    assert ghost[:, :, 0].min() > biped.matrix_world.translation.x + 0.5  # beside the rig, not on it
    assert bpy.ops.rig_dojo.stop() == {'FINISHED'}
    assert run.preview_target.ghost.handle is None  # the draw handler went with the preview
    assert np.array_equal(joint_pose(biped), rest_pose)
    assert 'reference = "Walk"' in (run.run_dir / "config.toml").read_text()
    s.bake.use_scene_range = False
    s.bake.frame_start, s.bake.frame_end = 1, 12
    assert bpy.ops.rig_dojo.bake() == {'FINISHED'}
    assert float(re.search(r"\(([-+0-9.e]+) of the creature's size", live.results["bake"]).group(1)) <= 1e-4
    assert bpy.data.actions["Walk"].use_fake_user  # the reference is still there, untouched
    assert bpy.ops.rig_dojo.evaluate() == {'FINISHED'}
    _, task, extra = live.results["task_report"]
    assert task == "track" and {"trained", "raw_keys"} <= set(extra["physics"]["track"])
    draw_panels(capfd)  # the tracking table in Evaluate
