"""Pins and a style clip on real rigs: keyed Actions read from Blender's evaluation, the twin's pins, bad input
(one clear error each, exit 2 on the command line), the sidebar's Reference & Pins panel, the preview's ghost,
and (slow) training that hits the pins, then a bake measured in Blender."""

from __future__ import annotations

import json
import subprocess
import sys

import bpy
import numpy as np
import pytest

from rig_dojo import cli, live
from rig_dojo.agents.config import TrainConfig, defaults_for
from rig_dojo.envs import rotations
from rig_dojo.envs.kinematic.family import env_factory, rollout
from rig_dojo.envs.kinematic.pinning import rollout_measures
from rig_dojo.errors import RigDojoError
from rig_dojo.scene import anim
from rig_dojo.scene.builders import pins as pin_scenes
from rig_dojo.scene.builders import scenes
from rig_dojo.scene.kinematic.task_extract import task_from_config


def pinned_config(objs, effector_pins=("Cup@45",), **reference) -> TrainConfig:
    config = TrainConfig()
    config.algo = defaults_for("ppo")
    config.rig.rig, config.rig.controls, config.rig.effector = objs["rig"].name, objs["controls"], objs["effector"]
    config.reference.pins = objs["action"].name
    config.reference.effector_pins = list(effector_pins)
    for key, value in reference.items():
        setattr(config.reference, key, value)
    config.validate()
    return config


class Zero:
    """A policy that adds nothing to the guide: straight from key to key."""

    def __init__(self, n_actions: int):
        self.n = n_actions

    def predict(self, obs, deterministic=True):
        return np.zeros((len(obs), self.n), dtype=np.float32), None


def basis_quaternions(obj, bones) -> np.ndarray:
    out = []
    for name in bones:
        m = np.array(obj.pose.bones[name].matrix_basis.to_3x3())
        out.append(rotations.matrix_to_quaternion(m))
    return np.array(out)


def object_keys(arm) -> None:
    """An Action "ObjectKeys" keying an empty's location only (nothing on the arm's controls)."""
    empty = scenes.add_empty("Other", (0, 0, 0))
    empty.keyframe_insert("location", frame=1)
    empty.animation_data.action.name = "ObjectKeys"


def evaluated_tail(obj, bone: str) -> np.ndarray:
    ev = obj.evaluated_get(bpy.context.evaluated_depsgraph_get())
    return np.array(ev.matrix_world @ ev.pose.bones[bone].tail)


@pytest.fixture
def chain(factory):
    return pin_scenes.build_pinned_chain()


# --- reading pins ---------------------------------------------------------------------------


def test_keyed_frames_become_pose_pins_with_blenders_pose_and_the_cup_an_effector_pin(chain):
    spec = task_from_config(pinned_config(chain))
    pins = spec.pins
    assert [(r["frame"], r["kind"]) for r in pins.rows()] == [(1, "pose"), (30, "pose"), (45, "effector"), (60, "pose")]
    assert spec.episode_steps == 59  # frames 1-60, one step per frame
    arm, scene = chain["rig"], bpy.context.scene
    for k, frame in enumerate(pins.frames):
        if pins.kinds[k] != "pose":
            continue
        scene.frame_set(int(frame))  # the Action plays: Blender's own pose at the key
        want = basis_quaternions(arm, chain["controls"])
        angle = rotations.rotation_angle(pins.rotations[k], want)
        assert np.degrees(angle).max() < 1e-4, frame
        assert np.allclose(pins.position[k], evaluated_tail(arm, "hand"), atol=1e-6)
    assert np.allclose(pins.position[2], np.array(chain["cup"].matrix_world.translation), atol=1e-6)
    # the twin's pinned poses put the hand where Blender does
    task = env_factory(spec)(pinned_config(chain), 1, 0)
    assert np.abs(task.pins.target * task.unit + task.origin - pins.position).max() < 1e-6


