"""Cinematic camera task: extraction, twin, reward terms, task conformance, training, bake and verify (real bpy)."""

from __future__ import annotations

import bpy
import numpy as np
import pytest
from mathutils import Matrix, Vector

from rig_dojo.errors import RigDojoError
from rig_dojo.rewards import REGISTRY, RewardComposer, TermConfig
from rig_dojo.rewards.camera_terms import CameraState
from rig_dojo.scene.builders.camera import build_camera_demo_scene
from rig_dojo.scene.camera.bake import bake_camera
from rig_dojo.scene.camera.extract import extract_camera_shot
from rig_dojo.scene.camera.verify import verify_camera_bake
from rig_dojo.envs.camera.task import (
    CameraTask,
    rollout,
    scripted_rollout,
    shot_metrics,
    train_policy_search,
)
from rig_dojo.envs.camera.twin import (
    CameraLimits,
    CameraSpec,
    CameraTwin,
    Intrinsics,
    ObstacleSet,
    camera_angles,
    camera_rotation,
)
from rig_dojo.envs.base import GymView

FRAMING = "left_third"  # a track-to camera centres the subject, so the third line is the honest test


# --- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shot(dojo_registered) -> CameraSpec:
    bpy.ops.wm.read_factory_settings(use_empty=True)
    build_camera_demo_scene()
    return extract_camera_shot(subject="Subject")


@pytest.fixture(scope="module")
def trained(shot):
    policy, history = train_policy_search(shot, generations=60, population=128, seed=0, framing=FRAMING)
    return policy, history


def _reference_blocked(tris: np.ndarray, p0: np.ndarray, p1: np.ndarray, eps=1e-6) -> np.ndarray:
    """Brute force Möller–Trumbore: every segment against every triangle, no hierarchy."""
    out = np.zeros(len(p0), dtype=bool)
    a, e1, e2 = tris[:, 0], tris[:, 1] - tris[:, 0], tris[:, 2] - tris[:, 0]
    for s in range(len(p0)):
        d = p1[s] - p0[s]
        pv = np.cross(d, e2)
        det = np.einsum("ij,ij->i", e1, pv)
        ok = np.abs(det) > 1e-12
        det = np.where(ok, det, 1.0)
        tv = p0[s] - a
        u = np.einsum("ij,ij->i", tv, pv) / det
        qv = np.cross(tv, e1)
        v = qv @ d / det
        t = np.einsum("ij,ij->i", e2, qv) / det
        out[s] = bool(np.any(ok & (u >= 0) & (v >= 0) & (u + v <= 1) & (t > eps) & (t < 1 - eps)))
    return out


def _box_triangles(center, half) -> np.ndarray:
    c, h = np.asarray(center, float), np.asarray(half, float)
    v = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)]) * h + c
    quads = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]
    return np.array([[v[a], v[b], v[c_]] for q in quads for a, b, c_ in ((q[0], q[1], q[2]), (q[0], q[2], q[3]))])


# --- twin -----------------------------------------------------------------------------------


@pytest.mark.parametrize("fit", ["AUTO", "HORIZONTAL", "VERTICAL"])
@pytest.mark.parametrize("res", [(1920, 1080, 1.0, 1.0), (800, 1200, 1.0, 1.0), (640, 480, 2.0, 1.0)])
def test_projection_matches_world_to_camera_view(factory, fit, res):
    from bpy_extras.object_utils import world_to_camera_view

    scene = factory
    rng = np.random.default_rng(hash((fit, res)) % 2**32)
    data = bpy.data.cameras.new("C")
    cam = bpy.data.objects.new("C", data)
    scene.collection.objects.link(cam)
    data.sensor_fit, data.lens, data.sensor_width, data.sensor_height = fit, 35.0, 36.0, 20.0
    data.shift_x, data.shift_y = 0.12, -0.2
    scene.render.resolution_x, scene.render.resolution_y, scene.render.pixel_aspect_x, scene.render.pixel_aspect_y = res
    angles, pos = rng.uniform(-1, 1, 3), rng.normal(size=3)
    rot = camera_rotation(angles[None])[0]
    m = np.eye(4)
    m[:3, :3], m[:3, 3] = rot, pos
    cam.matrix_world = Matrix(m.tolist())
    intr = Intrinsics(35.0, 36.0, 20.0, fit, *res, 0.12, -0.2)
    pts = pos + rot @ np.array([0, 0, -5.0]) + rng.normal(size=(30, 3))
    uv, depth = intr.project(pos[None], rot[None], pts[None])
    blender = np.array([list(world_to_camera_view(scene, cam, Vector(p))) for p in pts])
    np.testing.assert_allclose(uv[0], blender[:, :2], atol=1e-5)
    np.testing.assert_allclose(depth[0], blender[:, 2], atol=1e-5)


