"""The Dojo sidebar: settings in the .blend, the operators end to end, and every panel's draw().

Everything runs on the real bpy module. The wheel has no event loop, so the live
preview's timer callback (``live.tick``) is called by the tests themselves.

Drawing headless: Blender only makes a Panel instance while it draws a region, which
background mode never does. ``WindowManager.popmenu_begin__internal`` (the first half
of ``popup_menu``) gives a real ``UILayout`` though; with the context overridden to the
3D view's sidebar region, each panel's own ``draw`` runs against it, ``template_list``
calls the UIList's ``draw_item``, and Blender's checks run as in the UI: a wrong property
or operator name, or an exception in a UIList, is printed to stderr (which the tests
read). The popup is never finished: ending one needs a window event, which background
mode does not have (``UI_popup_menu_end`` crashes), so each draw leaks a few bytes, which
Blender would report at exit ("Not freed memory blocks"); conftest.py leaves without that report.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import bpy
import numpy as np
import pytest

from harness import POPUP_LAYOUTS_LEFT_OPEN

from rig_dojo import live
from rig_dojo.agents.config import TrainConfig, defaults_for
from rig_dojo.scene.builders.scenes import build_demo_scene
from rig_dojo.envs.kinematic.task_spec import default_terms
from rig_dojo.errors import RigDojoError
from rig_dojo.props import config_to_settings, settings_to_config

PANELS = ("VIEW3D_PT_rig_dojo", "VIEW3D_PT_rig_dojo_rig", "VIEW3D_PT_rig_dojo_rewards", "VIEW3D_PT_rig_dojo_training",
          "VIEW3D_PT_rig_dojo_training_advanced", "VIEW3D_PT_rig_dojo_run", "VIEW3D_PT_rig_dojo_curve",
          "VIEW3D_PT_rig_dojo_bake", "VIEW3D_PT_rig_dojo_evaluate")
DRAW_PROBLEMS = ("rna_uiItem", "Traceback", "unknown operator", "not found", "Error:")


# --- helpers -----------------------------------------------------------------------------------


class _PanelHost:
    """What Blender hands a panel's draw(): the panel's class attributes and a real layout."""

    def __init__(self, cls, layout):
        self.layout = layout
        self._cls = cls

    def __getattr__(self, name):
        return getattr(self._cls, name)


def draw_panels(capfd) -> list[str]:
    """Run every Dojo panel's draw() against a real UILayout in the sidebar's context; return their names."""
    window = bpy.context.window_manager.windows[0]
    area = next(a for a in window.screen.areas if a.type == 'VIEW_3D')
    region = next(r for r in area.regions if r.type == 'UI')
    drawn = []
    capfd.readouterr()
    with bpy.context.temp_override(window=window, area=area, region=region):
        context = bpy.context
        for name in PANELS:
            cls = getattr(bpy.types, name)
            assert cls.bl_category == "Dojo" and cls.bl_space_type == 'VIEW_3D' and cls.bl_region_type == 'UI'
            if hasattr(cls, "poll") and not cls.poll(context):
                continue
            layout = context.window_manager.popmenu_begin__internal("", icon='NONE').layout
            POPUP_LAYOUTS_LEFT_OPEN[0] += 1  # never ended: see harness.py
            cls.draw(_PanelHost(cls, layout), context)
            drawn.append(name)
    captured = capfd.readouterr()
    printed = captured.out + captured.err  # Blender prints layout errors; where depends on the message
    problems = [ln for ln in printed.splitlines() if any(p in ln for p in DRAW_PROBLEMS)]
    assert not problems, "\n".join(problems)
    return drawn


def demo(tmp_path: Path | None = None, steps: int = 200_000):
    """The demo arm with small, fast training settings (and a run folder in tmp_path)."""
    objs = build_demo_scene()
    s = bpy.context.scene.rig_dojo
    s.rig = objs["rig"]
    s.task = 'reach'
    s.controls = "upper_arm, forearm"
    s.effector = "hand"
    s.target = objs["target"]
    s.region = objs["region"]
    s.episode_length = 24
    algo = s.algo
    algo.total_steps, algo.n_envs, algo.n_steps, algo.batch_size, algo.n_epochs = steps, 8, 64, 128, 2
    algo.net_arch = "32, 32"
    if tmp_path is not None:
        s.run_dir = str(tmp_path / "run")
    return objs


def tick_until(condition, timeout: float = 30.0) -> None:
    """Call the timer callback as Blender's event loop would, until ``condition()`` holds."""
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "timed out waiting for the training"
        live.tick()
        time.sleep(live.TICK_SECONDS)


