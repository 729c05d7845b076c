"""The kinematic twin equals Blender's own pose evaluation (issue: compile any armature into a twin)."""

from __future__ import annotations

import numpy as np
import pytest

import bpy

from rig_dojo.envs import kinematics as km
from rig_dojo.scene.builders import scenes
from rig_dojo.scene.kinematic.extract import extract_rig
from rig_dojo.envs.kinematic.rig_spec import RigSpec
from rig_dojo.envs.kinematic.twin import RigTwin
from rig_dojo.scene.kinematic.verify import POSITION_TOLERANCE, ROTATION_TOLERANCE, verify
from rig_dojo.errors import NotExactError, RigDojoError

import rigs


def assert_exact(report):
    assert report.exact, report.format()
    for bone in report.bones:
        assert bone.position <= POSITION_TOLERANCE and bone.rotation <= ROTATION_TOLERANCE


@pytest.mark.parametrize("mode", ["QUATERNION", "XYZ", "XZY", "YXZ", "YZX", "ZXY", "ZYX", "AXIS_ANGLE"])
def test_chain_in_every_rotation_mode_is_exact(factory, mode):
    arm = scenes.build_chain("Arm", (0.5, 0.4, 0.2), rotation_mode=mode)
    report = verify(arm, ["bone.00", "bone.01", "bone.02"], ["bone.01", "bone.02"], samples=24)
    assert_exact(report)


def test_rolls_offsets_unconnected_scaled_hinge_and_inherit_scale_modes_are_exact(factory):
    odd = rigs.build_odd_chain()
    # b1 and b3 are held bones with pose scale and offsets; every inherit-scale mode is on the path
    report = verify(odd, ["b0", "b2", "b4"], ["b2", "b3", "b4"], samples=32)
    assert_exact(report)
    spec = extract_rig(odd, ["b0", "b2", "b4"], ["b4"])
    assert set(spec.inherit_scale.tolist()) >= {0, 2, 3, 5}


def test_supported_constraints_with_partial_influence_are_exact(factory):
    arm = rigs.build_constraint_chain()
    report = verify(arm, ["upper", "lower", "tip"], ["follow", "mixer", "child"], samples=32)
    assert_exact(report)
    spec = extract_rig(arm, ["upper", "lower", "tip"], ["follow", "mixer", "child"])
    types = {c.type for stack in spec.constraints for c in stack}
    assert types == {"COPY_ROTATION", "COPY_LOCATION", "COPY_SCALE", "COPY_TRANSFORMS", "CHILD_OF"}


def test_the_twin_is_really_checked_a_wrong_spec_is_not_exact(factory):
    arm = scenes.build_chain("Arm", (0.5, 0.4, 0.2))
    spec = extract_rig(arm, ["bone.00", "bone.01"], ["bone.02"])
    spec.offs_bone[1][:3, 3] += [0.0, 0.01, 0.0]  # a 1 cm error in one offset
    angles = np.zeros((1, 2, 3))
    ours = RigTwin(spec).forward_euler(angles)[0, 0, :3, 3]
    good = RigTwin(extract_rig(arm, ["bone.00", "bone.01"], ["bone.02"])).forward_euler(angles)[0, 0, :3, 3]
    assert np.linalg.norm(ours - good) > 1e-3


def test_rigify_metarig_is_exact(dojo_registered, rigify_blend):
    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.ops.wm.open_mainfile(filepath=str(rigify_blend))
    meta = bpy.data.objects["metarig"]
    report = verify(meta, ["upper_arm.L", "forearm.L", "hand.L"], ["hand.L", "f_index.03.L"], samples=24)
    assert_exact(report)


def test_rigify_generated_fk_arm_is_exact(rigify_rig):
    report = verify(rigify_rig, scenes.RIGIFY_FK_ARM["controls"], ["DEF-hand.L", "DEF-forearm.L.001"][:1],
                    samples=32)
    assert_exact(report)
    assert any("constant" in note for note in report.notes)  # the IK/FK switch driver is read as a constant
    spec = extract_rig(rigify_rig, scenes.RIGIFY_FK_ARM["controls"], ["DEF-hand.L"])
    assert "ORG-hand.L" in spec.node_names and "DEF-hand.L" in spec.node_names


