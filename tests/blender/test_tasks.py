"""Reach, Aim and Grasp as batched, Gymnasium- and SB3-conformant environments."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import bpy

from rig_dojo.scene.builders import scenes
from rig_dojo.scene.kinematic.task_extract import extract_task
from rig_dojo.envs.kinematic.task_spec import CurriculumStage, TaskSpec
from rig_dojo.envs.kinematic.tasks import make_task
from rig_dojo.envs.base import GymView
from rig_dojo.errors import RigDojoError
from rig_dojo.rewards import TermConfig

import rigs

ARM = ["upper_arm", "forearm", "hand"]


def check_both(spec):
    for discrete in (False, True):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # infinite Box bounds are intended (normalised, unbounded coordinates)
            gym_check_env(GymView(make_task(spec, n_envs=1, seed=0, discrete=discrete)), skip_render_check=True)
            sb3_check_env(GymView(make_task(spec, n_envs=1, seed=0, discrete=discrete)))


@pytest.fixture
def demo(factory):
    return scenes.build_demo_scene()


@pytest.mark.parametrize("target", [{"target": "Target"}, {"region": "Region"}])
def test_reach_passes_both_checkers_on_the_synthetic_arm(demo, target):
    spec = extract_task("Arm", "reach", ARM, "hand", **target)
    check_both(spec)


def test_fixed_animated_and_region_targets_are_read_from_blender(demo):
    animated = extract_task("Arm", "reach", ARM, "hand", target="Target")
    assert animated.target.kind == "trajectory" and len(animated.target.trajectory) == 120
    assert animated.episode_steps == 120  # one step per frame, so a bake lines up with the animation
    np.testing.assert_allclose(animated.target.trajectory[0], bpy.data.objects["Target"].matrix_world.translation,
                               atol=1e-6) if bpy.context.scene.frame_current == 1 else None
    demo["target"].animation_data_clear()
    fixed = extract_task("Arm", "reach", ARM, "hand", target="Target")
    assert fixed.target.kind == "fixed"
    region = extract_task("Arm", "reach", ARM, "hand", region="Region")
    assert region.target.kind == "region"
    np.testing.assert_allclose(region.target.region_half, [0.4, 0.4, 0.4], atol=1e-6)
    task = make_task(region, n_envs=500, seed=1)
    task.reset()
    world = task.target * task.unit + task.origin
    assert np.all(np.abs(world - region.target.region_center) <= 0.4 + 1e-9)
    assert world.std(axis=0).min() > 0.1  # spread through the region, not a point


def test_aim_and_grasp_pass_both_checkers(factory):
    arm, cup = rigs.build_hand_rig()
    head = scenes.add_empty("Light", (0.5, 0.6, 1.4))
    aim = extract_task(arm.name, "aim", ["upper", "fore", "palm"], "palm", target=head.name)
    check_both(aim)
    grasp = extract_task(arm.name, "grasp", ["upper", "fore", "palm", "finger0.0", "finger0.1", "finger1.0",
                                             "finger1.1"], "palm", grasp_object=cup.name,
                         fingertips=["finger0.1", "finger1.1"])
    check_both(grasp)
    task = make_task(grasp, n_envs=4, seed=0)
    task.reset()
    _, _, _, infos = task.step(np.zeros((4, task.n_joints)))
    assert infos[0]["error"] > 0  # fingertips start away from the cup


@pytest.mark.slow
def test_tasks_pass_both_checkers_on_the_rigify_fk_arm(rigify_rig):
    scenes.add_empty("Light", (0.5, -0.3, 1.2))
    for kind in ("reach", "aim"):
        spec = extract_task("rig", kind, scenes.RIGIFY_FK_ARM["controls"], "DEF-hand.L", target="Light")
        check_both(spec)
    bpy.ops.mesh.primitive_cylinder_add(radius=0.04, depth=0.12, location=(0.45, -0.3, 1.1))
    fingers = ["f_index.01.L", "f_index.02.L", "f_index.03.L", "thumb.01.L", "thumb.02.L", "thumb.03.L"]
    grasp = extract_task("rig", "grasp", scenes.RIGIFY_FK_ARM["controls"] + fingers, "DEF-hand.L",
                         grasp_object=bpy.context.active_object.name,
                         fingertips=["DEF-f_index.03.L", "DEF-thumb.03.L"])
    check_both(grasp)


def test_seeding_makes_runs_reproducible(demo):
    spec = extract_task("Arm", "reach", ARM, "hand", region="Region")
    runs = []
    for _ in range(2):
        task = make_task(spec, n_envs=8, seed=123)
        obs = [task.reset()]
        rng = np.random.default_rng(0)
        for _ in range(60):
            obs.append(task.step(rng.uniform(-1, 1, (8, task.n_joints)))[0])
        runs.append(np.array(obs))
    np.testing.assert_array_equal(runs[0], runs[1])
    other = make_task(spec, n_envs=8, seed=124)
    assert not np.array_equal(other.reset(), runs[0][0])


def scripted_actions(task) -> np.ndarray:
    """Move toward the target: a damped least-squares step on the twin's finite-difference Jacobian."""
    eps = 1e-4
    base = task.effector_pos()
    q0 = task.q.copy()
    jac = np.empty((task.num_envs, 3, task.n_joints))
    for j in range(task.n_joints):
        task.q = q0.copy()
        task.q[:, j] += eps
        task._forward()
        jac[:, :, j] = (task.effector_pos() - base) / eps
    task.q = q0
    task._forward()
    err = task.target - base
    jt = np.swapaxes(jac, 1, 2)
    dq = jt @ np.linalg.solve(jac @ jt + 1e-3 * np.eye(3), err[..., None])
    return np.clip(dq[..., 0] / task.spec.max_delta, -1, 1)


