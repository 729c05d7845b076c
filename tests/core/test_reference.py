"""Pins, the style measure, bone maps and the [reference] table: pure numpy, no Blender scene."""

from __future__ import annotations

import numpy as np
import pytest

from rig_dojo.agents.config import TrainConfig
from rig_dojo.envs.reference.bone_map import auto_map, base_name, resolve_map
from rig_dojo.envs.reference.clip import ReferenceClip
from rig_dojo.envs.reference.pins import EFFECTOR, POSE, PinSet, measure_pins, parse_effector_pin
from rig_dojo.envs.reference.style import StyleReference, energy_distance, window_features
from rig_dojo.errors import RigDojoError
from rig_dojo.rewards import REGISTRY, RewardState, validate_params


def term(name: str, state: RewardState, **params) -> np.ndarray:
    out = REGISTRY[name].fn(state, **validate_params(name, params))
    assert out.shape == (state.n_envs,) and out.dtype.kind == "f" and np.isfinite(out).all()
    return out


def pin_state(prefix: str, error=None, due=None, potential=None, potential_prev=None, discount=1.0) -> RewardState:
    """A state with ``n`` envs of pin fields (zeros where not given)."""
    given = [v for v in (error, due, potential, potential_prev) if v is not None]
    n = len(given[0])
    values = {"error": error, "due": due, "potential": potential, "potential_prev": potential_prev}
    return RewardState(n_envs=n, discount=discount, **{f"{prefix}_{k}": np.zeros(n) if v is None else np.asarray(v, float)
                                                       for k, v in values.items()})


# --- pin terms --------------------------------------------------------------------------


PIN_TERMS = [("pin_pose", "pin_pose"), ("pin_effector", "pin_effector")]


@pytest.mark.parametrize("name,prefix", PIN_TERMS)
def test_a_pin_pays_at_its_frame_more_the_closer_the_pose(name, prefix):
    out = term(name, pin_state(prefix, error=[0.0, 0.005, 0.02, 0.5, 1.0], due=[1, 1, 1, 1, 1]))
    assert out[0] == pytest.approx(1.0) and np.all(np.diff(out) < 0)
    assert out[-2] - out[-1] == pytest.approx(5.0, rel=1e-3)  # far off: still 10 per unit (a wide basin)
    assert term(name, pin_state(prefix, error=[0.0], due=[0.0]))[0] == 0.0  # no pin due: no hit


@pytest.mark.parametrize("name,prefix", PIN_TERMS)
def test_between_pins_closing_in_pays_and_moving_away_costs(name, prefix):
    state = pin_state(prefix, potential=[0.3, 0.5, 0.4], potential_prev=[0.4, 0.4, 0.4])
    closer, away, still = term(name, state, approach=2.0)
    assert closer == pytest.approx(0.2) and away == pytest.approx(-0.2) and still == 0.0


def test_a_pins_weight_scales_its_reward():
    light = term("pin_pose", pin_state("pin_pose", error=[0.01], due=[0.5]))
    heavy = term("pin_pose", pin_state("pin_pose", error=[0.01], due=[2.0]))
    assert heavy[0] == pytest.approx(4 * light[0])


@pytest.mark.parametrize("gamma", [1.0, 0.98])
def test_the_discounted_return_depends_only_on_the_error_left_at_the_pin(gamma):
    # potential-based shaping with the trainer's discount: no path and no timing between pins is preferred
    rng = np.random.default_rng(0)
    totals = []
    for _ in range(3):  # three wiggly paths from error 0.8 at the previous pin to 0.05 at this one
        errors = np.concatenate([[0.8], rng.uniform(0.1, 1.2, 20), [0.05]])
        potentials = np.append(errors[:-1], 0.0)  # headed for the pin until its frame, nothing after
        steps = []
        for t in range(1, len(errors)):
            due = t == len(errors) - 1
            state = pin_state("pin_pose", error=[errors[t] if due else 0.0], due=[1.0 if due else 0.0],
                              potential=[potentials[t]], potential_prev=[potentials[t - 1]], discount=gamma)
            steps.append(term("pin_pose", state)[0])
        totals.append(sum(gamma ** t * r for t, r in enumerate(steps)))
    # the start's potential, then at the pin's frame the kernel and the cost of what is left, discounted
    want = 10.0 * 0.8 + gamma ** 20 * (np.exp(-0.05 / 0.02) - 10.0 * 0.05)
    np.testing.assert_allclose(totals, want, atol=1e-9)


# --- style --------------------------------------------------------------------------------


def bell(frames: int, amplitude=(0.8, -0.5, 0.3), start: int = 0, total: int | None = None) -> np.ndarray:
    """Joint angles of a reach with a bell-shaped speed (smoothstep), from frame ``start`` over ``frames``."""
    total = total or frames
    t = np.clip((np.arange(total) - start) / (frames - 1), 0.0, 1.0)
    s = t * t * (3 - 2 * t)
    return s[:, None] * np.asarray(amplitude)[None]