def test_ik_chain_is_compiled_and_exact(factory):
    arm = rigs.build_ik_chain()
    report = verify(arm, ["upper"], ["hand"], samples=16)
    assert_exact(report)
    assert report.ik_chains == ["lower / IK"]
    arm.pose.bones["upper"].use_ik_limit_x = True  # what the solver does not reproduce is refused with the reason
    with pytest.raises(NotExactError, match="upper / IK: IK limits on X are not compiled"):
        extract_rig(arm, ["upper"], ["hand"])


def test_rigify_arm_in_ik_mode_is_exact(rigify_rig):
    rigify_rig.pose.bones["upper_arm_parent.L"]["IK_FK"] = 0.0  # back to IK
    report = verify(rigify_rig, ["upper_arm_ik.L"], ["ORG-forearm.L"], samples=4)
    assert_exact(report)


def test_gltf_round_trip_rig_is_exact(factory, tmp_path):
    odd = rigs.build_odd_chain(rotation_modes=("XYZ",) * 5)
    imported = rigs.gltf_round_trip(odd, tmp_path)
    names = [b.name for b in imported.data.bones]
    assert len(names) == 5
    report = verify(imported, names[:3], [names[4]], samples=24)
    assert_exact(report)


def test_rig_spec_round_trips_through_a_file_without_blender(factory, tmp_path):
    arm = rigs.build_constraint_chain()
    spec = extract_rig(arm, ["upper", "lower", "tip"], ["follow", "child"])
    loaded = RigSpec.load(spec.save(tmp_path / "arm.rigspec.npz"))
    angles = np.random.default_rng(1).uniform(-1, 1, size=(16, 3, 3))
    np.testing.assert_allclose(RigTwin(loaded).forward_euler(angles), RigTwin(spec).forward_euler(angles))
    assert loaded.controls == spec.controls and loaded.constraints[0] == spec.constraints[0]


def test_a_broken_spec_file_is_a_clear_error(tmp_path):
    path = tmp_path / "bad.npz"
    path.write_bytes(b"not a zip")
    with pytest.raises(RigDojoError, match="not a Rig Dojo rig spec"):
        RigSpec.load(path)


def test_twin_is_batched_and_matches_single_evaluation(factory):
    arm = scenes.build_chain("Arm", (0.5, 0.4, 0.2))
    twin = RigTwin(extract_rig(arm, ["bone.00", "bone.01", "bone.02"], ["bone.02"]))
    angles = np.random.default_rng(0).uniform(-np.pi, np.pi, size=(64, 3, 3))
    batched = twin.forward_euler(angles)
    singles = np.concatenate([twin.forward_euler(angles[k:k + 1]) for k in range(64)])
    np.testing.assert_allclose(batched, singles, atol=1e-12)
    assert batched.shape == (64, 1, 4, 4)


def test_verify_restores_the_users_pose(factory):
    arm = scenes.build_chain("Arm", (0.5, 0.4, 0.2))
    arm.pose.bones["bone.01"].rotation_quaternion = (0.9, 0.1, 0.2, 0.3)
    before = [tuple(pb.rotation_quaternion) for pb in arm.pose.bones]
    verify(arm, ["bone.00", "bone.01"], ["bone.02"], samples=4)
    assert [tuple(pb.rotation_quaternion) for pb in arm.pose.bones] == before


@pytest.mark.parametrize("controls,tracked,message", [
    (["nope"], ["bone.02"], "no bone named 'nope'"),
    (["bone.00"], [], "no tracked bones"),
    (["bone.02"], ["bone.00"], "no control moves the tracked bone 'bone.00'"),
])
def test_bad_selections_are_clear_errors(factory, controls, tracked, message):
    arm = scenes.build_chain("Arm", (0.5, 0.4, 0.2))
    with pytest.raises(RigDojoError, match=message):
        extract_rig(arm, controls, tracked)


def test_non_armature_is_a_clear_error(factory):
    empty = scenes.add_empty("Target")
    with pytest.raises(RigDojoError, match="not an armature"):
        extract_rig(empty, ["a"], ["b"])
    with pytest.raises(RigDojoError, match="no object named 'Ghost'"):
        extract_rig("Ghost", ["a"], ["b"])