def pose(obj) -> np.ndarray:
    return np.array([list(pb.rotation_quaternion) for pb in obj.pose.bones])


def curve_pixels() -> np.ndarray:
    image = live.curve_image()
    pixels = np.empty(len(image.pixels), dtype=np.float32)
    image.pixels.foreach_get(pixels)
    return pixels.reshape(image.size[1], image.size[0], 4)


def give_user_action(obj) -> bpy.types.Action:
    """The animator's own keys on the arm: a bake must leave them alone."""
    pb = obj.pose.bones["upper_arm"]
    for frame, w in ((1, 1.0), (20, 0.9)):
        pb.rotation_quaternion = (w, 0.0, math.sqrt(1 - w * w), 0.0)
        pb.keyframe_insert("rotation_quaternion", frame=frame)
    obj.animation_data.action.name = "AnimatorWork"
    return obj.animation_data.action


def action_keys(action) -> list:
    from rig_dojo.scene import anim

    out = []
    for c in anim.iter_fcurves(action, bpy.data.objects["Arm"]):
        co = np.empty(len(c.keyframe_points) * 2, dtype=np.float32)
        c.keyframe_points.foreach_get("co", co)
        out.append((c.data_path, c.array_index, co.tolist()))
    return sorted(out)


@pytest.fixture(autouse=True)
def no_training_left_behind():
    yield
    live.shutdown()


# --- settings ----------------------------------------------------------------------------------


def test_new_scene_settings_are_ppo_defaults_and_the_task_default_terms(factory):
    s = bpy.context.scene.rig_dojo
    config = settings_to_config(s)
    assert config.algo == defaults_for("ppo", "reach") != defaults_for("ppo")  # the reach's own row
    assert config.rewards == []  # empty: the task's default terms (as in the config file)
    s.task = 'aim'
    assert [(t.name, t.weight) for t in settings_to_config(s).rewards] == \
        [(t.name, t.weight) for t in default_terms("aim")]
    s.task = 'grasp'  # unedited defaults follow the task
    assert [t.name for t in s.rewards] == [t.name for t in default_terms("grasp")]
    s.rewards[0].weight = 3.0  # an edited list is the user's: a task change keeps it
    s.task = 'reach'
    assert [t.name for t in s.rewards] == [t.name for t in default_terms("grasp")] and s.rewards[0].weight == 3.0


def test_picking_an_algorithm_loads_its_tuned_settings_and_action_kind(factory):
    s = bpy.context.scene.rig_dojo
    s.algo.name = 'dqn'
    assert settings_to_config(s).algo == defaults_for("dqn") and s.discrete
    s.algo.name = 'sac'
    assert settings_to_config(s).algo == defaults_for("sac") and not s.discrete