def episode_style_return(q: np.ndarray, reference: np.ndarray, scale: np.ndarray, gamma: float = 1.0) -> float:
    """Step a motion through the style term as a task does; the discounted return."""
    from rig_dojo.rewards.pin_terms import style_step_cost

    horizon = len(q) - 2
    windows = window_features(q) / scale
    history = np.zeros((1, horizon, windows.shape[1]))
    mask = np.zeros((1, horizon))
    cost = np.zeros(1)
    total = 0.0
    for t, x in enumerate(windows):
        state = RewardState(n_envs=1, discount=gamma, style_features=x[None], style_reference=reference,
                            style_history=history.copy(), style_history_mask=mask.copy(), style_cost_before=cost.copy())
        total += gamma ** t * term("style", state)[0]
        cost += style_step_cost(x[None], reference, history, mask)
        history[0, t], mask[0, t] = x, 1.0
    return total


def test_the_style_term_prefers_the_references_timing_over_constant_speed_or_jitter():
    angles = np.zeros((30, 3, 3))
    angles[:, :, 0] = bell(30)  # three bones turning about X, with a bell-shaped speed
    clip = StyleReference("reach", ["a", "b", "c"], angles)
    joints = [("a", 0), ("b", 0), ("c", 0)]
    reference, scale = clip.windows(joints)
    same_timing_later = bell(30, start=10, total=40)  # the same reach, started later in a longer episode
    constant = np.linspace(0, 1, 40)[:, None] * np.array([0.8, -0.5, 0.3])[None]
    jitter = constant + 0.02 * np.sign(np.sin(np.arange(40) * 2.0))[:, None]
    for gamma in (1.0, 0.98):
        scores = [episode_style_return(q, reference, scale, gamma) for q in (same_timing_later, constant, jitter)]
        assert scores[0] > scores[1] > scores[2]
        # the discounted return is minus (episode length) times the distance, discounted once at the end
        for q, score in zip((same_timing_later, constant, jitter), scores):
            horizon = len(q) - 2
            distance = energy_distance(window_features(q) / scale, reference)
            assert score == pytest.approx(-gamma ** horizon * horizon * distance, rel=1e-9, abs=1e-9)


def test_energy_distance_is_zero_for_the_same_sample_and_grows_with_a_shift():
    y = np.random.default_rng(1).normal(size=(200, 4))
    assert energy_distance(y, y) == pytest.approx(0.0, abs=1e-12)
    assert 0 < energy_distance(y + 0.2, y) < energy_distance(y + 1.0, y)


def test_a_style_clip_needs_three_frames():
    clip = StyleReference("short", ["a"], np.zeros((2, 1, 3)))
    with pytest.raises(RigDojoError, match="needs at least 3"):
        clip.windows([("a", 0)])


def test_a_reference_shorter_than_one_control_step_is_refused():
    clip = ReferenceClip("Pose", np.array([10.0]), 24.0, ["a"], np.tile([1.0, 0, 0, 0], (1, 1, 1)), np.zeros((1, 1, 3)))
    with pytest.raises(RigDojoError, match="shorter than one control step"):
        clip.check_length(1.0)
    ReferenceClip("Two", np.array([10.0, 11.0]), 24.0, ["a"], np.tile([1.0, 0, 0, 0], (2, 1, 1)),
                  np.zeros((2, 1, 3))).check_length(1.0)


# --- bone maps ----------------------------------------------------------------------------


RIGIFY = ["root", "upper_arm_fk.L", "forearm_fk.L", "hand_fk.L", "upper_arm_ik.L", "ORG-upper_arm.L",
          "DEF-upper_arm.L", "DEF-upper_arm.L.001", "DEF-forearm.L", "upper_arm_tweak.L", "MCH-forearm_ik.L"]


def test_rigify_names_are_stripped_to_the_metarig_name():
    assert {base_name(n) for n in ("upper_arm_fk.L", "DEF-upper_arm.L", "ORG-upper_arm.L", "upper_arm.L",
                                   "upper_arm_ik.L")} == {"upper_arm.l"}
    assert base_name("DEF-upper_arm.L.001") == "upper_arm.l.001"


def test_identical_names_map_first_then_rigify_layers_preferring_the_controls():
    mapping = auto_map(["upper_arm.L", "forearm.L", "DEF-forearm.L", "hand.L", "spine"], RIGIFY)
    assert mapping["DEF-forearm.L"] == "DEF-forearm.L"  # identical names win
    assert mapping["upper_arm.L"] == "upper_arm_fk.L"  # the FK control before ORG- and DEF-
    assert mapping["forearm.L"] == "forearm_fk.L"
    assert mapping["hand.L"] == "hand_fk.L" and "spine" not in mapping
    preferred = auto_map(["upper_arm.L"], RIGIFY, prefer=["DEF-upper_arm.L"])
    assert preferred == {"upper_arm.L": "DEF-upper_arm.L"}


