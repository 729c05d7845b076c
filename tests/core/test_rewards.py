"""Reward terms, registry and composer: pure numpy, no Blender scene needed."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from rig_dojo.errors import RigDojoError
from rig_dojo.rewards import (
    REGISTRY, STATE_FIELDS, Param, RewardComposer, RewardState, TermConfig, reward_term, schema,
    validate_params,
)
from rig_dojo.rewards.registry import get_term


def term(name: str, state: RewardState, **params) -> np.ndarray:
    """Evaluate one registered term with its defaults filled in, checking the output contract."""
    out = REGISTRY[name].fn(state, **validate_params(name, params))
    assert out.shape == (state.n_envs,)
    assert out.dtype.kind == "f"
    assert np.isfinite(out).all()
    if REGISTRY[name].penalty:
        assert (out <= 0).all()
    return out


def rot_z(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def joint_history(*rows_per_env) -> dict[str, np.ndarray]:
    """Per env a list [q, q_prev, q_prev2, q_prev3] of 1-joint angles -> the state fields."""
    arr = np.array(rows_per_env, dtype=float)  # (n, 4)
    return {k: arr[:, i : i + 1] for i, k in enumerate(("q", "q_prev", "q_prev2", "q_prev3"))}


# --- every term moves the right way -----------------------------------------------------


def reach_state(distances) -> RewardState:
    d = np.asarray(distances, dtype=float)
    target = np.tile([0.3, -0.2, 0.5], (len(d), 1))
    direction = np.array([1.0, 2.0, -2.0]) / 3.0
    return RewardState(n_envs=len(d), effector_pos=target + d[:, None] * direction, target_pos=target)


@pytest.mark.parametrize("shape", ["linear", "exp"])
def test_distance_rewards_closer_effectors_more(shape):
    out = term("distance", reach_state([0.0, 0.05, 0.3, 1.0]), shape=shape, scale=0.2)
    assert np.all(np.diff(out) < 0)


def test_distance_linear_is_minus_distance_and_exp_is_its_kernel():
    state = reach_state([0.0, 0.1, 0.4])
    np.testing.assert_allclose(term("distance", state, shape="linear"), [0.0, -0.1, -0.4], atol=1e-12)
    np.testing.assert_allclose(term("distance", state, shape="exp", scale=0.2), np.exp(-np.array([0, 0.1, 0.4]) / 0.2))


def test_success_bonus_pays_only_within_tolerance():
    out = term("success_bonus", reach_state([0.0, 0.019, 0.021, 0.5]))
    np.testing.assert_array_equal(out, [1.0, 1.0, 0.0, 0.0])
    np.testing.assert_array_equal(term("success_bonus", reach_state([0.03]), tolerance=0.05), [1.0])


def test_time_penalty_costs_one_per_step_in_every_env():
    np.testing.assert_array_equal(term("time_penalty", RewardState(n_envs=3)), [-1.0, -1.0, -1.0])


def test_joint_velocity_penalises_faster_motion_more():
    state = RewardState(n_envs=3, dt=0.1, **joint_history([0, 0, 0, 0], [0.1, 0, 0, 0], [0.3, 0, 0, 0]))
    out = term("joint_velocity", state)
    np.testing.assert_allclose(out, [0.0, -1.0, -9.0])


def test_joint_acceleration_ignores_constant_speed_and_penalises_speeding_up():
    # env 0: constant velocity; env 1: speeding up; env 2: speeding up harder
    state = RewardState(n_envs=3, dt=0.1, **joint_history([0.3, 0.2, 0.1, 0.0], [0.3, 0.1, 0.0, 0.0],
                                                           [0.6, 0.1, 0.0, 0.0]))
    out = term("joint_acceleration", state)
    assert out[0] == pytest.approx(0.0, abs=1e-9)
    assert out[0] > out[1] > out[2]
    assert out[1] == pytest.approx(-((0.3 - 0.2) / 0.01) ** 2)


def test_joint_jerk_ignores_constant_acceleration_and_penalises_jerky_motion():
    # env 0: q = t^2 (constant acceleration); env 1: a sudden kick after rest
    state = RewardState(n_envs=2, dt=0.5, **joint_history([9.0, 4.0, 1.0, 0.0], [1.0, 0.0, 0.0, 0.0]))
    out = term("joint_jerk", state)
    assert out[0] == pytest.approx(0.0, abs=1e-9)
    assert out[1] == pytest.approx(-(1.0 / 0.125) ** 2)


def test_joint_limits_zero_inside_grows_near_and_more_past_the_limit():
    q = np.array([[0.0], [0.85], [0.95], [1.0], [1.3], [-1.3]])
    state = RewardState(n_envs=6, q=q, q_low=np.array([-1.0]), q_high=np.array([1.0]))
    out = term("joint_limits", state, margin=0.1)
    inside, within_margin, nearer, at_limit, past, past_low = out
    assert inside == 0.0 and within_margin == 0.0
    assert 0.0 > nearer > at_limit > past
    assert past_low == pytest.approx(past)
    assert at_limit == pytest.approx(-(0.1**2))


def test_joint_limits_leaves_free_joints_alone():
    state = RewardState(n_envs=1, q=np.array([[1e6, 0.5]]), q_low=np.array([-np.inf, 0.0]),
                        q_high=np.array([np.inf, 1.0]))
    assert term("joint_limits", state)[0] == 0.0


def test_effort_penalises_larger_actions():
    action = np.array([[0.0, 0.0], [0.5, 0.0], [1.0, -1.0]])
    np.testing.assert_allclose(term("effort", RewardState(n_envs=3, action=action)), [0.0, -0.25, -2.0])


def test_rest_pose_prefers_poses_near_rest():
    rest = np.array([0.2, -0.1])
    q = np.array([rest, rest + [0.1, 0.0], rest + [0.5, -0.5]])
    out = term("rest_pose", RewardState(n_envs=3, q=q, q_rest=rest))
    assert out[0] == 0.0 and out[0] > out[1] > out[2]


def test_orientation_aligned_axis_beats_perpendicular_beats_opposite():
    angles = [0.0, math.pi / 2, math.pi]
    effector = np.stack([rot_z(a) for a in angles])
    target = np.tile(np.eye(3), (3, 1, 1))
    out = term("orientation", RewardState(n_envs=3, effector_axes=effector, target_axes=target))
    np.testing.assert_allclose(out, [1.0, 0.0, -1.0], atol=1e-12)


def test_orientation_axis_choices_pick_and_flip_columns():
    # rotated 90 deg about Z: the effector's Y axis lies along the target's -X
    state = RewardState(n_envs=1, effector_axes=rot_z(math.pi / 2)[None], target_axes=np.eye(3)[None])
    assert term("orientation", state, effector_axis="Y", target_axis="-X")[0] == pytest.approx(1.0)
    assert term("orientation", state, effector_axis="Y", target_axis="X")[0] == pytest.approx(-1.0)
    assert term("orientation", state, effector_axis="Z", target_axis="Z")[0] == pytest.approx(1.0)


def test_look_at_rewards_aiming_at_the_target():
    n = 3
    direction = np.array([[0.0, 1.0, 0.0]] * n)
    target = np.array([[0.0, 5.0, 0.0], [3.0, 3.0, 0.0], [0.0, -2.0, 0.0]])
    out = term("look_at", RewardState(n_envs=n, look_axis_pos=np.zeros((n, 3)), look_axis_dir=direction,
                                      look_target=target))
    np.testing.assert_allclose(out, [1.0, math.sqrt(0.5), -1.0], atol=1e-12)


def test_look_at_measures_from_the_axis_origin_not_the_world_origin():
    state = RewardState(n_envs=1, look_axis_pos=np.array([[0.0, 10.0, 0.0]]),
                        look_axis_dir=np.array([[0.0, 1.0, 0.0]]), look_target=np.array([[0.0, 5.0, 0.0]]))
    assert term("look_at", state)[0] == pytest.approx(-1.0)


def test_grasp_contact_rewards_fingertips_on_their_contact_points():
    contacts = np.zeros((3, 4, 3))
    tips = contacts.copy()
    tips[1, 0] = [0.1, 0.0, 0.0]  # one finger 0.1 off
    tips[2] = [0.0, 0.0, 0.2]  # every finger 0.2 off
    out = term("grasp_contact", RewardState(n_envs=3, fingertip_pos=tips, contact_points=contacts))
    np.testing.assert_allclose(out, [0.0, -0.025, -0.2])


def test_palm_orientation_rewards_the_palm_facing_the_target_normal():
    facing = np.array([[0.0, 0.0, -1.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    palm = np.tile(np.eye(3), (3, 1, 1))
    out = term("palm_orientation", RewardState(n_envs=3, palm_axes=palm, palm_target_normal=facing))
    np.testing.assert_allclose(out, [1.0, 0.0, -1.0], atol=1e-12)  # default palm axis is -Z
    state = RewardState(n_envs=3, palm_axes=palm, palm_target_normal=facing)
    np.testing.assert_allclose(term("palm_orientation", state, palm_axis="X"), [0.0, 1.0, 0.0], atol=1e-12)


def tracked(*points) -> np.ndarray:
    return np.array(points, dtype=float)[:, None, :]  # (n, T=1, 3)


def test_keep_away_spheres_inside_worse_than_close_worse_than_clear():
    spheres = np.array([[0.0, 0.0, 0.0, 0.5], [5.0, 0.0, 0.0, 0.1]])
    pos = tracked([0.0, 0.0, 0.0], [0.3, 0.0, 0.0], [0.52, 0.0, 0.0], [2.0, 0.0, 0.0])
    out = term("keep_away", RewardState(n_envs=4, tracked_pos=pos, sphere_obstacles=spheres), clearance=0.05)
    centre, inside, near, clear = out
    assert centre < inside < near < clear == 0.0
    np.testing.assert_allclose(out, [-0.55, -0.25, -0.03, 0.0], atol=1e-12)


def test_keep_away_oriented_box_uses_signed_distance_in_the_box_frame():
    # a 2 x 0.2 x 0.2 slab rotated 90 deg about Z: it is long along world Y, thin along world X
    centers, half, rot = np.array([[1.0, 0.0, 0.0]]), np.array([[1.0, 0.1, 0.1]]), rot_z(math.pi / 2)[None]
    pos = tracked([1.0, 0.9, 0.0], [1.0, 0.0, 0.0], [1.13, 0.0, 0.0], [1.0, 1.03, 0.0], [1.5, 0.0, 0.0])
    state = RewardState(n_envs=5, tracked_pos=pos, box_centers=centers, box_half=half, box_rot=rot)
    out = term("keep_away", state, clearance=0.05)
    np.testing.assert_allclose(out, [-0.15, -0.15, -0.02, -0.02, 0.0], atol=1e-12)


def test_keep_away_box_rotation_maps_box_axes_to_world_columns():
    # long axis (local X) turned 30 deg about Z: a point along that direction is inside,
    # its mirror image at -30 deg is well outside
    a = math.radians(30)
    state = RewardState(
        n_envs=2, tracked_pos=tracked([0.9 * math.cos(a), 0.9 * math.sin(a), 0.0],
                                      [0.9 * math.cos(a), -0.9 * math.sin(a), 0.0]),
        box_centers=np.zeros((1, 3)), box_half=np.array([[1.0, 0.1, 0.1]]), box_rot=rot_z(a)[None],
    )
    out = term("keep_away", state, clearance=0.0)
    assert out[0] == pytest.approx(-0.1) and out[1] == 0.0


def test_keep_away_mesh_points_use_the_nearest_sampled_point():
    rng = np.random.default_rng(0)
    points = rng.normal(size=(300, 3))
    points = 0.4 * points / np.linalg.norm(points, axis=1, keepdims=True)  # samples on a sphere, r = 0.4
    pos = rng.uniform(-1.0, 1.0, size=(64, 5, 3))
    state = RewardState(n_envs=64, tracked_pos=pos, mesh_obstacle_points=points)
    out = term("keep_away", state, clearance=0.2)
    brute = np.linalg.norm(pos[:, :, None, :] - points[None, None], axis=3).min(axis=2)
    np.testing.assert_allclose(out, -np.maximum(0.0, 0.2 - brute).sum(axis=1), atol=1e-9)
    assert (out < 0).any() and (out == 0).any()


def test_keep_away_mesh_distance_is_the_same_when_computed_in_chunks(monkeypatch):
    import rig_dojo.rewards.terms as terms

    rng = np.random.default_rng(1)
    pos, points = rng.uniform(-1, 1, size=(37, 3, 3)), rng.uniform(-1, 1, size=(50, 3))
    state = RewardState(n_envs=37, tracked_pos=pos, mesh_obstacle_points=points)
    whole = term("keep_away", state, clearance=0.3)
    monkeypatch.setattr(terms, "_MESH_CHUNK_ELEMENTS", 200)  # forces many chunks
    np.testing.assert_allclose(term("keep_away", state, clearance=0.3), whole)


def test_keep_away_mesh_points_given_per_env_match_brute_force(monkeypatch):
    import rig_dojo.rewards.terms as terms

    rng = np.random.default_rng(4)
    pos, points = rng.uniform(-1, 1, size=(9, 4, 3)), rng.uniform(-1, 1, size=(9, 30, 3))
    state = RewardState(n_envs=9, tracked_pos=pos, mesh_obstacle_points=points)
    brute = np.linalg.norm(pos[:, :, None, :] - points[:, None], axis=3).min(axis=2)
    expected = -np.maximum(0.0, 0.4 - brute).sum(axis=1)
    np.testing.assert_allclose(term("keep_away", state, clearance=0.4), expected, atol=1e-9)
    monkeypatch.setattr(terms, "_MESH_CHUNK_ELEMENTS", 250)  # two envs per chunk
    np.testing.assert_allclose(term("keep_away", state, clearance=0.4), expected, atol=1e-9)


def test_keep_away_mesh_distance_stays_exact_far_from_the_world_origin():
    # float32 picks the nearest point; the distance itself must still be float64-exact
    offset = np.array([500.0, -300.0, 200.0])
    points = offset + np.array([[0.0, 0.0, 0.0], [0.001, 0.0, 0.0]])
    pos = (offset + np.array([0.0004, 0.0101, 0.0]))[None, None]
    state = RewardState(n_envs=1, tracked_pos=pos, mesh_obstacle_points=points)
    expected = 0.02 - math.hypot(0.0004, 0.0101)
    assert term("keep_away", state, clearance=0.02)[0] == pytest.approx(-expected, abs=1e-10)


def test_keep_away_sums_over_tracked_bones_and_takes_the_nearest_of_all_obstacle_kinds():
    pos = np.array([[[0.0, 0.0, 0.0], [3.0, 0.0, 0.0], [9.0, 9.0, 9.0]]])  # (1, 3, 3)
    state = RewardState(
        n_envs=1, tracked_pos=pos,
        sphere_obstacles=np.array([[0.0, 0.0, 0.0, 0.1]]),  # bone 0 is 0.1 inside it
        box_centers=np.array([[3.0, 0.0, 0.0]]), box_half=np.full((1, 3), 0.2), box_rot=np.eye(3)[None],
        mesh_obstacle_points=np.array([[0.0, 0.05, 0.0]]),  # nearer surface point, unsigned: ignored
    )
    assert term("keep_away", state, clearance=0.0)[0] == pytest.approx(-(0.1 + 0.2))


def test_keep_away_accepts_obstacles_given_per_env():
    pos = tracked([0.0, 0.0, 0.0], [0.0, 0.0, 0.0])
    spheres = np.array([[[0.0, 0.0, 0.0, 0.5]], [[3.0, 0.0, 0.0, 0.5]]])  # (n, M, 4)
    out = term("keep_away", RewardState(n_envs=2, tracked_pos=pos, sphere_obstacles=spheres), clearance=0.0)
    np.testing.assert_allclose(out, [-0.5, 0.0])


def test_keep_away_with_many_spheres_matches_brute_force():
    rng = np.random.default_rng(5)
    spheres = np.column_stack([rng.uniform(-1, 1, (40, 3)), rng.uniform(0.05, 0.2, 40)])
    pos = rng.uniform(-1, 1, size=(16, 3, 3))
    brute = (np.linalg.norm(pos[:, :, None] - spheres[:, :3], axis=3) - spheres[:, 3]).min(axis=2)
    state = RewardState(n_envs=16, tracked_pos=pos, sphere_obstacles=spheres)
    np.testing.assert_allclose(term("keep_away", state, clearance=0.1), -np.maximum(0, 0.1 - brute).sum(1))


def test_keep_away_without_any_obstacle_says_what_to_provide():
    state = RewardState(n_envs=1, tracked_pos=np.zeros((1, 1, 3)))
    with pytest.raises(RigDojoError, match="sphere_obstacles"):
        term("keep_away", state)


def test_keep_away_with_empty_obstacle_lists_costs_nothing():
    state = RewardState(n_envs=2, tracked_pos=np.zeros((2, 3, 3)), sphere_obstacles=np.zeros((0, 4)),
                        mesh_obstacle_points=np.zeros((0, 3)))
    np.testing.assert_array_equal(term("keep_away", state), [0.0, 0.0])


# The shared terms of rewards/terms.py; the camera and physics terms read their tasks' own state and are
# tested beside those tasks (tests/test_camera.py, tests/test_physics.py).
CORE = [name for name, term in REGISTRY.items() if term.fn.__module__.endswith("rewards.terms")]


def test_every_registered_term_has_a_behaviour_test_here():
    source = open(__file__).read()
    assert len(CORE) >= 14
    untested = [name for name in CORE if f'"{name}"' not in source.split("# --- registry")[0]]
    assert untested == []


# --- registry ---------------------------------------------------------------------------


def test_schema_is_json_and_covers_every_term_and_param():
    data = json.loads(json.dumps(schema()))
    assert [t["name"] for t in data] == list(REGISTRY)
    for entry in data:
        registered = REGISTRY[entry["name"]]
        assert entry["description"] and "\n" not in entry["description"]
        assert [p["name"] for p in entry["params"]] == [p.name for p in registered.params]
        assert set(entry["requires"]) <= set(STATE_FIELDS)
    distance = next(t for t in data if t["name"] == "distance")
    shape = next(p for p in distance["params"] if p["name"] == "shape")
    assert shape["choices"] == ["linear", "exp"] and shape["default"] == "linear"


def test_validate_params_fills_defaults_and_coerces_numbers():
    assert validate_params("distance", {}) == {"shape": "linear", "scale": 0.1}
    out = validate_params("distance", {"scale": 1})
    assert out["scale"] == 1.0 and isinstance(out["scale"], float)


@pytest.mark.parametrize(
    "name, params, words",
    [
        ("reach", {}, ["unknown reward term 'reach'", "distance", "keep_away"]),
        ("distance", {"sigma": 1.0}, ["'sigma'", "shape", "scale"]),
        ("distance", {"scale": "big"}, ["'scale'", "number"]),
        ("distance", {"scale": True}, ["'scale'", "number"]),
        ("distance", {"scale": float("nan")}, ["'scale'", "finite"]),
        ("distance", {"scale": -1.0}, ["'scale'", "range"]),
        ("distance", {"shape": "cubic"}, ["'shape'", "linear", "exp"]),
        ("success_bonus", {"tolerance": float("inf")}, ["'tolerance'", "finite"]),
        ("orientation", {"effector_axis": "W"}, ["'effector_axis'", "-Z"]),
    ],
)
def test_validate_params_rejects_bad_input_naming_the_problem(name, params, words):
    with pytest.raises(RigDojoError) as err:
        validate_params(name, params)
    for word in words:
        assert word in str(err.value)


def test_a_new_term_is_one_decorated_function():
    name = "test_only_height"
    try:
        @reward_term(name, "Height of the effector", requires=("effector_pos",),
                     params=[Param("gain", "float", 2.0, min=0.0, max=10.0)])
        def height(state, gain):
            return gain * state.effector_pos[:, 2]

        composer = RewardComposer([TermConfig(name, params={"gain": 3.0})])
        total, _ = composer(RewardState(n_envs=2, effector_pos=np.array([[0, 0, 1.0], [0, 0, 2.0]])))
        np.testing.assert_allclose(total, [3.0, 6.0])
        assert name in [t["name"] for t in schema()]
    finally:
        REGISTRY.pop(name, None)


def test_registering_a_term_whose_params_do_not_match_its_function_fails_at_import():
    with pytest.raises(ValueError, match="differ"):
        @reward_term("test_only_mismatch", "x", params=[Param("a", "float", 1.0)])
        def mismatch(state, b):
            return state
    with pytest.raises(ValueError, match="registered twice"):
        @reward_term("distance", "again")
        def again(state):
            return state
    assert "test_only_mismatch" not in REGISTRY
    assert REGISTRY["distance"].description != "again"


# --- composer ---------------------------------------------------------------------------


def composer_state(n=4) -> RewardState:
    rng = np.random.default_rng(2)
    q = rng.uniform(-0.5, 0.5, size=(n, 3))
    return RewardState(
        n_envs=n, effector_pos=rng.normal(size=(n, 3)), target_pos=rng.normal(size=(n, 3)),
        q=q, q_prev=q - 0.01, q_low=np.full(3, -1.0), q_high=np.full(3, 1.0), action=rng.uniform(-1, 1, (n, 3)),
    )


def test_composer_total_is_the_weighted_sum_of_terms():
    state = composer_state()
    composer = RewardComposer([
        TermConfig("distance", weight=2.0), TermConfig("effort", weight=0.5), TermConfig("time_penalty", weight=0.1),
    ])
    total, per_term = composer(state)
    d = -np.linalg.norm(state.effector_pos - state.target_pos, axis=1)
    e = -(state.action**2).sum(axis=1)
    np.testing.assert_allclose(per_term["distance"], 2.0 * d)
    np.testing.assert_allclose(per_term["effort"], 0.5 * e)
    np.testing.assert_allclose(per_term["time_penalty"], np.full(4, -0.1))
    np.testing.assert_allclose(total, 2.0 * d + 0.5 * e - 0.1)


def test_composer_skips_disabled_terms_and_keys_repeated_names_uniquely():
    state = composer_state()
    composer = RewardComposer([
        TermConfig("distance"),
        TermConfig("effort", enabled=False),
        TermConfig("distance", weight=3.0, params={"shape": "exp", "scale": 0.5}),
    ])
    total, per_term = composer(state)
    assert list(per_term) == ["distance", "distance#2"] == list(composer.keys)
    d = np.linalg.norm(state.effector_pos - state.target_pos, axis=1)
    np.testing.assert_allclose(per_term["distance#2"], 3.0 * np.exp(-d / 0.5))
    np.testing.assert_allclose(total, -d + 3.0 * np.exp(-d / 0.5))
    assert composer.required_fields() == {"effector_pos", "target_pos"}


def test_required_fields_is_the_union_over_enabled_terms():
    composer = RewardComposer([TermConfig("joint_limits"), TermConfig("look_at"), TermConfig("effort", enabled=False)])
    assert composer.required_fields() == {"q", "q_low", "q_high", "look_axis_pos", "look_axis_dir", "look_target"}


def test_running_means_show_which_term_dominates():
    composer = RewardComposer([TermConfig("time_penalty", weight=0.01), TermConfig("effort", weight=1.0)],
                              mean_horizon=50)
    n = 8
    loud = RewardState(n_envs=n, action=np.ones((n, 4)))  # effort -4 per env
    for _ in range(10):
        composer(loud)
    means = composer.means()
    assert composer.count == 10
    assert means["effort"] == pytest.approx(-4.0) and means["time_penalty"] == pytest.approx(-0.01)
    quiet = RewardState(n_envs=n, action=np.zeros((n, 4)))
    for _ in range(500):  # ten horizons: the EMA forgets the loud start
        composer(quiet)
    means = composer.means()
    assert abs(means["effort"]) < 1e-3 < abs(means["time_penalty"])
    composer.reset_means()
    assert composer.count == 0 and composer.means() == {"time_penalty": 0.0, "effort": 0.0}


def test_running_mean_is_the_plain_average_before_the_horizon_fills():
    composer = RewardComposer([TermConfig("effort")], mean_horizon=100)
    for a in (0.0, 1.0, 2.0):
        composer(RewardState(n_envs=2, action=np.full((2, 1), a)))
    assert composer.means()["effort"] == pytest.approx(-(0 + 1 + 4) / 3)


@pytest.mark.parametrize(
    "terms, words",
    [
        ([], ["no reward terms"]),
        ([TermConfig("distance", enabled=False)], ["disabled"]),
        ([TermConfig("distance", weight=float("nan"))], ["'distance'", "finite"]),
        ([TermConfig("distance", weight=float("inf"))], ["'distance'", "finite"]),
        ([TermConfig("effort"), TermConfig("effort", weight=-1.0)], ["'effort#2'", "negative"]),
        ([TermConfig("distance", weight="1")], ["'distance'", "number"]),
        ([TermConfig("reach")], ["unknown reward term 'reach'", "distance"]),
        ([TermConfig("distance", params={"sigma": 1})], ["'sigma'", "scale"]),
        ([TermConfig("success_bonus", params={"tolerance": 50.0})], ["'tolerance'", "range"]),
        ([TermConfig("distance", enabled=False, params={"scale": 0.0})], ["'scale'", "range"]),
    ],
)
def test_composer_rejects_bad_configuration_naming_the_problem(terms, words):
    with pytest.raises(RigDojoError) as err:
        RewardComposer(terms)
    for word in words:
        assert word in str(err.value)


def test_composer_names_a_missing_state_field_and_the_term_reading_it():
    composer = RewardComposer([TermConfig("distance"), TermConfig("rest_pose")])
    state = composer_state()
    with pytest.raises(RigDojoError) as err:
        composer(state)
    assert "q_rest" in str(err.value) and "rest_pose" in str(err.value)
    assert "effector_pos" not in str(err.value)


def test_composer_rejects_a_state_with_mismatched_shapes_on_first_call():
    state = composer_state()
    state.target_pos = state.target_pos[:2]
    with pytest.raises(RigDojoError, match="target_pos"):
        RewardComposer([TermConfig("distance")])(state)


def test_composer_refuses_nan_rewards_naming_the_term_and_keeps_means_clean():
    composer = RewardComposer([TermConfig("effort"), TermConfig("time_penalty")])
    good = RewardState(n_envs=2, action=np.zeros((2, 1)))
    composer(good)
    bad = RewardState(n_envs=2, action=np.array([[np.nan], [0.0]]))
    with pytest.raises(RigDojoError, match="effort"):
        composer(bad)
    assert composer.count == 1 and composer.means()["effort"] == 0.0


def test_composer_handles_every_term_at_scale():
    n, j = 4096, 7
    rng = np.random.default_rng(3)
    q = rng.uniform(-1, 1, (n, j))
    axes = np.tile(np.eye(3), (n, 1, 1))
    state = RewardState(
        n_envs=n, effector_pos=rng.normal(size=(n, 3)), effector_axes=axes, target_pos=rng.normal(size=(n, 3)),
        target_axes=axes, q=q, q_prev=q, q_prev2=q, q_prev3=q, q_rest=np.zeros(j), q_low=np.full(j, -1.0),
        q_high=np.full(j, 1.0), action=rng.uniform(-1, 1, (n, j)), step=np.zeros(n, dtype=int),
        tracked_pos=rng.normal(size=(n, 10, 3)), fingertip_pos=rng.normal(size=(n, 5, 3)),
        contact_points=rng.normal(size=(n, 5, 3)), palm_axes=axes, palm_target_normal=rng.normal(size=(n, 3)),
        look_axis_pos=np.zeros((n, 3)), look_axis_dir=axes[:, :, 1], look_target=rng.normal(size=(n, 3)),
        sphere_obstacles=np.array([[0, 0, 0, 0.5], [1, 1, 1, 0.2]]),
        box_centers=np.zeros((3, 3)), box_half=np.full((3, 3), 0.3), box_rot=np.tile(np.eye(3), (3, 1, 1)),
        mesh_obstacle_points=rng.normal(size=(400, 3)),
    )
    composer = RewardComposer([TermConfig(name) for name in CORE])
    assert composer.required_fields() <= {f for f in STATE_FIELDS if getattr(state, f) is not None}
    total, per_term = composer(state)
    assert total.shape == (n,) and np.isfinite(total).all()
    assert set(per_term) == set(CORE)
    np.testing.assert_allclose(total, sum(per_term.values()))


def test_get_term_lists_known_terms_for_a_typo():
    with pytest.raises(RigDojoError, match="known terms: .*distance"):
        get_term("distanc")