def run_policy(task, policy, episodes_steps):
    task.reset()
    total = np.zeros(task.num_envs)
    for _ in range(episodes_steps):
        _, reward, _, infos = task.step(policy(task))
        total += reward
    return total.mean(), np.mean([i["success"] for i in infos[:]]), infos


def test_scripted_reach_beats_random_clearly(demo):
    spec = extract_task("Arm", "reach", ARM, "hand", region="Region", episode_steps=40)
    rng = np.random.default_rng(0)
    random_return, random_success, _ = run_policy(make_task(spec, 64, seed=0),
                                                  lambda t: rng.uniform(-1, 1, (t.num_envs, t.n_joints)), 39)
    scripted_return, scripted_success, _ = run_policy(make_task(spec, 64, seed=0), scripted_actions, 39)
    assert scripted_return > random_return + 10
    assert scripted_success > 0.5 and random_success < 0.1


def test_info_carries_per_term_rewards_and_success_at_episode_end(demo):
    spec = extract_task("Arm", "reach", ARM, "hand", region="Region", episode_steps=5)
    task = make_task(spec, 4, seed=0)
    task.reset()
    for _ in range(5):
        _, reward, done, infos = task.step(np.zeros((4, task.n_joints)))
    assert done.all()
    assert set(infos[0]["terms"]) == {"distance", "distance#2", "success_bonus", "effort", "joint_limits"}
    assert sum(infos[0]["terms"].values()) == pytest.approx(float(reward[0]), rel=1e-5)
    assert infos[0]["TimeLimit.truncated"] and "terminal_observation" in infos[0]
    assert set(task.term_means()) == set(infos[0]["terms"])


def test_actions_stay_inside_joint_limits(demo):
    arm = demo["rig"]
    for pb in arm.pose.bones:
        pb.use_ik_limit_x, pb.ik_min_x, pb.ik_max_x = True, -0.2, 0.3
    spec = extract_task("Arm", "reach", ARM, "hand", region="Region")
    task = make_task(spec, 16, seed=0)
    task.reset()
    violation = 0.0
    for _ in range(30):
        _, _, _, infos = task.step(np.ones((16, task.n_joints)))
        violation += infos[0]["limit_violation"]
    x_joints = task.dof_axis == 0
    assert np.all(task.q[:, x_joints] <= np.float32(0.3) + 1e-9) and violation > 0  # limits are float32 in Blender


