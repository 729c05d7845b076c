"""Glue between ``TrainConfig`` (agents) and the tasks (envs): no bpy.

The scene is read once into a ``TaskSpec`` (``envs.task_extract.task_from_config``);
``env_factory(spec)`` then gives the ``make_env(config, n_envs, seed)`` that
``TrainingSession`` and ``evaluate`` call, on any worker.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

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