def test_keys_on_a_bone_above_the_controls_are_not_pins_and_do_not_move_the_pinned_hand(chain):
    """The pins Action keys upper_arm, which is not a control: the twin holds it, so a pin's effector position is
    where the controls alone put the hand (it took upper_arm's keys too, and even the first frame's pin missed)."""
    config = pinned_config({**chain, "controls": ["forearm", "hand"]}, effector_pins=())
    spec = task_from_config(config)
    assert any(n == "keys on upper_arm are not pins (not controls)" for n in spec.pins.notes), spec.pins.notes
    task = env_factory(spec)(config, 1, 0)
    assert np.abs(task.pins.target * task.unit + task.origin - spec.pins.position).max() < 1e-6
    moved = np.linalg.norm(spec.pins.position - spec.pins.position[0], axis=1)
    assert moved.max() > 0.05  # the pins still differ: forearm and hand are keyed


@pytest.mark.parametrize("value", [float("nan"), 3.4e38])
def test_a_key_that_is_not_a_usable_number_is_named(chain, value):
    action = chain["action"].copy()
    action.name = "BadKeys"
    curve = next(c for c in anim.iter_fcurves(action) if c.data_path == 'pose.bones["forearm"].rotation_quaternion'
                 and c.array_index == 3)
    curve.keyframe_points[1].co[1] = value
    config = pinned_config(chain)
    config.reference.pins = "BadKeys"
    with pytest.raises(RigDojoError, match=r"reference.pins: the Action 'BadKeys' has a key that is not a usable "
                                           r"number \(forearm rotation_quaternion\[3\] at frame 30 is "):
        task_from_config(config)
    config = pinned_config(chain, style="BadKeys")
    with pytest.raises(RigDojoError, match="reference.style: the Action 'BadKeys' has a key that is not a usable"):
        task_from_config(config)


def test_an_exported_layout_covers_the_pinned_observation_and_the_style_clip(chain):
    """The ONNX sidecar's observation slices (``policy_layout``) add up to what a pinned task with a style clip
    observes: a game engine feeding the policy needs every slot named."""
    config = pinned_config(chain, style=chain["action"].name)
    task = env_factory(task_from_config(config))(config, 2, 0)
    layout = task.policy_layout()
    slices = layout["observation"]
    assert [s["name"] for s in slices][-2:] == ["pins", "style"]
    assert all(a["start"] + a["size"] == b["start"] for a, b in zip(slices, slices[1:]))
    assert slices[-1]["start"] + slices[-1]["size"] == task.reset().shape[1]


def test_reading_the_pins_leaves_the_rig_its_action_pose_and_frame(chain):
    arm, scene = chain["rig"], bpy.context.scene
    other = bpy.data.actions.new("Other")
    from rig_dojo.scene.anim import assign_action

    assign_action(arm, other)  # the rig plays another Action; the pins Action is only borrowed
    scene.frame_set(17)
    arm.pose.bones["forearm"].rotation_quaternion = (0.9, 0.1, 0.3, 0.0)  # an unkeyed edit
    before = basis_quaternions(arm, chain["controls"])
    task_from_config(pinned_config(chain))
    assert arm.animation_data.action == other and scene.frame_current == 17
    assert np.allclose(basis_quaternions(arm, chain["controls"]), before)
    assert len(chain["action"].slots) == 1  # nothing was added to the animator's Action


def test_only_the_chosen_frames_and_bones_are_pinned_and_soft_pins_do_not_decide_success(chain):
    spec = task_from_config(pinned_config(chain, effector_pins=(), pin_frames=[30], pin_bones=["forearm"]))
    assert [r["frame"] for r in spec.pins.rows()] == [30] and spec.pins.rows()[0]["bones"] == ["forearm"]
    soft = pinned_config(chain, soft_frames=[45])
    task = env_factory(task_from_config(soft))(soft, 4, 0)
    obs = task.reset()
    for _ in range(task.episode_steps):
        obs, _, dones, infos = task.step(np.zeros((4, task.action_space.shape[0])))
    assert all(info["success"] for info in infos)  # the soft cup does not decide; the hard poses are met
    hard = pinned_config(chain)
    task = env_factory(task_from_config(hard))(hard, 4, 0)
    task.reset()
    for _ in range(task.episode_steps):
        _, _, _, infos = task.step(np.zeros((4, task.action_space.shape[0])))
    assert not any(info["success"] for info in infos)  # the hard cup is missed by the straight way


