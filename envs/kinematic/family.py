"""The kinematic family's core hooks (``envs.families``): its environments, rollouts and spec files."""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import numpy as np

from ..families import terms_from_config
from .task import KinematicTask
from .task_spec import CurriculumStage, TaskSpec
from .tasks import make_task


def configure(spec: TaskSpec, config) -> TaskSpec:
    """``spec`` with the settings a config overrides: terms, episode length, tolerance, curriculum."""
    curriculum = [CurriculumStage(s.region_scale, s.tolerance) for s in config.curriculum.stages] \
        if config.curriculum.enabled else []
    episode = spec.episode_steps if spec.target.kind == "trajectory" else int(config.rig.episode_length)
    return dataclasses.replace(spec, terms=terms_from_config(config), episode_steps=episode,
                               tolerance=float(config.rig.tolerance), curriculum=curriculum,
                               curriculum_threshold=float(config.curriculum.threshold),
                               location_range=float(config.rig.location_range))


def env_factory(spec: TaskSpec) -> Callable[..., Any]:
    """``make_env(config, n_envs, seed)`` over a task spec read once from the scene."""
    def make_env(config, n_envs: int, seed: int) -> KinematicTask:
        return make_task(configure(spec, config), n_envs=n_envs, seed=seed, discrete=bool(config.rig.discrete))
    return make_env


def rollout(policy, task: KinematicTask, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """One deterministic episode of ``steps`` actions in environment 0 of ``task``, no auto-reset.

    Returns the control angles ``(steps + 1, n_controls, 3)`` (the first row is the
    start pose) and the tracked bones' world tail positions ``(steps + 1, n_tracked, 3)``.
    Past the task's episode length an animated target holds its last frame.
    """
    angles, _, points = rollout_channels(policy, task, steps)
    return angles, points


def rollout_channels(policy, task: KinematicTask, steps: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`rollout` with the location controls' channels too: (angles, locations ``(steps + 1,
    n_locations, 3)``, tracked tail positions)."""
    task._reset_envs(np.arange(task.num_envs))
    names = task.spec.rig.tracked
    angles, locations, points = [], [], []
    for step in range(steps + 1):
        if step:
            actions, _ = policy.predict(task._observe(), deterministic=True)
            task._step(np.asarray(actions))
        angles.append(task.control_angles()[0].copy())
        locations.append(task.control_locations()[0].copy())
        points.append(np.stack([task.bone_point(n, "tail")[0] for n in names]))
    return np.array(angles), np.array(locations), np.array(points)


def report(policy, spec, config) -> dict:
    return {}  # success and final error (agents.evaluate) say it all


def report_line(report: dict) -> str:
    return ""


def summary_fields(report: dict) -> dict:
    return {}


def load_spec(path) -> TaskSpec:
    return TaskSpec.load(path)
