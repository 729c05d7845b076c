"""Pins on a physics task (``envs/physics/pins.py``): when a pin pays, what counts as hit, hard pins deciding
success, the time-aware observation, refusals of pins that do not fit, and pins kept in a spec file (no bpy)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from rig_dojo.envs.physics.family import pin_terms
from rig_dojo.envs.physics.mjcf import PhysicsSpec
from rig_dojo.envs.physics.pins import LOOKAHEAD, summarise
from rig_dojo.envs.physics.random_creatures import random_creature
from rig_dojo.envs.physics.task import make_physics_task
from rig_dojo.errors import RigDojoError


def _pinned(spec: PhysicsSpec, frames, bone: int, angle: float, hard=True, point=None) -> PhysicsSpec:
    """``spec`` with a pose pin at each of ``frames`` turning ``bone`` by ``angle`` about its first free axis
    (every other joint at its rest angle); ``point``: a world position for the root's head at the last one."""
    p, b = len(frames), spec.n_bones
    euler = np.zeros((p, b, 3))
    free = np.flatnonzero(~np.asarray(spec.lock[bone], dtype=bool))
    axis = int(free[0]) if len(free) else 0
    euler[:, bone, axis] = angle
    mask = np.zeros((p, b), dtype=bool)
    mask[:, bone] = True
    point_bone = np.full(p, -1)
    target = np.zeros((p, 3))
    if point is not None:
        point_bone[-1] = 0
        target[-1] = point
    return replace(spec, pin_frames=np.asarray(frames, dtype=np.float64), pin_euler=euler, pin_mask=mask,
                   pin_point_bone=point_bone, pin_point=target, pin_hard=np.full(p, hard),
                   pin_weight=np.ones(p), pin_labels=[f"frame {f}" for f in frames])


def _creature() -> tuple[PhysicsSpec, int]:
    spec = random_creature(np.random.default_rng(3), "quadruped")
    bone = next(i for i in range(1, spec.n_bones) if not np.asarray(spec.lock[i], dtype=bool).all())
    return spec, bone


def _unguided(task):
    task.pins.set_guide(False)  # zero actions hold the rest pose
    return task


def _hold(task, steps: int):
    obs = task.reset()
    rewards = []
    for _ in range(steps):
        reward, _, info = task._step(np.zeros((task.num_envs, task.n_joints)))
        rewards.append(reward)
        obs = task._observe()
    return obs, np.array(rewards), info


def test_a_pin_at_the_rest_pose_is_hit_and_one_far_from_it_is_missed_and_fails_the_episode():
    spec, bone = _creature()
    start = spec.frame_start
    near = make_physics_task(_pinned(spec, [start + 10], bone, 0.0), "stand", n_envs=2, seed=0, reset_noise=0.0)
    _, _, info = _hold(near, 12)
    assert near.pins.hit[:, 0].all() and info["success"].all()
    assert summarise([near.pins.measures(0)])["pin_hit_rate"] == 1.0
    far = _unguided(make_physics_task(_pinned(spec, [start + 10], bone, 0.6), "stand", n_envs=2, seed=0,
                                      reset_noise=0.0))
    _, _, info = _hold(far, 12)
    assert not far.pins.hit.any() and not info["success"].any()  # standing, but the hard pin was missed
    measured = summarise([far.pins.measures(0)])
    # the bone's own angle from its key (not spread over its hinges): ~0.6 rad, the rest pose held
    assert measured["pin_hit_rate"] == 0.0
    assert measured["mean_angle_error_degrees"] == pytest.approx(np.degrees(0.6), abs=3.0)
    soft = _unguided(make_physics_task(_pinned(spec, [start + 10], bone, 0.6, hard=False), "stand", n_envs=2,
                                       seed=0, reset_noise=0.0))
    _, _, info = _hold(soft, 12)
    assert info["success"].all()  # a soft pin is a reward only


def test_the_guide_plays_the_keys_in_betweens_so_zero_actions_reach_a_pose_pin():
    spec, bone = _creature()
    start = spec.frame_start
    task = make_physics_task(_pinned(spec, [start + 10, start + 20], bone, 0.6), "stand", n_envs=1, seed=0,
                             reset_noise=0.0)
    j = int(np.argmax(np.abs(task.pins.q_pin[0])))  # the pinned bone's hinge about the keyed axis
    # the servo target of the pinned hinge: straight from rest to the key at step 10, held after the last
    np.testing.assert_allclose(task.pins.guide[[0, 5, 10, 20, 30], j], [task.q_centre[j], 0.3, 0.6, 0.6, 0.6])
    _hold(task, 21)
    assert task.pins.hit[0].all()  # the keys played in physics, as the report's zero-actions row shows them


