"""The kinematic family's IK solver, location controls and rig spec versions, without Blender.

Parity with Blender's own IK is tested against bpy in ``tests/blender/test_ik.py``; these check the
solver's own promises (it reaches, it runs Blender's iterations, a batch is every environment on its
own) and the files and settings that carry location controls.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from rig_dojo.agents.config import TrainConfig
from rig_dojo.envs import kinematics as km
from rig_dojo.envs import rotations
from rig_dojo.envs.kinematic import ik
from rig_dojo.envs.kinematic.location import check_bounds, location_box, missing_bounds
from rig_dojo.envs.kinematic.rig_spec import RigSpec
from rig_dojo.envs.kinematic.task_spec import TaskSpec
from rig_dojo.errors import RigDojoError

PREVIOUS = Path(__file__).resolve().parents[1] / "blender" / "data" / "previous_layout"
CHAIN = {"segments": [{"dof": [True, True, True]}, {"dof": [True, True, True]}], "iterations": 500}


def _pose(rotation: np.ndarray, head) -> np.ndarray:
    m = np.eye(4)
    m[:3, :3], m[:3, 3] = rotation, head
    return m


def _two_bones(n: int, bend: float = 0.4) -> list[np.ndarray]:
    """Two unit bones along +Y, the second bent about X (a straight chain is singular for any IK)."""
    upper = np.repeat(_pose(np.eye(3), (0.0, 0.0, 0.0))[None], n, 0)
    lower = np.repeat(_pose(km.euler_to_matrix(np.array([bend, 0.0, 0.0])), (0.0, 1.0, 0.0))[None], n, 0)
    return [upper, lower]


def _solve(targets: np.ndarray, chain: dict = CHAIN) -> list[np.ndarray]:
    goal = np.repeat(np.eye(4)[None], len(targets), 0)
    goal[:, :3, 3] = targets
    return ik.solve_chain(chain, _two_bones(len(targets)), None, np.ones(2), np.stack([np.eye(3)] * 2), goal, None)


def _tip(out: list[np.ndarray]) -> np.ndarray:
    return out[-1][:, :3, 3] + out[-1][:, :3, 1]


def test_the_solver_reaches_a_reachable_target_after_at_least_blenders_12_iterations():
    targets = np.array([[0.5, 1.2, 0.3], [0.2, 0.9, -0.4]])
    ik.STATS = []
    try:
        out = _solve(targets)
        iterations = list(ik.STATS)
    finally:
        ik.STATS = None
    miss = np.linalg.norm(_tip(out) - targets, axis=1)
    assert np.all(miss < 1e-3)  # Blender's solver stops on a tolerance: near, not exact
    assert min(iterations) >= 12
    for m in out:  # rigid bones: the solve turns them, it does not scale them
        np.testing.assert_allclose(km.axis_lengths(m), 1.0, atol=1e-6)
    np.testing.assert_allclose(out[0][:, :3, 3], 0.0, atol=1e-12)  # the root stays where it is


def test_an_out_of_reach_target_straightens_the_chain_towards_it():
    target = np.array([[3.0, 1.0, 0.0]])
    tip = _tip(_solve(target))[0]
    np.testing.assert_allclose(tip, 2.0 * target[0] / np.linalg.norm(target[0]), atol=2e-3)


def test_a_batch_is_every_environment_solved_on_its_own():
    """Each environment iterates until its own convergence: the batch equals the solves one by one."""
    targets = np.array([[0.5, 1.2, 0.3], [0.2, 0.9, -0.4], [3.0, 1.0, 0.0]])
    batch = _solve(targets)
    for k in range(len(targets)):
        alone = _solve(targets[k:k + 1])
        for a, b in zip(alone, batch):
            np.testing.assert_array_equal(a[0], b[k])


def test_blenders_euler_decomposition_round_trips_and_stays_compatible():
    rng = np.random.default_rng(3)
    for order in rotations.EULER_ORDERS:
        e = rng.uniform(-1.2, 1.2, size=(64, 3))
        m = rotations.euler_to_matrix(e, order) * rng.uniform(0.5, 2.0, size=(64, 1, 3))  # scaled axes
        back = rotations.matrix_to_euler_blender(m, order)
        np.testing.assert_allclose(rotations.euler_to_matrix(back, order),
                                   rotations.euler_to_matrix(e, order), atol=1e-9)
        turned = rotations.matrix_to_compatible_euler(m, e + 2 * np.pi, order)  # near a whole turn away
        np.testing.assert_allclose(turned, e + 2 * np.pi, atol=1e-9)


# ---- rig specs: version 1 (no location controls) and version 2 ------------------------------------------


def _location_rig() -> RigSpec:
    """The previous layout's reach rig, with its hand as a location control (version 2)."""
    rig = TaskSpec.load(PREVIOUS / "reach_task.npz").rig
    return dataclasses.replace(
        rig, controls=["upper_arm", "forearm"], control_lock=rig.control_lock[:2], limit_low=rig.limit_low[:2],
        limit_high=rig.limit_high[:2], has_limit=rig.has_limit[:2], control_rest_euler=rig.control_rest_euler[:2],
        control_modes=rig.control_modes[:2], location_controls=["hand"], location_lock=np.array([[False, True, False]]),
        location_low=np.array([[-0.1, 0.0, -np.inf]]), location_high=np.array([[0.2, 0.0, np.inf]]),
        has_location_limit=np.array([[True, False, False]]), control_rest_location=np.zeros((1, 3)),
        connected=np.zeros(len(rig.node_names), dtype=bool))