def test_reward_terms_are_added_moved_and_removed_with_registry_parameters(factory):
    from rig_dojo.rewards import get_term

    s = bpy.context.scene.rig_dojo
    assert bpy.ops.rig_dojo.reward_add(term="keep_away") == {'FINISHED'}
    # adding to the implicit defaults makes them explicit first: nothing silently dropped
    assert [t.name for t in s.rewards] == [t.name for t in default_terms("reach")] + ["keep_away"]
    item = s.rewards[s.reward_index]
    assert [p.name for p in item.params] == [p.name for p in get_term("keep_away").params]
    assert item.params["clearance"].value() == 0.05
    item.params["clearance"].float_value = 1e6  # clamped to the registry's range
    assert item.params["clearance"].value() == get_term("keep_away").params[0].max
    bpy.ops.rig_dojo.reward_move(direction='UP')
    assert s.rewards[len(s.rewards) - 2].name == "keep_away" and s.reward_index == len(s.rewards) - 2
    distance = s.rewards[1]
    assert distance.params["shape"].value() == "exp" and distance.params["scale"].value() == 0.05
    distance.params["shape"].choice_value = "linear"
    bpy.ops.rig_dojo.reward_remove()
    assert "keep_away" not in [t.name for t in s.rewards]
    config = settings_to_config(s)
    assert config.rewards[1].params == {"shape": "linear", "scale": 0.05}


def test_settings_survive_save_and_reload(factory, tmp_path):
    demo()
    s = bpy.context.scene.rig_dojo
    bpy.ops.rig_dojo.reward_add(term="keep_away")
    s.rewards[1].params["shape"].choice_value = "linear"
    s.rewards[0].enabled = False
    s.algo.name = 'a2c'
    s.algo.learning_rate = 0.0007
    s.algo.extra = '{"gae_lambda": 0.9, "normalize_advantage": false}'
    s.curriculum_enabled = True
    bpy.ops.rig_dojo.curriculum_stage_add()
    s.curriculum_stages[0].region_scale = 0.25
    s.bake.action_name = "Reach take 3"
    s.bake.use_reduce = True
    before = settings_to_config(s)
    path = tmp_path / "shot.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path))

    bpy.ops.wm.read_factory_settings(use_empty=True)
    assert settings_to_config(bpy.context.scene.rig_dojo).rig.rig == ""
    bpy.ops.wm.open_mainfile(filepath=str(path))

    s = bpy.context.scene.rig_dojo
    after = settings_to_config(s)
    assert after == before
    assert after.rewards[1].params == {"shape": "linear", "scale": 0.05} and not after.rewards[0].enabled
    assert after.algo.extra == {"gae_lambda": 0.9, "normalize_advantage": False} and after.algo.learning_rate == 0.0007
    assert after.curriculum.stages[0].region_scale == 0.25
    assert s.rig == bpy.data.objects["Arm"] and s.bake.action_name == "Reach take 3" and s.bake.use_reduce


def test_toml_export_and_import_round_trip_through_the_command_line_format(factory, tmp_path):
    demo()
    s = bpy.context.scene.rig_dojo
    bpy.ops.rig_dojo.reward_defaults()
    s.rewards[2].weight = 2.5
    s.algo.gamma = 0.97
    config = settings_to_config(s)
    path = tmp_path / "reach.toml"
    assert bpy.ops.rig_dojo.export_config(filepath=str(path)) == {'FINISHED'}
    assert path.read_text() == config.to_toml()
    assert TrainConfig.load(path) == config  # the command line reads the same file

    s.rewards.clear()
    s.algo.name = 'sac'
    s.controls = "hand"
    assert bpy.ops.rig_dojo.import_config(filepath=str(path)) == {'FINISHED'}
    assert settings_to_config(s) == config

    # a file written by hand for the command line: missing parameters get their defaults
    path.write_text('task = "aim"\n[rig]\nrig = "Arm"\ncontrols = ["upper_arm"]\neffector = "hand"\n'
                    'target = "Target"\n[[rewards]]\nname = "distance"\nweight = 0.5\nparams = { shape = "exp" }\n'
                    '[algo]\nname = "td3"\nlearning_rate = 0.002\n')
    bpy.ops.rig_dojo.import_config(filepath=str(path))
    imported = settings_to_config(s)
    expected = TrainConfig.load(path)
    expected.rewards[0].params = {"shape": "exp", "scale": 0.1}
    assert imported == expected and s.task == 'aim' and s.region is None


