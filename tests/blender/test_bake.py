"""Bake: keys written through the version shim, checked by Blender's own evaluation."""

from __future__ import annotations

import math

import bpy
import numpy as np
import pytest
from mathutils import Euler, Matrix, Vector

from rig_dojo.envs import keyreduce
from rig_dojo.scene import anim
from rig_dojo.scene.bake import PROVENANCE_KEY, BakeVerification, bake_pose_rotations, verify_bake
from rig_dojo.scene.builders.scenes import build_chain
from rig_dojo.errors import RigDojoError

MODES = ("QUATERNION", "XYZ", "XZY", "YXZ", "YZX", "ZXY", "ZYX", "AXIS_ANGLE")


def chain_with_modes(modes=MODES, name="Arm", length=0.2):
    obj = build_chain(name, (length,) * len(modes))
    for pb, mode in zip(obj.pose.bones, modes):
        pb.rotation_mode = mode
    return obj


def wild_motion(n_frames: int, n_bones: int, seed: int = 0) -> np.ndarray:
    """Smooth Euler XYZ motion (F, B, 3) that turns more than a full circle and crosses gimbal lock."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 1.0, n_frames)[:, None]
    amp = rng.uniform(0.5, 4.0, (1, n_bones * 3))
    freq = rng.uniform(0.5, 3.0, (1, n_bones * 3))
    phase = rng.uniform(0, 2 * np.pi, (1, n_bones * 3))
    return (amp * np.sin(2 * np.pi * freq * t + phase)).reshape(n_frames, n_bones, 3)


def basis_rotation_error(obj, names, frame, euler_row) -> float:
    """Largest angle (rad) between each pose bone's matrix_basis rotation and the input, at ``frame``."""
    bpy.context.scene.frame_set(frame)
    worst = 0.0
    for name, e in zip(names, euler_row):
        got = obj.pose.bones[name].matrix_basis.to_3x3()
        want = Euler(e, 'XYZ').to_matrix()
        worst = max(worst, got.to_quaternion().rotation_difference(want.to_quaternion()).angle)
    return worst


def rotation_curves(action, obj, bone, path):
    curves = [c for c in anim.iter_fcurves(action, obj) if c.data_path == f'pose.bones["{bone}"].{path}']
    return sorted(curves, key=lambda c: c.array_index)


def curve_values(curve) -> np.ndarray:
    co = np.empty(len(curve.keyframe_points) * 2, dtype=np.float32)
    curve.keyframe_points.foreach_get("co", co)
    return co.reshape(-1, 2)


def keyed_user_action(obj):
    """The animator's own work: a couple of keys on the first bone."""
    pb = obj.pose.bones[0]
    pb.rotation_mode = 'XYZ'
    for frame, angle in ((1, 0.0), (10, 0.7), (20, -0.3)):
        pb.rotation_euler = (angle, 0.0, 0.0)
        pb.location = (0.0, angle, 0.0)
        pb.keyframe_insert("rotation_euler", frame=frame)
        pb.keyframe_insert("location", frame=frame)
    action = obj.animation_data.action
    action.name = "AnimatorWork"
    return action


def snapshot(action, obj):
    return {(c.data_path, c.array_index): curve_values(c).tolist() for c in anim.iter_fcurves(action, obj)}


# --- values --------------------------------------------------------------------------------


def test_bake_matches_input_in_every_rotation_mode(factory):
    obj = chain_with_modes()
    names = [pb.name for pb in obj.pose.bones]
    euler = wild_motion(80, len(names))
    frames = np.arange(1, 81)
    result = bake_pose_rotations(obj, names, frames, euler)

    assert result.keys_written == 80 * (4 + 6 * 3 + 4) and result.reduction_ratio == 1.0
    action = bpy.data.actions[result.action_name]
    assert obj.animation_data.action == action
    for name, mode in zip(names, MODES):
        path = {"QUATERNION": "rotation_quaternion", "AXIS_ANGLE": "rotation_axis_angle"}.get(mode, "rotation_euler")
        curves = rotation_curves(action, obj, name, path)
        assert len(curves) == (3 if len(mode) == 3 else 4)
        assert all(len(c.keyframe_points) == 80 for c in curves)
        assert all(k.interpolation == 'LINEAR' for c in curves for k in c.keyframe_points)
        assert curves[0].group is not None and curves[0].group.name == name
    for i in (0, 7, 31, 52, 79):
        assert basis_rotation_error(obj, names, int(frames[i]), euler[i]) < 1e-4
    assert verify_bake(obj, names, frames, euler) < math.degrees(1e-4)


