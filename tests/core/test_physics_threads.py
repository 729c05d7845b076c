"""The physics twin steps its environments on several threads (MuJoCo releases the interpreter's lock while
it steps): the same states as on one thread, and the thread count decided in one place (agents/threads.py)."""

from __future__ import annotations

import os
import threading

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


def test_a_thread_that_leaves_a_core_runs_with_the_threads_it_starts_on_the_others(monkeypatch):
    """What the sidebar's training process does first (agents/worker.py): one core left to Blender's UI; the
    threads it starts later inherit the rest; the twin's thread count follows the cores left, torch's stays the
    machine's (the same numbers as the command line)."""
    monkeypatch.delenv(threads.PHYSICS_ENV_VAR, raising=False)
    monkeypatch.delenv(threads.ENV_VAR, raising=False)
    monkeypatch.setattr(threads, "_cores_before_leaving", None)
    cores = sorted(os.sched_getaffinity(0))
    torch_before = threads.training_threads()
    seen = {}

    def leaver():
        seen["left"] = threads.leave_one_core()
        seen["physics"] = threads.physics_threads()
        seen["torch"] = threads.training_threads()
        child = threading.Thread(target=lambda: seen.update(child=sorted(os.sched_getaffinity(0))))
        child.start()
        child.join()
        seen["own"] = sorted(os.sched_getaffinity(0))

    thread = threading.Thread(target=leaver)
    thread.start()
    thread.join()
    rest = cores[1:] or cores  # a one-core machine keeps its core
    assert seen["own"] == seen["child"] == rest
    assert seen["left"] == len(rest) and seen["physics"] == min(len(rest), threads.MAX_PHYSICS_THREADS)
    assert seen["torch"] == torch_before == threads.training_threads(len(cores))  # the command line's count
    assert sorted(os.sched_getaffinity(0)) == cores  # the calling thread only: this one keeps every core


def test_after_leaving_a_core_torch_counts_the_machine_and_the_twin_the_cores_left(monkeypatch):
    monkeypatch.delenv(threads.PHYSICS_ENV_VAR, raising=False)
    monkeypatch.delenv(threads.ENV_VAR, raising=False)
    monkeypatch.setattr(threads, "available_cores", lambda: 4)  # a 5-core machine, one core left to Blender
    monkeypatch.setattr(threads, "_cores_before_leaving", 5)
    assert (threads.training_threads(), threads.physics_threads()) == (2, 4)  # 4 cores alone would give torch 1
    monkeypatch.setattr(threads, "_cores_before_leaving", None)
    assert threads.training_threads() == 1