def test_hard_pose_pins_are_met_exactly_whatever_the_policy_does(chain):
    config = pinned_config(chain)
    spec = task_from_config(config)
    task = env_factory(spec)(config, 1, 0)
    rng = np.random.default_rng(3)

    class Wild:
        def predict(self, obs, deterministic=True):
            return rng.uniform(-1, 1, (len(obs), task.action_space.shape[0])), None

    measures = rollout_measures(task, rollout(Wild(), task, task.episode_steps)[0])
    poses = [r for r in measures["pins"] if r["kind"] == "pose"]
    assert all(r["hit"] and r["max_angle_error_degrees"] < 1e-6 for r in poses)
    config.reference.guide = False  # without the guide the policy must find the poses itself
    task = env_factory(spec)(config, 1, 0)
    measures = rollout_measures(task, rollout(Wild(), task, task.episode_steps)[0])
    assert not all(r["hit"] for r in measures["pins"] if r["kind"] == "pose")


def test_the_observation_knows_the_time_to_the_next_pin(chain):
    config = pinned_config(chain)
    task = env_factory(task_from_config(config))(config, 1, 0)
    base = task.n_joints + 12  # joints and the reach task's own observation
    lefts = []
    task.reset()
    for _ in range(40):
        obs = task._observe()[0]
        lefts.append(round(float(obs[base + 3]) * task.episode_steps))  # steps to the next pin
        task._step(np.zeros((1, task.action_space.shape[0])))
    assert lefts[:3] == [29, 28, 27] and lefts[28] == 1 and lefts[29] == 15 and lefts[30] == 14


# --- bad input: one clear error each ----------------------------------------------------------


def test_a_pin_on_a_bone_outside_the_selection_is_refused(chain):
    with pytest.raises(RigDojoError, match=r"reference.pin_bones\[0\]: 'spine' is not in the selection"):
        task_from_config(pinned_config(chain, pin_bones=["spine"]))
    with pytest.raises(RigDojoError, match=r"reference.effector_pins\[0\]: 'forearm' is not in the selection"):
        task_from_config(pinned_config(chain, effector_pins=("forearm:Cup@45",)))


def test_an_action_without_keys_on_the_controls_is_refused(chain):
    arm = chain["rig"]
    object_keys(arm)
    with pytest.raises(RigDojoError, match="the Action 'ObjectKeys' has no keys on the controls "
                                           r"\(upper_arm, forearm, hand\); it keys nothing"):
        task_from_config(pinned_config(chain, pins="ObjectKeys"))
    with pytest.raises(RigDojoError, match="no Action named 'Kyes'; closest: Keys"):
        task_from_config(pinned_config(chain, pins="Kyes"))
    assert arm.animation_data.action == chain["action"]


def test_a_reference_shorter_than_one_control_step_is_refused(chain):
    arm = chain["rig"]
    one = pin_scenes.key_poses(arm, {12: pin_scenes.CHAIN_REACH}, "OneFrame")
    pin_scenes.assign_action(arm, chain["action"])
    with pytest.raises(RigDojoError, match="the style clip 'OneFrame' is shorter than one control step .* only frame 12"):
        task_from_config(pinned_config(chain, style=one.name))


def test_frames_that_are_not_keyed_or_outside_the_range_are_refused(chain):
    with pytest.raises(RigDojoError, match="frame 31 has no key on the pinned controls in 'Keys'; keyed frames: 1, 30, 60"):
        task_from_config(pinned_config(chain, pin_frames=[31]))
    with pytest.raises(RigDojoError, match=r"effector_pins\[0\]: frame 75 is outside the frame range 1-60"):
        task_from_config(pinned_config(chain, effector_pins=("Cup@75",)))