def test_camera_angles_round_trip_and_look_along_plus_y_at_zero():
    a = np.random.default_rng(0).uniform(-1.2, 1.2, (200, 3))
    np.testing.assert_allclose(camera_angles(camera_rotation(a)), a, atol=1e-12)
    r = camera_rotation(np.zeros((1, 3)))[0]
    np.testing.assert_allclose(-r[:, 2], [0, 1, 0], atol=1e-15)  # view axis
    np.testing.assert_allclose(r[:, 1], [0, 0, 1], atol=1e-15)  # up


def test_obstacle_queries_match_brute_force():
    rng = np.random.default_rng(1)
    tris = np.concatenate([_box_triangles(rng.uniform(-3, 3, 3), rng.uniform(0.2, 1.0, 3)) for _ in range(12)])
    ids = np.repeat(np.arange(12), 12)
    obs = ObstacleSet(tris, ids, np.ones(12, dtype=bool), leaf_size=4, group_size=3)
    p0, p1 = rng.uniform(-5, 5, (300, 3)), rng.uniform(-5, 5, (300, 3))
    blocked = obs.segments_blocked(p0, p1)
    np.testing.assert_array_equal(blocked, _reference_blocked(tris, p0, p1))
    assert 0.1 < blocked.mean() < 0.95
    small = ObstacleSet(tris[:48], ids[:48])  # few triangles: the dense path
    np.testing.assert_array_equal(small.segments_blocked(p0, p1), _reference_blocked(tris[:48], p0, p1))
    # inside: a point is inside a box if it is within its extent
    pts = rng.uniform(-4, 4, (400, 3))
    lo, hi = tris.reshape(12, -1, 3).min(axis=1), tris.reshape(12, -1, 3).max(axis=1)
    expect = ((pts[:, None] > lo + 1e-9) & (pts[:, None] < hi - 1e-9)).all(axis=2).any(axis=1)
    np.testing.assert_array_equal(obs.inside(pts), expect)
    # distance: brute force over dense samples is an upper bound, and capped values stay capped
    d = obs.distance(pts, 10.0)
    assert np.all(d[expect] <= np.min(hi - lo) + 1e-9)
    w = rng.uniform(size=(1500, 2))
    w = np.where(w.sum(1, keepdims=True) > 1, 1 - w, w)
    samples = tris[:, 0][:, None] + w[None, :, :1] * (tris[:, 1] - tris[:, 0])[:, None] \
        + w[None, :, 1:] * (tris[:, 2] - tris[:, 0])[:, None]
    few = pts[:60]
    approx = np.linalg.norm(few[:, None] - samples.reshape(-1, 3)[None], axis=2).min(axis=1)
    assert np.all(d[:60] <= approx + 1e-9) and np.all(approx - d[:60] < 0.25)
    assert np.all(obs.distance(pts + 100.0, 0.5) == 0.5)


@pytest.mark.parametrize("mode,lens,roll,dim", [("free", False, False, 5), ("free", True, True, 7),
                                                ("dolly", False, False, 3), ("pan", False, False, 2),
                                                ("pan", True, True, 4)])
def test_modes_limit_the_action_space(mode, lens, roll, dim):
    twin = CameraTwin(3, CameraLimits(max_speed=2.0, max_accel=4.0), 1 / 24, mode, lens, roll)
    assert twin.action_dim == dim
    twin.reset(np.arange(3), np.zeros((3, 3)), np.zeros((3, 3)), np.full(3, 50.0))
    for _ in range(200):
        twin.step(np.ones((3, dim)) * 5.0)  # out of range actions are clipped
    moved = np.abs(twin.pos).max() > 0
    turned = np.abs(twin.angles).max() > 0
    assert moved == (mode != "pan") and turned == (mode != "dolly")
    assert np.all(np.linalg.norm(twin.vel, axis=1) <= 2.0 + 1e-9)  # speed limit
    assert np.all(np.abs(twin.ang_vel) <= twin.limits.max_turn_rate + 1e-9)
    assert np.all(np.abs(twin.acc) <= 4.0 * np.sqrt(3) + 1e-9)
    assert (np.abs(twin.lens - 50.0).max() > 0) == lens
    assert (np.abs(twin.angles[:, 2]).max() > 0) == (roll and mode != "dolly")


# --- reward terms ---------------------------------------------------------------------------