def test_a_version_1_rig_spec_loads_with_no_location_controls_and_saves_as_version_2(tmp_path):
    spec = TaskSpec.load(PREVIOUS / "reach_task.npz")  # written before location controls existed
    rig = spec.rig
    assert rig.location_controls == [] and rig.ik_chains == [] and rig.location_lock.shape == (0, 3)
    again = TaskSpec.load(spec.save(tmp_path / "again.npz")).rig
    assert again.node_names == rig.node_names and again.location_controls == []
    np.testing.assert_array_equal(again.basis, rig.basis)


def test_a_version_2_rig_spec_round_trips_its_location_controls(tmp_path):
    rig = _location_rig()
    back = RigSpec.load(rig.save(tmp_path / "rig.npz"))
    assert back.location_controls == ["hand"]
    for name in ("location_lock", "location_low", "location_high", "has_location_limit", "control_rest_location",
                 "connected"):
        np.testing.assert_array_equal(getattr(back, name), getattr(rig, name))


def test_an_unknown_rig_spec_version_says_to_extract_again():
    arrays = _location_rig().to_arrays()
    arrays["meta"] = np.array(str(arrays["meta"]).replace('"version": 2', '"version": 9'))
    with pytest.raises(RigDojoError, match="rig spec version 9 is not 2; extract it again"):
        RigSpec.from_arrays(arrays)


# ---- location controls: bounds in one line ------------------------------------------------------------


def test_a_location_axis_without_bounds_is_one_line_naming_bone_and_axes():
    rig = _location_rig()
    assert missing_bounds(rig, 0.0) == ["hand (Z)"]  # X is limited, Y locked
    with pytest.raises(RigDojoError) as info:
        check_bounds(rig, 0.0)
    message = str(info.value)
    assert "\n" not in message and "hand (Z)" in message and "no bounds" in message and "--location-range" in message
    check_bounds(rig, 0.25)  # a range bounds every axis


def test_the_location_box_is_the_limit_where_there_is_one_and_the_range_elsewhere():
    rig = _location_rig()
    units = np.array([2.0])  # channel units per chain length
    low, high = location_box(rig, 0.25, units)
    np.testing.assert_allclose(low, [[-0.1, 0.0, -0.5]])
    np.testing.assert_allclose(high, [[0.2, 0.0, 0.5]])


def test_location_settings_are_config_keys_that_round_trip_and_are_checked():
    config = TrainConfig()
    config.rig.location_controls, config.rig.location_range = ["hand_ik.L", "upper_arm_ik_target.L"], 0.5
    back = TrainConfig.from_toml(config.to_toml())
    assert back.rig.location_controls == ["hand_ik.L", "upper_arm_ik_target.L"] and back.rig.location_range == 0.5
    config.rig.location_range = -1.0
    with pytest.raises(RigDojoError, match="rig.location_range must be 0 or more chain lengths"):
        config.validate()