def test_bake_keeps_euler_xyz_input_exactly_even_beyond_half_a_turn(factory):
    obj = chain_with_modes(("XYZ",))
    euler = np.zeros((5, 1, 3))
    euler[:, 0, 2] = np.linspace(0.0, 3.5 * np.pi, 5)
    result = bake_pose_rotations(obj, ["bone.00"], [1, 2, 3, 4, 5], euler)
    z = rotation_curves(bpy.data.actions[result.action_name], obj, "bone.00", "rotation_euler")[2]
    assert np.allclose(curve_values(z)[:, 1], euler[:, 0, 2], atol=1e-6)


def test_bake_honours_subframes(factory):
    obj = chain_with_modes(("QUATERNION", "YZX"))
    frames = np.array([1.0, 1.5, 2.25, 4.0])
    euler = wild_motion(4, 2, seed=3) * 0.2
    bake_pose_rotations(obj, ["bone.00", "bone.01"], frames, euler)
    assert verify_bake(obj, ["bone.00", "bone.01"], frames, euler) < 1e-3


def test_quaternion_keys_have_no_sign_flips_and_eulers_no_jumps(factory):
    obj = chain_with_modes(("QUATERNION", "ZXY", "AXIS_ANGLE"))
    names = [pb.name for pb in obj.pose.bones]
    euler = np.zeros((200, 3, 3))
    euler[:, :, 0] = np.linspace(0.0, 5 * np.pi, 200)[:, None]  # two and a half turns about X
    euler[:, :, 1] = 0.3 * np.sin(np.linspace(0, 6, 200))[:, None]
    result = bake_pose_rotations(obj, names, np.arange(200), euler)
    action = bpy.data.actions[result.action_name]

    q = np.stack([curve_values(c)[:, 1] for c in rotation_curves(action, obj, names[0], "rotation_quaternion")], -1)
    assert np.all(np.sum(q[1:] * q[:-1], axis=1) > 0.0)
    e = np.stack([curve_values(c)[:, 1] for c in rotation_curves(action, obj, names[1], "rotation_euler")], -1)
    assert np.abs(np.diff(e, axis=0)).max() < 0.5
    aa = np.stack([curve_values(c)[:, 1] for c in rotation_curves(action, obj, names[2], "rotation_axis_angle")], -1)
    assert np.abs(np.diff(aa, axis=0)).max() < 0.5
    assert verify_bake(obj, names, np.arange(200), euler) < math.degrees(1e-4)


# --- the user's work -----------------------------------------------------------------------


def test_bake_never_overwrites_existing_action(factory):
    obj = chain_with_modes(("QUATERNION", "XYZ"))
    user = keyed_user_action(obj)
    before = snapshot(user, obj)
    euler = wild_motion(30, 2)

    first = bake_pose_rotations(obj, ["bone.00", "bone.01"], np.arange(1, 31), euler, action_name="AnimatorWork")
    second = bake_pose_rotations(obj, ["bone.00", "bone.01"], np.arange(1, 31), euler * 0.5, action_name="AnimatorWork")

    assert first.action_name not in ("AnimatorWork",) and second.action_name not in (first.action_name, "AnimatorWork")
    assert first.previous_action == "AnimatorWork" and second.previous_action == first.action_name
    user = bpy.data.actions["AnimatorWork"]
    assert user.use_fake_user and snapshot(user, obj) == before
    first_action = bpy.data.actions[first.action_name]
    assert first_action.use_fake_user  # the earlier bake survives being replaced too
    assert obj.animation_data.action.name == second.action_name
    assert verify_bake(obj, ["bone.00", "bone.01"], np.arange(1, 31), euler * 0.5) < 1e-3
    assert first_action["rig_dojo_bake"]["previous_action"] == "AnimatorWork"


def test_replace_action_replaces_only_the_baked_rotation_curves(factory):
    obj = chain_with_modes(("QUATERNION", "XYZ"))
    user = keyed_user_action(obj)  # bone.00 now keyed in XYZ, with location keys
    obj.pose.bones[0].rotation_mode = 'QUATERNION'
    location_before = {k: v for k, v in snapshot(user, obj).items() if k[0].endswith("location")}
    euler = wild_motion(12, 1)

    result = bake_pose_rotations(obj, ["bone.00"], np.arange(1, 13), euler, replace_action="AnimatorWork")

    assert result.action_name == "AnimatorWork" and obj.animation_data.action == user
    after = snapshot(user, obj)
    assert {k: v for k, v in after.items() if k[0].endswith("location")} == location_before
    assert not any(k[0].endswith("rotation_euler") for k in after)  # the old rotation keys were replaced
    assert sum(k[0].endswith("rotation_quaternion") for k in after) == 4
    assert verify_bake(obj, ["bone.00"], np.arange(1, 13), euler) < 1e-3