@pytest.mark.parametrize("flags,message", [
    (["--pins", "Keys", "--effector-pins", "forearm:Cup@45"], "'forearm' is not in the selection"),
    (["--pins", "ObjectKeys"], "has no keys on the controls"),
    (["--pins", "Keys", "--style", "OneFrame"], "shorter than one control step"),
    (["--pins", "Keys", "--reference", "Keys"], "--reference is for --task track; the reach task does not use it"),
])
def test_the_command_line_says_each_in_one_line_with_exit_code_2(chain, tmp_path, capfd, flags, message):
    object_keys(chain["rig"])
    pin_scenes.key_poses(chain["rig"], {12: pin_scenes.CHAIN_REACH}, "OneFrame").use_fake_user = True  # kept on save
    pin_scenes.assign_action(chain["rig"], chain["action"])
    blend = tmp_path / "pins.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    capfd.readouterr()
    code = cli.main(["train", str(blend), "--task", "reach", "--rig", "Arm", "--controls", "upper_arm,forearm,hand",
                     "--effector", "hand", "--steps", "1000", "--out", str(tmp_path / "run"), *flags])
    err = capfd.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("rig_dojo: error: ") and message in err[0], err


# --- style ------------------------------------------------------------------------------------


def test_a_motion_timed_like_the_style_clip_scores_better_than_constant_speed(chain):
    arm = chain["rig"]
    reach = pin_scenes.keyed_reach(arm, pin_scenes.CHAIN_REACH, (1, 25))  # Bézier: slow in, slow out
    config = TrainConfig()
    config.rig.rig, config.rig.controls, config.rig.effector = "Arm", chain["controls"], "hand"
    config.rig.target, config.rig.episode_length = "Cup", 30
    config.reference.style = reach.name
    spec = task_from_config(config)
    assert spec.style.bones == chain["controls"] and spec.style.angles.shape == (25, 3, 3)
    assert "style" in [t.name for t in spec.terms]
    task = env_factory(spec)(config, 2, 0)
    clip = spec.style.joint_angles([(spec.rig.controls[c], a) for c, a in zip(task.dof_control, task.dof_axis)])
    eased = np.diff(clip, axis=0) / spec.max_delta  # env 0 replays the clip's own timing, env 1 a constant speed
    constant = np.repeat((clip[-1] - clip[0])[None] / (len(clip) - 1) / spec.max_delta, len(eased), axis=0)
    totals = np.zeros(2)
    task.reset()
    for t in range(len(eased)):
        task._step(np.stack([eased[t], constant[t]]))
        totals += task.last_terms()["style"]
    assert totals[0] > totals[1]


# --- sidebar and preview ------------------------------------------------------------------------


def test_the_reference_panel_lists_the_pins_and_the_default_terms_follow_them(chain, capfd):
    from test_sidebar import draw_panels

    from rig_dojo.props import settings_to_config

    s = bpy.context.scene.rig_dojo
    s.rig, s.task = chain["rig"], 'aim'
    s.task = 'reach'  # a task change fills in its default terms
    s.controls, s.effector = ", ".join(chain["controls"]), "hand"
    assert "distance" in [t.name for t in s.rewards]
    s.reference.pins = "Keys"  # unedited default terms follow the pins
    assert [t.name for t in s.rewards][:2] == ["pin_pose", "pin_effector"]
    s.reference.effector_pins = "Cup@45"
    config = settings_to_config(s)
    assert config.reference.effector_pins == ["Cup@45"] and config.reference.pins == "Keys"
    from rig_dojo.scene.kinematic.family import reference_config, training_problem
    from rig_dojo.scene.kinematic.pins import pin_rows

    assert training_problem(s) is None  # no target needed: the pins are the goal
    rows, problem = pin_rows(reference_config(s), chain["rig"], chain["controls"], "hand")
    assert problem is None and [(r["frame"], r["bones"], r["object"]) for r in rows] == [
        (1, chain["controls"], ""), (30, chain["controls"], ""), (45, ["hand"], "Cup"), (60, chain["controls"], "")]
    import test_sidebar

    panels = test_sidebar.PANELS
    test_sidebar.PANELS = (*panels, "VIEW3D_PT_rig_dojo_reference")
    try:
        assert "VIEW3D_PT_rig_dojo_reference" in draw_panels(capfd)
        s.reference.pins = "Nope"
        draw_panels(capfd)  # a bad Action name is shown in the panel, not raised
    finally:
        test_sidebar.PANELS = panels