def test_limits_are_read_from_ik_limits_and_limit_rotation(factory):
    arm = scenes.build_chain("Arm", (0.5, 0.4, 0.2))
    pb = arm.pose.bones["bone.01"]
    pb.use_ik_limit_x, pb.ik_min_x, pb.ik_max_x = True, -0.5, 1.0
    con = arm.pose.bones["bone.00"].constraints.new('LIMIT_ROTATION')
    con.use_limit_z, con.min_z, con.max_z, con.owner_space = True, -0.25, 0.75, 'LOCAL'
    spec = extract_rig(arm, ["bone.00", "bone.01"], ["bone.02"])
    assert spec.has_limit.tolist() == [[False, False, True], [True, False, False]]
    assert spec.limit_low[1, 0] == pytest.approx(-0.5) and spec.limit_high[0, 2] == pytest.approx(0.75)
    con.min_z = 1.0  # min > max
    with pytest.raises(RigDojoError, match="min > max"):
        extract_rig(arm, ["bone.00", "bone.01"], ["bone.02"])


@pytest.mark.parametrize("order", km.EULER_ORDERS)
def test_euler_conversions_round_trip(order):
    angles = np.random.default_rng(3).uniform(-1.2, 1.2, size=(50, 3))
    m = km.euler_to_matrix(angles, order)
    np.testing.assert_allclose(km.euler_to_matrix(km.matrix_to_euler(m, order), order), m, atol=1e-10)
    np.testing.assert_allclose(km.euler_xyz_to_matrix(angles), km.euler_to_matrix(angles, "XYZ"), atol=1e-12)
    q = km.matrix_to_quaternion(m)
    np.testing.assert_allclose(km.quaternion_to_matrix(q), m, atol=1e-10)


def test_local_space_copy_rotation_and_stretch_to_are_exact(factory):
    arm = rigs.build_local_and_stretch_chain()
    tracked = ["stretch_SWING_Y", "stretch_PLANE_X", "stretch_PLANE_Z", "local_follow"]
    report = verify(arm, ["upper", "lower", "tip"], tracked, samples=32)
    assert_exact(report)
    spec = extract_rig(arm, ["upper", "lower", "tip"], tracked)
    kinds = {(c.type, c.owner_space) for stack in spec.constraints for c in stack}
    assert {("STRETCH_TO", "WORLD"), ("COPY_ROTATION", "LOCAL"), ("DAMPED_TRACK", "WORLD")} <= kinds


def test_rigify_arm_and_fingers_are_exact(rigify_rig):
    controls = scenes.RIGIFY_FK_ARM["controls"] + ["f_index.01.L", "f_index.02.L", "f_index.03.L",
                                                   "thumb.01.L", "thumb.02.L", "thumb.03.L"]
    report = verify(rigify_rig, controls, ["DEF-hand.L", "DEF-f_index.03.L", "DEF-thumb.03.L", "DEF-forearm.L"],
                    samples=16)
    assert_exact(report)
    # the finger drivers read the master bones' own channels, constant while the policy moves the fingers
    assert any("MCH-f_index.02_drv.L" in note for note in report.notes)


def test_drivers_reading_moving_bones_are_refused_and_constant_ones_accepted(factory):
    arm = rigs.build_constraint_chain()
    arm.pose.bones["upper"]["switch"] = 0.3
    rigs.add_driver(arm, "follow", "rotation_euler", 0, 'SINGLE_PROP', data_path='pose.bones["upper"]["switch"]')
    rigs.add_driver(arm, "mixer", "rotation_euler", 2, 'SINGLE_PROP', data_path='pose.bones["tip"].scale[0]')
    report = verify(arm, ["upper", "lower"], ["follow", "mixer"], samples=16)
    assert_exact(report)  # a custom property and a non-control's own channel are constants
    rigs.add_driver(arm, "mixer", "rotation_euler", 0, 'TRANSFORMS', target_bone="lower")
    with pytest.raises(NotExactError, match="mixer: a driver on rotation_euler reads lower"):
        extract_rig(arm, ["upper", "lower"], ["mixer"])
    rigs.add_driver(arm, "lower", "rotation_euler", 1, 'SINGLE_PROP', data_path='pose.bones["upper"]["switch"]')
    with pytest.raises(NotExactError, match="lower: a driver sets rotation_euler"):
        extract_rig(arm, ["upper", "lower"], ["tip"])