def test_replacing_another_objects_action_leaves_that_object_animated_as_before(factory):
    leg = chain_with_modes(("QUATERNION", "XYZ"), name="Leg")
    leg_action = keyed_user_action(leg)
    before = snapshot(leg_action, leg)
    arm = chain_with_modes(("QUATERNION", "XYZ"), name="Arm")
    euler = wild_motion(10, 2)

    if not anim.has_slots(leg_action):  # 4.2: Actions are shared as a whole, so replacing would change the leg
        with pytest.raises(RigDojoError, match="also animates Leg"):
            bake_pose_rotations(arm, ["bone.00", "bone.01"], np.arange(1, 11), euler, replace_action="AnimatorWork")
        assert snapshot(leg_action, leg) == before
        return
    bake_pose_rotations(arm, ["bone.00", "bone.01"], np.arange(1, 11), euler, replace_action="AnimatorWork")

    assert arm.animation_data.action == leg_action and leg.animation_data.action == leg_action
    assert snapshot(leg_action, leg) == before
    assert arm.animation_data.action_slot != leg.animation_data.action_slot  # 4.4+: each object its own slot
    assert verify_bake(arm, ["bone.00", "bone.01"], np.arange(1, 11), euler) < 1e-3


def test_bake_records_provenance_on_the_action(factory):
    obj = chain_with_modes(("QUATERNION",))
    provenance = {"run_folder": "/shots/sh010/runs/reach-3", "policy_hash": "ab12cd", "seed": 7,
                  "config": {"algorithm": "PPO", "learning_rate": 3e-4, "net": [64, 64], "unset": None}}
    result = bake_pose_rotations(obj, ["bone.00"], [1, 2], np.zeros((2, 1, 3)), provenance=provenance)
    source = bpy.data.actions[result.action_name][PROVENANCE_KEY].to_dict()
    assert source["run_folder"] == "/shots/sh010/runs/reach-3" and source["policy_hash"] == "ab12cd"
    assert source["seed"] == 7 and source["config"]["algorithm"] == "PPO"
    assert list(source["config"]["net"]) == [64, 64] and "unset" not in source["config"]


def test_one_undo_step_reverts_a_bake(factory):
    obj = chain_with_modes(("QUATERNION", "XYZ"))
    keyed_user_action(obj)
    bpy.ops.ed.undo_push(message="set up")  # background mode starts with the undo system off
    result = bake_pose_rotations(obj, ["bone.00", "bone.01"], np.arange(1, 11), wild_motion(10, 2), undo_push=True)
    assert result.action_name in bpy.data.actions

    assert bpy.ops.ed.undo() == {'FINISHED'}

    obj = bpy.data.objects["Arm"]  # undo reloads the data: old Python references are gone
    assert result.action_name not in bpy.data.actions
    assert obj.animation_data.action.name == "AnimatorWork"
    assert not bpy.data.actions["AnimatorWork"].use_fake_user


# --- reduction -----------------------------------------------------------------------------


def test_reduction_keeps_fewer_keys_and_stays_within_tolerance(factory):
    obj = chain_with_modes()
    names = [pb.name for pb in obj.pose.bones]
    frames = np.arange(1, 241)  # 10 s at 24 fps
    euler = wild_motion(240, len(names), seed=5) * 0.3
    result = bake_pose_rotations(obj, names, frames, euler, reduce_degrees=0.2)

    assert result.reduction_ratio < 0.5
    assert result.max_reduction_error_degrees <= 0.2
    action = bpy.data.actions[result.action_name]
    assert sum(len(c.keyframe_points) for c in anim.iter_fcurves(action, obj)) == result.keys_written
    assert verify_bake(obj, names, frames, euler) <= 0.2 + 1e-3  # keys are float32 in Blender


def test_reduce_curve_keeps_only_the_corners_of_a_polyline():
    frames = np.arange(21, dtype=float)
    values = np.interp(frames, [0, 5, 12, 20], [0.0, 1.0, -2.0, 4.0])
    assert keyreduce.reduce_curve(frames, values, 1e-9).tolist() == [0, 5, 12, 20]
    assert keyreduce.reduce_channels(frames, np.stack([values, 2 * frames], -1), 1e-9)[1].tolist() == [0, 20]