def test_the_sidebar_edits_every_config_table_and_every_task(factory):
    """A table or task added to TrainConfig must get a place in the sidebar (or a decision to pass it
    through ``other_sections``): this fails until it does."""
    import dataclasses

    from rig_dojo.agents.config import TASKS
    from rig_dojo.props import EDITED_SECTIONS, SIDEBAR_TASKS

    tables = [f.name for f in dataclasses.fields(TrainConfig) if dataclasses.is_dataclass(f.type)
              or f.name in EDITED_SECTIONS or f.name not in ("task", "rewards")]
    assert set(tables) <= set(EDITED_SECTIONS) | {"rewards"}, set(tables) - set(EDITED_SECTIONS)
    assert set(TASKS) <= set(SIDEBAR_TASKS)


def test_import_naming_missing_objects_or_terms_is_refused_and_changes_nothing(factory, tmp_path):
    demo()
    s = bpy.context.scene.rig_dojo
    before = settings_to_config(s)
    path = tmp_path / "other.toml"
    path.write_text('[rig]\nrig = "Arm"\ntarget = "Ghost"\n')
    with pytest.raises(RuntimeError, match="'Ghost' is not in this file"):
        bpy.ops.rig_dojo.import_config(filepath=str(path))
    path.write_text('[[rewards]]\nname = "distance"\nparams = { shape = "cubic" }\n')
    with pytest.raises(RuntimeError, match="must be one of linear, exp"):
        bpy.ops.rig_dojo.import_config(filepath=str(path))
    path.write_text('[algo]\nlerning_rate = 0.1\n')
    with pytest.raises(RuntimeError, match="unknown key 'algo.lerning_rate'"):
        bpy.ops.rig_dojo.import_config(filepath=str(path))
    with pytest.raises(RigDojoError, match="not an armature"):
        config_to_settings(TrainConfig.from_toml('[rig]\nrig = "Target"\n'), s)
    assert settings_to_config(s) == before


def test_controls_come_from_selected_bones_or_a_bone_collection(factory):
    objs = demo()
    arm, s = objs["rig"], bpy.context.scene.rig_dojo
    s.controls, s.effector = "", ""
    with pytest.raises(RuntimeError, match="Select some bones"):
        bpy.ops.rig_dojo.controls_from_selection()
    for name in ("forearm", "upper_arm"):
        pb = arm.pose.bones[name]
        if hasattr(pb, "select"):
            pb.select = True
        else:
            pb.bone.select = True
    bpy.ops.rig_dojo.controls_from_selection()
    assert s.controls == "upper_arm, forearm" and s.effector == "forearm"
    collection = arm.data.collections.new("Drive")
    collection.assign(arm.data.bones["hand"])
    collection.assign(arm.data.bones["upper_arm"])
    s.control_collection = "Drive"
    bpy.ops.rig_dojo.controls_from_collection()
    assert s.controls == "upper_arm, hand"
    s.tracked_pick = "forearm"
    s.tracked_pick = "forearm"
    assert s.tracked == "forearm" and s.tracked_pick == ""


def test_bad_settings_are_reported_naming_the_field(factory):
    demo()
    s = bpy.context.scene.rig_dojo
    s.algo.extra = "{gae_lambda: 0.9"
    with pytest.raises(RigDojoError, match="algo.extra is not valid JSON"):
        settings_to_config(s)
    s.algo.extra = "{}"
    s.algo.net_arch = "64, wide"
    with pytest.raises(RuntimeError, match="algo.net_arch"):
        bpy.ops.rig_dojo.train()
    assert not live.is_training()


# --- refusals ------------------------------------------------------------------------------------