def test_an_explicit_map_overrides_and_names_bad_entries():
    mapping = resolve_map(["upper_arm.L", "hand.L"], RIGIFY, {"upper_arm.L": "ORG-upper_arm.L", "hand.L": ""})
    assert mapping == {"upper_arm.L": "ORG-upper_arm.L"}
    with pytest.raises(RigDojoError, match=r"bone_map\['hand.L'\]: the rig has no bone 'hand_fk.R'; closest: hand_fk.L"):
        resolve_map(["hand.L"], RIGIFY, {"hand.L": "hand_fk.R"})
    with pytest.raises(RigDojoError, match="the reference has no bone 'thumb.L'"):
        resolve_map(["hand.L"], RIGIFY, {"thumb.L": "hand_fk.L"})


# --- pins ---------------------------------------------------------------------------------


def two_pins() -> PinSet:
    q = np.array([np.cos(0.25), np.sin(0.25), 0.0, 0.0])  # 0.5 rad about X
    return PinSet(frame_start=1, frames=np.array([45, 30]), kinds=[EFFECTOR, POSE], pose_bones=["a", "b"],
                  rotations=np.array([[[1.0, 0, 0, 0]] * 2, [q, [1.0, 0, 0, 0]]]),
                  mask=np.array([[False, False], [True, False]]), point_bone=["hand", "hand"], point=["tail", "tail"],
                  position=np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), hard=np.array([True, False]),
                  weight=np.array([1.0, 2.0]), objects=["Cup", ""], metres_per_unit=1.0)


def test_pins_are_kept_in_frame_order_with_every_column():
    pins = two_pins()
    assert pins.frames.tolist() == [30, 45] and pins.kinds == [POSE, EFFECTOR] and pins.objects == ["", "Cup"]
    assert pins.steps.tolist() == [29, 44] and pins.weight.tolist() == [2.0, 1.0] and pins.hard.tolist() == [False, True]
    assert pins.rows()[0] == {"frame": 30, "kind": POSE, "bones": ["a"], "object": "", "weight": 2.0, "hard": False}
    again = PinSet.from_arrays(pins.to_arrays())
    assert again.rows() == pins.rows() and np.array_equal(again.position, pins.position)


def test_pins_outside_the_frame_range_are_refused():
    with pytest.raises(RigDojoError, match="pins at frame 45 are outside the frame range 1-31"):
        two_pins().validate(episode_steps=30)


def test_measures_count_hits_with_angle_and_position_tolerances():
    pins = two_pins()
    near = np.array([np.cos(0.25 + 0.01), np.sin(0.25 + 0.01), 0, 0])  # 0.02 rad = 1.15 deg off the pose
    rot = np.array([[near, [1.0, 0, 0, 0]], [[1.0, 0, 0, 0]] * 2])
    points = np.array([[0.0, 1.004, 0.0], [1.03, 0.0, 0.0]])  # pose pin point 0.4% off, effector pin 3% off
    m = measure_pins(pins, rot, points, unit=1.0)
    assert m["pins"][0]["max_angle_error_degrees"] == pytest.approx(np.degrees(0.02), rel=1e-6)
    assert m["pins"][0]["hit"] and not m["pins"][1]["hit"]  # the cup is 3% off: more than its 2%
    assert m["pin_hit_rate"] == 0.5 and m["hard_pin_hit_rate"] == 0.0
    assert m["pins"][1]["effector_error_cm"] == pytest.approx(3.0)


@pytest.mark.parametrize("text,parsed", [("Cup@45", ("", "Cup", 45)), ("DEF-hand.L:Cup.001@7", ("DEF-hand.L", "Cup.001", 7)),
                                         (" Cup @ 12 ", ("", "Cup", 12))])
def test_effector_pins_are_written_object_at_frame(text, parsed):
    assert parse_effector_pin(text) == parsed


def test_the_reference_table_names_its_bad_values():
    config = TrainConfig()
    config.reference.effector_pins = ["Cup at 45"]
    with pytest.raises(RigDojoError, match=r"reference.effector_pins\[0\]: 'Cup at 45' is not OBJECT@FRAME"):
        config.validate()
    config = TrainConfig()
    config.reference.pin_bones = ["hand"]
    with pytest.raises(RigDojoError, match="reference.pin_bones: set reference.pins"):
        config.validate()
    text = TrainConfig().to_toml()
    assert "[reference]" in text and TrainConfig.from_toml(text) == TrainConfig()


def test_with_pins_the_default_terms_are_the_pins_and_the_regularisers():
    from rig_dojo.envs.families import default_terms

    config = TrainConfig()
    assert "distance" in [t.name for t in default_terms("reach", config)]
    config.reference.pins = "Keys"
    names = [t.name for t in default_terms("reach", config)]
    assert names[:2] == ["pin_pose", "pin_effector"] and "distance" not in names and "joint_limits" in names
    config.reference.style = "Reach"
    assert "style" in [t.name for t in default_terms("aim", config)]


def test_every_pin_and_style_term_has_a_behaviour_test_here():
    source = open(__file__).read()
    ours = [name for name, t in REGISTRY.items() if t.fn.__module__.endswith("rewards.pin_terms")]
    assert sorted(ours) == ["pin_effector", "pin_pose", "style"]
    assert all(f'"{name}"' in source for name in ours)