def _state(**kw) -> CameraState:
    base = dict(subject_uv=np.array([[0.5, 0.5]]), subject_depth=np.array([5.0]), subject_size=np.array([0.3]),
                subject_distance=np.array([1.0]), occlusion=np.array([0.0]), collision=np.array([False]),
                region_excess=np.array([0.0]), **{k: np.zeros((1, 3)) for k in (
                    "cam_vel", "cam_acc", "cam_jerk", "rot_vel", "rot_acc", "rot_jerk")})
    base.update(kw)
    return CameraState(n_envs=1, **base)


def _value(name: str, state: CameraState, **params) -> float:
    composer = RewardComposer([TermConfig(name, params=params)])
    return float(composer(state)[0][0])


def test_every_camera_term_moves_the_right_way():
    near, far = _state(subject_uv=np.array([[0.36, 0.5]])), _state(subject_uv=np.array([[0.6, 0.7]]))
    assert _value("camera_framing", near, point="left_third") > _value("camera_framing", far, point="left_third")
    assert _value("camera_framing", _state(), point="center") == pytest.approx(1.0)
    behind = _state(subject_uv=np.array([[0.5, 0.5]]), subject_depth=np.array([-1.0]))
    assert _value("camera_framing", behind, point="center") < _value("camera_framing", far, point="center")
    assert _value("camera_framing", _state(subject_uv=np.array([[0.7, 0.5]])), point="nearest_third") \
        > _value("camera_framing", _state(subject_uv=np.array([[0.5, 0.5]])), point="nearest_third")
    assert _value("camera_subject_size", _state(subject_size=np.array([0.3])), target=0.3) \
        > _value("camera_subject_size", _state(subject_size=np.array([0.1])), target=0.3)
    assert _value("camera_distance_band", _state(subject_distance=np.array([1.0]))) == 0.0
    assert _value("camera_distance_band", _state(subject_distance=np.array([3.0]))) \
        < _value("camera_distance_band", _state(subject_distance=np.array([2.5]))) < 0.0
    assert _value("camera_distance_band", _state(subject_distance=np.array([0.1]))) < 0.0
    for order, fields in (("velocity", ("cam_vel", "rot_vel")), ("acceleration", ("cam_acc", "rot_acc")),
                          ("jerk", ("cam_jerk", "rot_jerk"))):
        for f in fields:
            small, big = _state(**{f: np.full((1, 3), 0.1)}), _state(**{f: np.full((1, 3), 0.5)})
            assert 0.0 > _value("camera_smoothness", small, order=order) > _value("camera_smoothness", big, order=order)
    assert _value("camera_occlusion", _state(occlusion=np.array([0.5]))) \
        < _value("camera_occlusion", _state(occlusion=np.array([0.1]))) < 0.0
    assert _value("camera_collision", _state(collision=np.array([True]))) == -1.0
    assert _value("camera_collision", _state()) == 0.0
    assert _value("camera_region", _state(region_excess=np.array([0.5]))) \
        < _value("camera_region", _state(region_excess=np.array([0.1]))) < _value("camera_region", _state()) == 0.0
    for name in ("camera_distance_band", "camera_smoothness", "camera_occlusion", "camera_collision", "camera_region"):
        assert REGISTRY[name].penalty


def test_camera_terms_refuse_a_state_without_camera_fields():
    from rig_dojo.rewards import RewardState

    with pytest.raises(RigDojoError, match="subject_uv"):
        RewardComposer([TermConfig("camera_framing")])(RewardState(n_envs=1))


# --- extraction -----------------------------------------------------------------------------


def test_extraction_samples_follow_path_as_blender_evaluates_it(factory):
    objs = build_camera_demo_scene()
    spec = extract_camera_shot(subject="Subject")
    assert spec.n_frames == 48 and spec.frame_start == 1 and spec.fps == 24.0
    assert spec.obstacle_names == ["Wall", "Ground"] and spec.obstacle_closed.tolist() == [True, False]
    assert spec.subject_points.shape == (48, 9, 3)
    for f in (1, 17, 30, 48):
        factory.frame_set(f)
        np.testing.assert_allclose(spec.subject_positions[f - 1], np.array(objs["subject"].matrix_world.translation),
                                   atol=1e-5)
    cam_world = np.array(objs["camera"].matrix_world)
    np.testing.assert_allclose(camera_rotation(spec.camera_angles[None])[0], cam_world[:3, :3], atol=1e-6)
    assert spec.lens == 28.0 and spec.resolution_x == 640
    # obstacle triangles are evaluated in world space: the wall spans its scaled size
    wall = spec.obstacle_triangles[spec.obstacle_ids == 0]
    np.testing.assert_allclose(np.ptp(wall.reshape(-1, 3), axis=0), [3.0, 0.3, 2.4], atol=1e-6)