def test_discrete_actions_step_by_delta(demo):
    spec = extract_task("Arm", "reach", ARM, "hand", region="Region")
    task = make_task(spec, 2, seed=0, discrete=True)
    task.reset()
    before = task.q.copy()
    task.step(np.array([[2] + [1] * (task.n_joints - 1), [0] * task.n_joints]))
    np.testing.assert_allclose(task.q[0] - before[0], [spec.discrete_delta] + [0] * (task.n_joints - 1))
    np.testing.assert_allclose(task.q[1] - before[1], [-spec.discrete_delta] * task.n_joints)


def test_curriculum_widens_the_region_and_tightens_the_tolerance(demo):
    stages = [CurriculumStage(0.1, 0.1), CurriculumStage(1.0, 0.02)]
    spec = extract_task("Arm", "reach", ARM, "hand", region="Region", curriculum=stages, curriculum_threshold=0.8)
    task = make_task(spec, 400, seed=0)
    task.reset()
    spread0 = (task.target * task.unit).std(axis=0).max()
    assert task.curriculum_stage == 0 and task.tolerance == 0.1
    assert not task.advance_curriculum(0.5)
    assert task.advance_curriculum(0.9) and task.curriculum_stage == 1 and task.tolerance == 0.02
    task.reset()
    assert (task.target * task.unit).std(axis=0).max() > 5 * spread0
    assert not task.advance_curriculum(1.0)  # last stage


@pytest.mark.parametrize("change,message", [
    (lambda kw: kw.update(target="Ghost"), "target object 'Ghost' does not exist"),
    (lambda kw: kw.update(effector="forearm", tracked=[]) or kw.update(effector="nope"), "no bone named 'nope'"),
    (lambda kw: kw.update(terms=[]), "no reward terms"),
    (lambda kw: kw.update(terms=[TermConfig("distance", float("nan"))]), "distance"),
    (lambda kw: kw.update(terms=[TermConfig("distance", -1.0)]), "distance"),
])
def test_bad_input_is_one_clear_error(demo, change, message):
    kwargs = dict(rig="Arm", kind="reach", controls=ARM, effector="hand", target="Target")
    change(kwargs)
    with pytest.raises(RigDojoError, match=message):
        spec = extract_task(**kwargs)
        make_task(spec, 2)


def test_grasp_mesh_without_faces_and_effector_not_tracked(factory):
    arm, _ = rigs.build_hand_rig()
    rigs.add_faceless_mesh("Points")
    with pytest.raises(RigDojoError, match="no faces"):
        extract_task(arm.name, "grasp", ["upper", "fore", "palm"], "palm", grasp_object="Points",
                     fingertips=["finger0.1"])
    spec = extract_task(arm.name, "reach", ["upper", "fore"], "fore", target="Cup")
    spec.effector = "palm"
    with pytest.raises(RigDojoError, match="not a tracked bone"):
        make_task(spec, 1)


def test_task_spec_file_round_trip(demo, tmp_path):
    spec = extract_task("Arm", "reach", ARM, "hand", target="Target",
                        curriculum=[CurriculumStage(0.5, 0.05)])
    loaded = TaskSpec.load(spec.save(tmp_path / "task.npz"))
    a, b = make_task(spec, 4, seed=3), make_task(loaded, 4, seed=3)
    np.testing.assert_array_equal(a.reset(), b.reset())
    actions = np.full((4, a.n_joints), 0.3)
    np.testing.assert_array_equal(a.step(actions)[1], b.step(actions)[1])
    assert loaded.terms == spec.terms and loaded.curriculum == spec.curriculum