def test_bad_input_is_refused_by_poll_with_a_reason(factory, tmp_path, capfd):
    # empty scene: no armature
    with pytest.raises(RuntimeError, match="Pick an armature"):
        bpy.ops.rig_dojo.train()
    with pytest.raises(RuntimeError, match="Pick an armature"):
        bpy.ops.rig_dojo.verify()
    with pytest.raises(RuntimeError, match="Nothing to bake yet"):
        bpy.ops.rig_dojo.bake()
    with pytest.raises(RuntimeError, match="Nothing to evaluate yet"):
        bpy.ops.rig_dojo.evaluate()
    assert "VIEW3D_PT_rig_dojo_run" in draw_panels(capfd)

    # a non-armature selected: it cannot become the rig, and the panels say so
    bpy.ops.object.empty_add()
    assert not bpy.ops.rig_dojo.train.poll()
    draw_panels(capfd)

    # an armature but no target
    objs = demo(tmp_path)
    s = bpy.context.scene.rig_dojo
    s.target, s.region = None, None
    with pytest.raises(RuntimeError, match="Pick a target object"):
        bpy.ops.rig_dojo.train()
    s.task = 'grasp'
    with pytest.raises(RuntimeError, match="mesh to grasp"):
        bpy.ops.rig_dojo.train()
    s.task = 'reach'
    s.target = objs["target"]

    # a picked policy file that does not exist
    s.bake.policy_path = str(tmp_path / "missing.rdpolicy")
    with pytest.raises(RuntimeError, match="does not exist"):
        bpy.ops.rig_dojo.bake()
    s.bake.policy_path = ""

    # train while training: refused, the first run carries on
    assert bpy.ops.rig_dojo.train() == {'FINISHED'}
    first = live.current().session
    with pytest.raises(RuntimeError, match="already running"):
        bpy.ops.rig_dojo.train()
    with pytest.raises(RuntimeError, match="Stop the training first"):
        bpy.ops.rig_dojo.bake()
    assert live.current().session is first and first.state == "running"
    bpy.ops.rig_dojo.stop()
    assert first.state == "stopped"


def test_run_folders_default_beside_the_blend_and_never_inside_the_extension(factory, tmp_path):
    import tempfile

    from rig_dojo.agents.config import TrainConfig

    config = TrainConfig()
    config.rig.rig = "Arm"
    assert Path(live.default_run_dir(config)).parent == Path(tempfile.gettempdir()) / "rig_dojo_runs"
    with pytest.raises(RigDojoError, match="not saved yet"):
        live.resolve_run_dir("//runs")
    with pytest.raises(RigDojoError, match="inside the add-on's own folder"):
        live.resolve_run_dir(str(live.PACKAGE_DIR / "runs"))
    bpy.ops.wm.save_as_mainfile(filepath=str(tmp_path / "shot.blend"))
    folder = live.default_run_dir(config)
    assert folder.startswith("//rig_dojo_runs/Arm_reach_")  # the command line's rule too (headless.py)
    assert live.resolve_run_dir(folder).parent == (tmp_path / "rig_dojo_runs").resolve()


# --- end to end ----------------------------------------------------------------------------------


