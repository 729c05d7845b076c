"""The physics twin steps its environments on several threads (MuJoCo releases the interpreter's lock while
it steps): the same states as on one thread, and the thread count decided in one place (agents/threads.py)."""

from __future__ import annotations

import numpy as np

from rig_dojo.agents import threads
from rig_dojo.envs.physics.random_creatures import random_creature
from rig_dojo.envs.physics.twin import PhysicsTwin


def _rollout(spec, n_envs: int, n_threads: int) -> tuple[np.ndarray, ...]:
    twin = PhysicsTwin(spec, n_envs=n_envs, threads=n_threads)
    rng = np.random.default_rng(0)
    for _ in range(12):
        twin.step(twin.q + rng.normal(0.0, 0.3, size=twin.q.shape))
    return twin.threads, twin.qpos.copy(), twin.qvel.copy(), twin.xpos.copy(), twin.com_vel.copy()


def test_threads_step_every_environment_to_the_same_state_as_one_thread():
    spec = random_creature(np.random.default_rng(5), "quadruped")
    one, *single = _rollout(spec, 64, 1)
    four, *split = _rollout(spec, 64, 4)
    assert (one, four) == (1, 4)
    for a, b in zip(single, split):
        assert np.array_equal(a, b)
    assert np.abs(single[0][:, 7:] - single[0][0, 7:]).max() > 1e-3  # the environments did differ


def test_few_environments_stay_on_one_thread():
    spec = random_creature(np.random.default_rng(5), "biped")
    assert PhysicsTwin(spec, n_envs=1, threads=8).threads == 1
    assert PhysicsTwin(spec, n_envs=40, threads=8).threads == 2  # at least 16 environments a thread


def test_the_physics_thread_count_is_every_core_up_to_the_cap_unless_overridden(monkeypatch):
    monkeypatch.delenv(threads.PHYSICS_ENV_VAR, raising=False)
    assert [threads.physics_threads(c) for c in (1, 2, 6, 64)] == [1, 2, 6, threads.MAX_PHYSICS_THREADS]
    monkeypatch.setenv(threads.PHYSICS_ENV_VAR, "3")
    assert threads.physics_threads(64) == 3
    monkeypatch.setenv(threads.PHYSICS_ENV_VAR, "many")  # not a number: the machine decides
    assert threads.physics_threads(2) == 2


def test_an_unstable_environment_is_found_and_leaves_no_log_file_in_the_working_folder(tmp_path, monkeypatch):
    from rig_dojo.envs.physics import twin as twin_module

    monkeypatch.chdir(tmp_path)
    spec = random_creature(np.random.default_rng(5), "biped")
    twin = PhysicsTwin(spec, n_envs=4, threads=2)
    twin.datas[1].qvel[:] = 1e30  # blown up, as a bad servo or a crafted file could
    twin.step(twin.q)
    assert twin.diverged().tolist() == [False, True, False, False]
    assert any("unstable" in w for w in twin_module.mujoco_warnings)
    assert not (tmp_path / "MUJOCO_LOG.TXT").exists()  # MuJoCo's own handler writes it there