def test_the_pin_terms_pay_at_the_pin_s_frame_and_more_for_a_smaller_error():
    spec, bone = _creature()
    start = spec.frame_start
    paid = []
    for angle in (0.05, 0.6):
        pinned = _pinned(spec, [start + 5], bone, angle)
        terms = pin_terms(pinned, [], "stand")  # the pin terms alone
        assert [t.name for t in terms] == ["pin_pose", "pin_effector"]
        task = _unguided(make_physics_task(pinned, "stand", n_envs=1, seed=0, reset_noise=0.0, terms=terms))
        _, rewards, _ = _hold(task, 8)
        paid.append(rewards[:, 0])
    near, far = paid
    assert near[4] > far[4] + 1.0  # step 5 (the pin's frame) is the fifth reward
    assert abs(near[6]) < 1e-9 and abs(far[6]) < 1e-9  # after the only pin nothing more is paid


def test_the_observation_counts_down_to_the_next_pins():
    spec, bone = _creature()
    start = spec.frame_start
    task = make_physics_task(_pinned(spec, [start + 6, start + 12], bone, 0.3), "stand", n_envs=1, seed=0)
    plain = make_physics_task(spec, "stand", n_envs=1, seed=0)
    assert task.observation_space.shape[0] == plain.observation_space.shape[0] + 1 + LOOKAHEAD * (6 + task.n_joints)
    seen = []
    obs = task.reset()
    for _ in range(8):
        seen.append(obs[0, plain.observation_space.shape[0]:].copy())
        task._step(np.zeros((1, task.n_joints)))
        obs = task._observe()
    # slot 0: (has, seconds left, has a point, hinge errors..., point offset)
    assert seen[0][1] == 1.0 and np.isclose(seen[0][2], 6 / task.fps, atol=1e-6)
    assert np.isclose(seen[3][2], 3 / task.fps, atol=1e-6)
    assert np.isclose(seen[6][2], 6 / task.fps, atol=1e-6)  # past the first pin: the second, six steps on


def test_a_root_position_pin_measures_the_root_s_distance_in_creature_sizes():
    spec, bone = _creature()
    start = spec.frame_start
    task = make_physics_task(spec, "stand", n_envs=1, seed=0, reset_noise=0.0)
    root = task.rest_qpos[:3].copy()
    off = root + [0.5 * task.unit, 0.0, 0.0]
    pinned = make_physics_task(_pinned(spec, [start + 4], bone, 0.0, point=off), "stand", n_envs=1, seed=0,
                               reset_noise=0.0)
    _hold(pinned, 5)
    measured = summarise([pinned.pins.measures(0)])
    assert 0.4 < measured["mean_point_error_sizes"] < 0.6 and measured["pin_hit_rate"] == 0.0


def test_pins_that_do_not_fit_are_refused_in_one_line():
    spec, bone = _creature()
    start = spec.frame_start
    with pytest.raises(RigDojoError, match="outside the episode"):
        make_physics_task(_pinned(spec, [start + 10_000], bone, 0.1), "stand", n_envs=1, seed=0)
    bad = _pinned(spec, [start + 5], bone, 0.1)
    bad.pin_euler[0, bone, 0] = np.nan
    with pytest.raises(RigDojoError, match="not numbers"):
        make_physics_task(bad, "stand", n_envs=1, seed=0)
    with pytest.raises(RigDojoError, match="do not fit"):
        make_physics_task(replace(bad, pin_mask=np.zeros((1, 2), dtype=bool)), "stand", n_envs=1, seed=0)
    locked = next(i for i in range(1, spec.n_bones) if np.asarray(spec.lock[i], dtype=bool).any())
    axis = int(np.flatnonzero(np.asarray(spec.lock[locked], dtype=bool))[0])
    turned = _pinned(spec, [start + 5], locked, 0.0)
    turned.pin_euler[0, locked, axis] = 0.5  # about a locked axis: no hinge can take it
    with pytest.raises(RigDojoError, match=f"keys {spec.bone_names[locked]} 28.6° from any rotation the creature can"):
        make_physics_task(turned, "stand", n_envs=1, seed=0)
    with pytest.raises(RigDojoError, match="need pins"):
        from rig_dojo.rewards import TermConfig

        pin_terms(spec, [TermConfig("pin_pose", 1.0)], "stand")


def test_pins_are_kept_in_a_spec_file(tmp_path):
    spec, bone = _creature()
    pinned = _pinned(spec, [spec.frame_start + 5, spec.frame_start + 9], bone, 0.3, point=[0.1, 0.2, 0.3])
    back = PhysicsSpec.load(pinned.save(tmp_path / "creature.npz"))
    assert back.n_pins == 2 and back.pin_labels == pinned.pin_labels
    np.testing.assert_array_equal(back.pin_point_bone, [-1, 0])
    np.testing.assert_allclose(back.pin_euler, pinned.pin_euler)
    assert PhysicsSpec.load(spec.save(tmp_path / "plain.npz")).n_pins == 0