def recursive_rdp(frames, values, tolerance, lo=0, hi=None):
    """The textbook recursion, to check the vectorised one against."""
    hi = len(frames) - 1 if hi is None else hi
    if hi - lo < 2:
        return {lo, hi}
    t = (frames[lo + 1 : hi] - frames[lo]) / (frames[hi] - frames[lo])
    err = np.abs(values[lo] + t * (values[hi] - values[lo]) - values[lo + 1 : hi])
    mid = lo + 1 + int(np.argmax(err))
    if err.max() <= tolerance:
        return {lo, hi}
    return recursive_rdp(frames, values, tolerance, lo, mid) | recursive_rdp(frames, values, tolerance, mid, hi)


def test_vectorised_reduction_equals_recursive_rdp_and_batching_changes_nothing():
    rng = np.random.default_rng(4)
    frames = np.cumsum(rng.uniform(0.5, 2.0, 300))
    values = np.cumsum(rng.normal(0, 0.1, 300))
    assert keyreduce.reduce_curve(frames, values, 0.05).tolist() == sorted(recursive_rdp(frames, values, 0.05))
    euler = wild_motion(300, 4, seed=9)
    modes = ["QUATERNION", "ZXY", "QUATERNION", "AXIS_ANGLE"]
    channels = [keyreduce.quaternion_to_channels(keyreduce.euler_to_quaternion(euler[:, b]), m) for b, m in enumerate(modes)]
    batched = keyreduce.reduce_rotations(frames, channels, modes, 0.3)
    for b, mode in enumerate(modes):
        assert batched[b].tolist() == keyreduce.reduce_rotation(frames, channels[b], mode, 0.3).tolist()


def test_quaternion_tolerance_is_the_rotation_angle_not_a_component_bound():
    frames = np.arange(101, dtype=float)
    angle = np.radians(40.0) * np.sin(np.linspace(0, np.pi, 101))
    q = np.stack([np.cos(angle / 2), np.sin(angle / 2), 0 * angle, 0 * angle], -1)
    for tol in (1.0, 0.1, 0.01):
        kept = keyreduce.reduce_rotation(frames, q, "QUATERNION", tol)
        err = keyreduce.interpolated_rotation_error(frames, q, kept, "QUATERNION")
        assert 2 < len(kept) < 101 and err.max() <= tol


def test_rotation_conversions_agree_with_mathutils():
    rng = np.random.default_rng(1)
    euler = rng.uniform(-3.0, 3.0, (50, 3))
    for order in keyreduce.EULER_ORDERS:
        q = keyreduce.euler_to_quaternion(euler, order)
        for e, qq in zip(euler[:10], q[:10]):
            assert abs(abs(float(np.dot(qq, Euler(e, order).to_quaternion()))) - 1.0) < 1e-6
        back = keyreduce.quaternion_to_euler(q, order, continuous=False)
        assert keyreduce.rotation_angle(keyreduce.euler_to_quaternion(back, order), q).max() < 1e-9
    aa = keyreduce.quaternion_to_axis_angle(q)
    assert keyreduce.rotation_angle(keyreduce.axis_angle_to_quaternion(aa), q).max() < 1e-9


# --- verification --------------------------------------------------------------------------


def fk_tails(obj, euler: np.ndarray) -> np.ndarray:
    """World tail of every bone (F, B, 3) by forward kinematics from rest matrices (no depsgraph)."""
    bones = obj.data.bones
    out = np.empty((len(euler), len(bones), 3))
    for f, row in enumerate(euler):
        pose: dict[str, Matrix] = {}
        for b, bone in enumerate(bones):
            basis = Euler(row[b], 'XYZ').to_matrix().to_4x4()
            if bone.parent is None:
                m = bone.matrix_local @ basis
            else:
                m = pose[bone.parent.name] @ (bone.parent.matrix_local.inverted() @ bone.matrix_local) @ basis
            pose[bone.name] = m
            out[f, b] = obj.matrix_world @ (m @ Vector((0.0, bone.length, 0.0)))
    return out


