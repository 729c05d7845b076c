"""The jump task's success and its landing reward (envs/physics/task.py ``JumpTask``; no bpy).

An episode is judged at its end (``agents.evaluate``: the last step's ``success``), so a jump's success must last
from its landing for as long as the creature stays up; a landing is judged by the flight that led to it."""

from __future__ import annotations

import numpy as np

from rig_dojo.envs.physics.random_creatures import random_creature
from rig_dojo.envs.physics.task import make_physics_task


def _launch(task, env: int, sizes_per_second: float) -> None:
    task.twin.datas[env].qvel[2] = sizes_per_second * task.unit  # the root thrown straight up


def _hold_rest(task):
    return task.step_arrays(np.zeros((task.num_envs, task.n_joints), np.float32))


def test_a_landed_jump_succeeds_until_the_episode_ends_and_a_hop_does_not():
    task = make_physics_task(random_creature(np.random.default_rng(0), "quadruped"), "jump", n_envs=3, seed=0,
                             episode_seconds=3.0, jump_height=0.15, reset_noise=0.0)
    task.reset()
    _launch(task, 0, 2.0)  # rises about 0.2 sizes
    _launch(task, 1, 0.6)  # a hop: about 0.02 sizes
    success = []
    for _ in range(task.episode_steps):
        out = _hold_rest(task)
        success.append(out.info["success"].copy())
    success = np.array(success)
    assert len(out.done_idx) == 3  # the episodes ended on their time limit (nobody fell) ...
    assert success[-1].tolist() == [True, False, False]  # ... and only the jump is a success there
    first = int(np.argmax(success[:, 0]))
    assert 0 < first < task.episode_steps // 2 and success[first:, 0].all()  # from its landing on
    error = out.info["error"]
    assert error[0] == 0.0 and 0.1 < error[1] < 0.15 and error[2] == 0.15  # short of the jump height (sizes)


def test_a_landing_is_judged_by_its_own_flight_not_an_earlier_higher_one():
    task = make_physics_task(random_creature(np.random.default_rng(0), "quadruped"), "jump", n_envs=1, seed=0,
                             episode_seconds=6.0, reset_noise=0.0)
    task.reset()
    rest = task.rest_com_height

    def fly(speed: float) -> tuple[float, float]:
        """Throw the creature up; (the flight's peak rise, the landing_upright reward on touching down)."""
        _launch(task, 0, speed)
        for _ in range(task.episode_steps):
            _hold_rest(task)
            if task._state.landed[0]:
                landing = task._last_terms["landing_upright"][0]
                break
        for _ in range(int(task.fps)):  # settle for a second
            _hold_rest(task)
        return float(task._state.peak_height[0] - rest), float(landing)

    high, high_landing = fly(2.0)
    low, low_landing = fly(0.6)
    assert high > 0.15 and high_landing > 0.9  # upright after a jump over min_height (0.1 sizes)
    assert low < 0.05 and low_landing == 0.0  # the hop after it earns nothing