def test_train_preview_stop_bake_undo_and_evaluate(factory, tmp_path, capfd):
    from rig_dojo.agents.policy_file import load_policy
    from rig_dojo.envs.kinematics import euler_xyz_to_matrix
    from rig_dojo.scene.kinematic.task_extract import task_from_config
    from rig_dojo.envs.kinematic.tasks import make_task
    from rig_dojo.envs.kinematic.family import rollout

    objs = demo()
    arm = objs["rig"]
    user_action = give_user_action(arm)
    user_keys = action_keys(user_action)
    bpy.context.scene.frame_set(1)
    bpy.ops.wm.save_as_mainfile(filepath=str(tmp_path / "shot.blend"))  # runs go beside it
    s = bpy.context.scene.rig_dojo
    assert bpy.ops.rig_dojo.verify() == {'FINISHED'}
    assert live.results["verify"][2]  # exact
    assert "VIEW3D_PT_rig_dojo_rig" in draw_panels(capfd)  # configured rig, with the verify report

    rest = pose(arm)
    assert bpy.ops.rig_dojo.train() == {'FINISHED'}
    run = live.current()
    assert bpy.app.timers.is_registered(live.tick) and live.is_training()
    assert run.run_dir.parent == (tmp_path / "rig_dojo_runs").resolve() and run.run_dir.name.startswith("Arm_")
    assert s.last_run_dir.startswith("//rig_dojo_runs/Arm_")

    # the timer plays the newest preview rollout on the rig and draws the curve
    moved = []
    tick_until(lambda: run.preview is not None and run.history_len >= 2
               and (moved.append(not np.allclose(pose(arm), rest)) or any(moved)))
    assert run.snapshot.step > 0 and run.snapshot.steps_per_second > 0
    pixels = curve_pixels()
    background = np.array([0.11, 0.11, 0.12])
    assert (np.abs(pixels[..., :3] - background).max(axis=-1) > 0.05).sum() > 50
    preview = live.curve_image().preview
    assert tuple(preview.image_size) == live.CURVE_SIZE
    assert set(draw_panels(capfd)) == set(PANELS)  # a running session
    factor, text = live.progress(run)
    assert 0.0 < factor < 1.0 and "steps/s" in text and "ETA" in text

    assert bpy.ops.rig_dojo.pause() == {'FINISHED'} and run.session.state == "paused"
    live.tick()
    draw_panels(capfd)
    assert bpy.ops.rig_dojo.resume() == {'FINISHED'} and run.session.state == "running"
    assert bpy.ops.rig_dojo.stop() == {'FINISHED'}
    assert run.state == "stopped" and not bpy.app.timers.is_registered(live.tick)
    assert np.allclose(pose(arm), rest)  # the rig's pose is back
    policy = run.run_dir / "final.rdpolicy"
    assert policy.is_file() and live.policy_path(s) == policy

    # bake into a new Action; one undo step reverts it
    s.bake.use_scene_range = False
    s.bake.frame_start, s.bake.frame_end = 1, 30
    bpy.ops.ed.undo_push(message="before bake")  # background mode starts with the undo system off
    assert bpy.ops.rig_dojo.bake('EXEC_DEFAULT', True) == {'FINISHED'}  # undo=True: as from a button
    assert "verified in Blender" in live.results["bake"]
    baked = arm.animation_data.action
    assert baked.name not in ("AnimatorWork",) and baked.name in bpy.data.actions
    assert action_keys(bpy.data.actions["AnimatorWork"]) == user_keys  # the user's keys are untouched

    loaded = load_policy(policy)
    spec = task_from_config(loaded.config, frames=(1, 30))
    angles, _ = rollout(loaded, make_task(spec, n_envs=1, seed=0, discrete=False), 29)
    for frame in (1, 9, 17, 30):
        bpy.context.scene.frame_set(frame)
        for c, name in enumerate(spec.rig.controls):
            got = np.array(arm.pose.bones[name].matrix_basis.to_3x3())
            want = euler_xyz_to_matrix(angles[frame - 1, c])
            assert np.allclose(got, want, atol=1e-4), (frame, name)

    baked_name = baked.name
    assert bpy.ops.ed.undo() == {'FINISHED'}
    arm = bpy.data.objects["Arm"]  # undo reloads the data: old Python references are gone
    s = bpy.context.scene.rig_dojo
    assert baked_name not in bpy.data.actions
    assert arm.animation_data.action.name == "AnimatorWork"
    assert action_keys(arm.animation_data.action) == user_keys

    # evaluate the run's policy; the panel shows the numbers
    assert bpy.ops.rig_dojo.evaluate() == {'FINISHED'}
    path, evaluation = live.results["evaluation"]
    assert Path(path) == policy and evaluation.episodes == s.bake.eval_episodes
    assert 0.0 <= evaluation.success_rate <= 1.0 and math.isfinite(evaluation.final_error)
    assert math.isfinite(evaluation.mean_jerk) and evaluation.limit_violation_total >= 0.0
    draw_panels(capfd)