def test_the_preview_draws_the_pinned_poses_as_a_ghost_and_takes_it_away(chain):
    from rig_dojo.scene.kinematic.family import Preview

    config = pinned_config(chain)
    spec = task_from_config(config)
    preview = Preview(config, spec)
    arm = chain["rig"]
    assert preview.ghost.handle is not None
    segments = preview.ghost.segments.reshape(-1, 2, 3)
    scene = bpy.context.scene
    scene.frame_set(30)  # Blender's own pose at the key: the ghost's bones lie on it
    tails = {name: evaluated_tail(arm, name) for name in chain["controls"]}
    for name, tail in tails.items():
        assert np.min(np.linalg.norm(segments[:, 1] - tail, axis=1)) < 1e-5, name
    assert np.allclose(preview.ghost.points, np.array(chain["cup"].matrix_world.translation), atol=1e-5)
    assert preview.show(arm, np.zeros((3, 3)))
    preview.restore(arm)
    assert preview.ghost.handle is None


# --- training (slow) -------------------------------------------------------------------------------


@pytest.mark.slow
def test_training_hits_the_pins_on_the_twin_and_the_bake_hits_them_in_blender(chain, tmp_path):
    import torch

    from rig_dojo.headless import run_training
    from rig_dojo.envs.families import training_report
    from rig_dojo.scene.families import bake_task_policy

    torch.set_num_threads(1)
    config = pinned_config(chain)
    config.algo.total_steps = 1_000_000  # our PPO's defaults otherwise (512 environments, 8,192 steps an update)
    spec = task_from_config(config)
    make_env = env_factory(spec)
    summary = run_training(config, make_env, tmp_path / "run", quiet=True,
                           report=lambda policy, cfg: training_report(policy, spec, cfg))
    assert summary["pin_hit_rate"] == 1.0 and summary["success_rate"] == 1.0, summary
    assert summary["max_angle_error_degrees"] < 2.0
    cup = next(r for r in summary["pins"] if r["kind"] == "effector")
    assert cup["effector_error"] < 0.02
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["pin_hit_rate"] == 1.0
    report = bake_task_policy(tmp_path / "run" / "final.rdpolicy", frames=(1, 60))
    assert report.pins["pin_hit_rate"] == 1.0  # measured on the baked Action, evaluated by Blender
    assert abs(report.pins["mean_effector_error"] - summary["mean_effector_error"]) < 1e-4
    assert "in Blender, pins: 4/4 hit" in report.format()


@pytest.mark.slow
def test_the_command_line_trains_with_pins_and_reports_them(chain, tmp_path):
    blend = tmp_path / "pins.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    proc = subprocess.run([sys.executable, "-m", "rig_dojo", "train", str(blend), "--task", "reach", "--rig", "Arm",
                           "--controls", "upper_arm,forearm,hand", "--effector", "hand", "--pins", "Keys",
                           "--effector-pins", "Cup@45", "--steps", "4096", "--out", str(tmp_path / "run")],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "pins: " in proc.stdout and "joint-angle error" in proc.stdout
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert {"pin_hit_rate", "mean_angle_error_degrees", "mean_effector_error_cm", "pins"} <= set(summary)
    config = TrainConfig.load(tmp_path / "run" / "config.toml")
    assert config.reference.pins == "Keys" and config.reference.effector_pins == ["Cup@45"]
    assert config.rewards == []  # the defaults, which follow the pins


@pytest.fixture(autouse=True)
def no_training_left_behind():
    yield
    live.shutdown()


def test_a_pin_the_controls_cannot_take_is_refused(chain):
    arm = chain["rig"]
    forearm = arm.pose.bones["forearm"]  # the forearm bends at most 29 deg about Z (an IK limit: a joint limit)
    forearm.use_ik_limit_z, forearm.ik_min_z, forearm.ik_max_z = True, -0.5, 0.5
    config = pinned_config(chain)
    with pytest.raises(RigDojoError, match="the pin at frame 30 keys forearm's Z rotation at 51.6 deg, outside its "
                                           "limits"):
        env_factory(task_from_config(config))(config, 1, 0)  # before any training starts
    forearm.use_ik_limit_z = False
    arm.pose.bones["hand"].lock_rotation[0] = True  # the hand's X is keyed 0.4 rad at frame 30
    config = pinned_config(chain)
    with pytest.raises(RigDojoError, match="the pin at frame 30 turns hand's locked X axis"):
        env_factory(task_from_config(config))(config, 1, 0)