def test_spec_round_trips_through_a_file_without_pickle(shot, tmp_path):
    loaded = CameraSpec.load(shot.save(tmp_path / "shot.npz"))
    for name in CameraSpec._ARRAYS:
        np.testing.assert_array_equal(getattr(loaded, name), getattr(shot, name))
    assert loaded.obstacle_names == shot.obstacle_names and loaded.sensor_fit == shot.sensor_fit
    (tmp_path / "junk.npz").write_bytes(b"not a file")
    with pytest.raises(RigDojoError, match="not a Rig Dojo camera shot"):
        CameraSpec.load(tmp_path / "junk.npz")


def test_bone_subject_is_sampled_from_its_constraint(factory):
    build_camera_demo_scene()
    arm = bpy.data.armatures.new("Rig")
    rig = bpy.data.objects.new("Rig", arm)
    factory.collection.objects.link(rig)
    bpy.context.view_layer.objects.active = rig
    bpy.ops.object.mode_set(mode='EDIT')
    bone = arm.edit_bones.new("Head")
    bone.head, bone.tail = (0, 0, 0), (0, 0, 0.5)
    bpy.ops.object.mode_set(mode='OBJECT')
    con = rig.pose.bones["Head"].constraints.new('COPY_LOCATION')
    con.target = bpy.data.objects["Subject"]
    spec = extract_camera_shot(subject="Rig", bone="Head")
    subject = extract_camera_shot(subject="Subject")
    # the bone's midpoint sits 0.25 above its head, which copies the subject's origin
    np.testing.assert_allclose(spec.subject_positions, subject.subject_positions + [0, 0, 0.25], atol=1e-5)
    assert spec.subject_points.shape == (48, 3, 3)


def test_bad_inputs_each_give_one_clear_error(factory):
    with pytest.raises(RigDojoError, match="no camera"):
        extract_camera_shot(subject="Anything")
    objs = build_camera_demo_scene()
    with pytest.raises(RigDojoError, match="not a camera"):
        extract_camera_shot(camera="Wall", subject="Subject")
    with pytest.raises(RigDojoError, match="no subject"):
        extract_camera_shot()
    with pytest.raises(RigDojoError, match="no object named 'Ghost'"):
        extract_camera_shot(subject="Ghost")
    with pytest.raises(RigDojoError, match="does not move"):
        extract_camera_shot(subject="Wall")
    with pytest.raises(RigDojoError, match="frame end"):
        extract_camera_shot(subject="Subject", frame_start=10, frame_end=10)
    with pytest.raises(RigDojoError, match="no bone"):
        extract_camera_shot(subject="Subject", bone="Head")
    objs["camera"].data.type = 'ORTHO'
    with pytest.raises(RigDojoError, match="perspective"):
        extract_camera_shot(subject="Subject")


# --- task -----------------------------------------------------------------------------------


def test_both_checkers_pass_on_the_camera_task(shot):
    import gymnasium.utils.env_checker as gym_checker
    from stable_baselines3.common.env_checker import check_env

    for mode, lens in (("free", False), ("pan", True), ("dolly", False)):
        gym_checker.check_env(GymView(CameraTask(shot, n_envs=1, mode=mode, use_lens=lens, start_noise=0.1)),
                              skip_render_check=True)
        check_env(GymView(CameraTask(shot, n_envs=1, mode=mode, use_lens=lens, start_noise=0.1)))


def test_seeding_is_reproducible_and_episodes_are_the_shot(shot):
    def run(seed):
        task = CameraTask(shot, n_envs=4, start_noise=0.2, seed=seed)
        obs = [task.reset()]
        rng = np.random.default_rng(0)
        infos = None
        for _ in range(shot.n_frames - 1):
            o, r, done, infos = task.step(rng.uniform(-1, 1, (4, task.action_space.shape[0])))
            obs.append(o)
        return np.array(obs), done, infos

    a, done, infos = run(3)
    b, _, _ = run(3)
    c, _, _ = run(4)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert done.all() and all(i["TimeLimit.truncated"] for i in infos)
    assert {"success", "error", "limit_violation", "terminal_observation", "episode", "terms"} <= set(infos[0])
    assert infos[0]["episode"]["l"] == shot.n_frames - 1