def test_verify_bake_reports_tracked_position_error(factory):
    obj = chain_with_modes(("QUATERNION", "ZYX", "AXIS_ANGLE"))
    names = [pb.name for pb in obj.pose.bones]
    frames = np.arange(1, 16)
    euler = wild_motion(15, 3, seed=2) * 0.4
    bake_pose_rotations(obj, names, frames, euler)
    tails = fk_tails(obj, euler)

    exact = verify_bake(obj, names, frames, euler, tracked=(names, tails))
    assert isinstance(exact, BakeVerification) and exact.position_error < 1e-5

    shifted = verify_bake(obj, names, frames, euler, tracked={"bone.02": tails[:, 2] + [0.0, 0.0, 0.01]})
    assert shifted.position_error == pytest.approx(0.01, abs=1e-5)
    assert bpy.context.scene.frame_current == 1  # the scene's frame is restored


def test_verify_bake_finds_a_bake_that_differs_from_the_input(factory):
    obj = chain_with_modes(("QUATERNION",))
    euler = np.zeros((3, 1, 3))
    bake_pose_rotations(obj, ["bone.00"], [1, 2, 3], euler)
    euler[1, 0, 1] = math.radians(2.0)
    error = verify_bake(obj, ["bone.00"], [1, 2, 3], euler)
    assert error == pytest.approx(2.0, abs=1e-3) and error.worst_frame == 2.0 and error.worst_bone == "bone.00"


# --- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda a: {**a, "bone_names": ["bone.00", "no_such_bone"]}, ["no_such_bone", "not in armature", "Pick"]),
        (lambda a: {**a, "bone_names": ["bone.00", "bone.00"]}, ["twice"]),
        (lambda a: {**a, "euler_xyz": np.where(np.arange(2)[None, :, None] == 1, np.nan, a["euler_xyz"])}, ["NaN", "bone.01"]),
        (lambda a: {**a, "frames": a["frames"][:-1]}, ["one row of rotations per frame"]),
        (lambda a: {**a, "frames": [], "euler_xyz": np.zeros((0, 2, 3))}, ["No frames", "at least one frame"]),
        (lambda a: {**a, "frames": a["frames"][::-1]}, ["increasing"]),
        (lambda a: {**a, "euler_xyz": a["euler_xyz"][:, :1]}, ["one rotation per bone"]),
        (lambda a: {**a, "euler_xyz": a["euler_xyz"][..., :2]}, ["shape (frames, bones, 3)"]),
        (lambda a: {**a, "obj": bpy.data.objects["Ball"]}, ["not an armature", "Select the rig"]),
        (lambda a: {**a, "obj": None}, ["armature object", "Select the rig"]),
        (lambda a: {**a, "replace_action": "Missing"}, ["no Action named 'Missing'"]),
        (lambda a: {**a, "reduce_degrees": -1.0}, ["positive number of degrees"]),
    ],
)
def test_bad_input_raises_rig_dojo_error_that_says_what_to_do(factory, change, words):
    obj = chain_with_modes(("QUATERNION", "XYZ"))
    ball = bpy.data.objects.new("Ball", bpy.data.meshes.new("Ball"))
    bpy.context.scene.collection.objects.link(ball)
    actions_before = set(bpy.data.actions.keys())
    good = {"obj": obj, "bone_names": ["bone.00", "bone.01"], "frames": np.arange(1, 6), "euler_xyz": np.zeros((5, 2, 3))}
    with pytest.raises(RigDojoError) as info:
        bake_pose_rotations(**change(good))
    for word in words:
        assert word in str(info.value)
    assert set(bpy.data.actions.keys()) == actions_before  # nothing half-written


# --- the shim ------------------------------------------------------------------------------


def test_anim_shim_gets_or_creates_one_fcurve_per_channel(factory):
    obj = chain_with_modes(("QUATERNION",))
    action = anim.new_action("Shim")
    anim.assign_action(obj, action)
    a = anim.ensure_fcurve(action, obj, 'pose.bones["bone.00"].rotation_quaternion', 2, group_name="bone.00")
    b = anim.ensure_fcurve(action, obj, 'pose.bones["bone.00"].rotation_quaternion', 2, group_name="bone.00")
    assert a == b and len(anim.iter_fcurves(action, obj)) == 1 and a.group.name == "bone.00"
    assert anim.write_keys(a, np.array([1.0, 5.0, 3.0]), np.array([0.1, 0.5, 0.3])) == 3
    assert curve_values(a)[:, 0].tolist() == [1.0, 3.0, 5.0]  # update() sorted them
    assert anim.write_keys(a, np.array([2.0]), np.array([0.2])) == 1  # rewrites, never appends
    if anim.has_slots(action):
        assert obj.animation_data.action_slot is not None
        assert obj.animation_data.action_slot.target_id_type == 'OBJECT'
