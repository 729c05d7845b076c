"""Glue between ``TrainConfig`` (agents) and the tasks (envs): no bpy.

The scene is read once into a ``TaskSpec`` (``envs.task_extract.task_from_config``);
``env_factory(spec)`` then gives the ``make_env(config, n_envs, seed)`` that
``TrainingSession`` and ``evaluate`` call, on any worker.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

from ..rewards import TermConfig
from .kinematic_task import KinematicTask
from .task_spec import CurriculumStage, TaskSpec, default_terms
from .tasks import make_task


def terms_from_config(config) -> list[TermConfig]:
    """The config's reward terms, or the task's defaults when it lists none."""
    if not config.rewards:
        return default_terms(config.task)
    return [TermConfig(t.name, float(t.weight), bool(t.enabled), dict(t.params)) for t in config.rewards]


def configure(spec: TaskSpec, config) -> TaskSpec:
    """``spec`` with the settings a config overrides: terms, episode length, tolerance, curriculum."""
    curriculum = [CurriculumStage(s.region_scale, s.tolerance) for s in config.curriculum.stages] \
        if config.curriculum.enabled else []
    episode = spec.episode_steps if spec.target.kind == "trajectory" else int(config.rig.episode_length)
    return dataclasses.replace(spec, terms=terms_from_config(config), episode_steps=episode,
                               tolerance=float(config.rig.tolerance), curriculum=curriculum,
                               curriculum_threshold=float(config.curriculum.threshold))


def env_factory(spec: TaskSpec) -> Callable[..., KinematicTask]:
    """``make_env(config, n_envs, seed)`` over a spec read once from the scene."""
    def make_env(config, n_envs: int, seed: int) -> KinematicTask:
        return make_task(configure(spec, config), n_envs=n_envs, seed=seed, discrete=bool(config.rig.discrete))
    return make_env


def rollout(policy, task: KinematicTask, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """One deterministic episode of ``steps`` actions in environment 0 of ``task``, no auto-reset.

    Returns the control angles ``(steps + 1, n_controls, 3)`` (the first row is the
    start pose) and the tracked bones' world tail positions ``(steps + 1, n_tracked, 3)``.
    Past the task's episode length an animated target holds its last frame.
    """
    task._reset_envs(np.arange(task.num_envs))
    names = task.spec.rig.tracked
    angles, points = [], []
    for step in range(steps + 1):
        if step:
            actions, _ = policy.predict(task._observe(), deterministic=True)
            task._step(np.asarray(actions))
        angles.append(task.control_angles()[0].copy())
        points.append(np.stack([task.bone_point(n, "tail")[0] for n in names]))
    return np.array(angles), np.array(points)