def test_task_reports_occlusion_collision_and_region(shot):
    task = CameraTask(shot, n_envs=3, framing="center")
    task.reset()
    # env 0 behind the wall looking at the subject, env 1 inside the wall, env 2 far outside the region
    task.frame_index[:] = 23
    subject = shot.subject_positions[23]
    task.twin.pos[:] = [[subject[0], -1.0, 1.0], [0.5, 2.0, 1.0], [0.0, -100.0, 1.0]]
    from rig_dojo.envs.camera.twin import look_at_angles

    task.twin.angles[:, :2] = look_at_angles(task.twin.pos, subject)
    task._measure()
    assert task._occlusion[0] > 0.5
    assert task._collision.tolist() == [False, True, False]
    assert task._region_excess[2] > 0 and task._region_excess[0] == 0


@pytest.mark.slow
def test_ppo_trains_on_the_camera_task(shot):
    from stable_baselines3 import PPO

    task = CameraTask(shot, n_envs=4, start_noise=0.05, seed=0)
    model = PPO("MlpPolicy", task, n_steps=64, batch_size=64, n_epochs=1, policy_kwargs={"net_arch": [16]}, seed=0)
    model.learn(512)
    ev = CameraTask(shot, n_envs=1)
    move = rollout(ev, lambda o: model.predict(o, deterministic=True)[0])
    assert move.positions.shape == (shot.n_frames, 3) and np.isfinite(move.positions).all()


# --- training vs baselines, bake and verify -------------------------------------------------


@pytest.mark.slow
def test_trained_camera_beats_fixed_and_track_to(shot, trained, capsys):
    policy, history = trained
    task = CameraTask(shot, n_envs=1, framing=FRAMING)
    ours = shot_metrics(task, rollout(task, policy))
    fixed = shot_metrics(task, scripted_rollout(task, "fixed"))
    track = shot_metrics(task, scripted_rollout(task, "track_to"))
    with capsys.disabled():
        print(f"\ncamera shot ({FRAMING}): trained {ours}\n  fixed {fixed}\n  track_to {track}")
    assert history[-1] > history[0]
    assert ours["framing"] < 0.8 * min(fixed["framing"], track["framing"])
    assert ours["occlusion"] < 0.5 * min(fixed["occlusion"], track["occlusion"])
    assert ours["jerk"] < track["jerk"]  # a fixed camera has zero jerk by construction
    assert ours["collisions"] == 0


def test_baked_camera_verifies_in_blender_and_keeps_the_old_action(factory, shot, trained):
    objs = build_camera_demo_scene()
    cam = objs["camera"]
    old = bpy.data.actions.new("UserCameraMove")
    from rig_dojo.scene import anim

    anim.assign_action(cam, old)
    task = CameraTask(shot, n_envs=1, framing=FRAMING)
    move = rollout(task, trained[0])
    result = bake_camera(cam, move, provenance={"test": "camera"}, undo_push=True)
    assert result.previous_action == "UserCameraMove" and old.use_fake_user
    assert cam.animation_data.action.name == result.action_name != "UserCameraMove"
    assert result.keys_written == shot.n_frames * 6 and result.lens_action_name is None
    check = verify_camera_bake(cam, shot, move)
    assert check.image_error < 1e-4 and check.position_error < 1e-4, check
    assert check.frames_compared == shot.n_frames
    bpy.ops.ed.undo()
    assert bpy.data.objects["ShotCam"].animation_data.action.name == "UserCameraMove"


def test_lens_bake_goes_to_a_new_action_on_the_camera_data(factory):
    objs = build_camera_demo_scene()
    objs["camera"].rotation_mode = "QUATERNION"
    spec = extract_camera_shot(subject="Subject")
    task = CameraTask(spec, n_envs=1, mode="pan", use_lens=True)
    rng = np.random.default_rng(0)
    actions = rng.uniform(-1, 1, (spec.n_frames, task.action_space.shape[0]))
    it = iter(actions)
    move = rollout(task, lambda o: next(it)[None])
    assert np.ptp(move.lens) > 0
    result = bake_camera(objs["camera"], move)
    assert result.lens_action_name and objs["camera"].data.animation_data.action.name == result.lens_action_name
    check = verify_camera_bake(objs["camera"], spec, move)
    assert check.image_error < 1e-4 and check.frames_compared > 5, check


def test_bake_refuses_a_camera_whose_constraints_would_override_it(factory, shot):
    objs = build_camera_demo_scene()
    con = objs["camera"].constraints.new('TRACK_TO')
    con.target = objs["subject"]
    task = CameraTask(shot, n_envs=1)
    with pytest.raises(RigDojoError, match="constraints"):
        bake_camera(objs["camera"], rollout(task))