def test_a_run_that_finishes_ends_its_timer_and_restores_the_pose(factory, tmp_path):
    objs = demo(tmp_path, steps=2048)
    rest = pose(objs["rig"])
    bpy.ops.rig_dojo.train()
    run = live.current()
    tick_until(lambda: run.ended)
    assert run.state == "finished" and live.tick() is None
    assert not bpy.app.timers.is_registered(live.tick)
    assert np.allclose(pose(objs["rig"]), rest)
    assert live.progress(run)[0] == 1.0 and (tmp_path / "run" / "final.rdpolicy").is_file()
    assert bpy.ops.rig_dojo.bake.poll()


def test_an_error_in_the_training_shows_in_plain_words(factory, tmp_path, capfd):
    from rig_dojo.agents.session import TrainingSession
    from rig_dojo.scene.kinematic.task_extract import task_from_config
    from rig_dojo.envs.kinematic.family import env_factory

    objs = demo(tmp_path)
    config = settings_to_config(bpy.context.scene.rig_dojo)
    spec = task_from_config(config)
    real = env_factory(spec)

    def failing(config, n_envs, seed):  # the real task, whose solver breaks after a few hundred steps
        task = real(config, n_envs, seed)
        if n_envs > 1:  # the hook both ways of stepping go through (step_wait, step_arrays)
            step, calls = task._step, [0]

            def failing_step(action):
                calls[0] += 1
                if calls[0] > 40:
                    raise RigDojoError("the twin's joint solver diverged at the wrist")
                return step(action)

            task._step = failing_step
        return task

    rest = pose(objs["rig"])
    session = TrainingSession(config, failing, tmp_path / "run")
    session.start()
    from rig_dojo.envs.families import get_family

    run = live.begin(session, get_family("kinematic").edge_hooks().Preview(config, spec))
    tick_until(lambda: run.ended)
    assert run.state == "error"
    assert run.error == "the twin's joint solver diverged at the wrist"  # plain words in the panel
    assert "Traceback" in capfd.readouterr().out  # the traceback went to the console
    assert not bpy.app.timers.is_registered(live.tick) and np.allclose(pose(objs["rig"]), rest)
    assert set(draw_panels(capfd)) == set(PANELS)  # an errored session
    assert bpy.ops.rig_dojo.train.poll()  # a new run may start


def test_loading_a_file_or_disabling_the_add_on_stops_the_training(factory, tmp_path):
    import rig_dojo

    objs = demo(tmp_path)
    rest = pose(objs["rig"])
    bpy.ops.rig_dojo.train()
    session = live.current().session
    tick_until(lambda: not np.allclose(pose(objs["rig"]), rest))
    bpy.ops.wm.read_factory_settings(use_empty=True)  # load_pre
    assert session.state == "stopped" and live.current() is None
    assert not bpy.app.timers.is_registered(live.tick)

    objs = demo(tmp_path)
    s = bpy.context.scene.rig_dojo
    s.run_dir = str(tmp_path / "second")
    rest = pose(objs["rig"])
    bpy.ops.rig_dojo.train()
    session = live.current().session
    tick_until(lambda: not np.allclose(pose(objs["rig"]), rest))
    handlers = len(bpy.app.handlers.load_pre)
    try:
        rig_dojo.unregister()
        assert session.state == "stopped" and not bpy.app.timers.is_registered(live.tick)
        assert np.allclose(pose(bpy.data.objects["Arm"]), rest)
        assert len(bpy.app.handlers.load_pre) == handlers - 1
    finally:
        rig_dojo.register()
    assert len(bpy.app.handlers.load_pre) == handlers
