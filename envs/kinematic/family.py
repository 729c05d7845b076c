"""The kinematic family's core hooks (``envs.families``): its environments, rollouts and spec files."""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import numpy as np

from ...errors import RigDojoError
from ...rewards import TermConfig
from ..families import terms_from_config
from .task import KinematicTask
from .task_spec import CurriculumStage, TaskSpec
from .tasks import make_task


def reference_terms(spec: TaskSpec, terms: list[TermConfig]) -> list[TermConfig]:
    """``terms`` with the pin and style terms a spec's pins and style clip need (added when missing, so pins
    always pay); RigDojoError for a pin or style term without pins or a clip to read."""
    from . import PIN_TERMS, STYLE_TERM

    names = {t.name for t in terms if t.enabled}
    wanted = ([*PIN_TERMS] if spec.pins is not None else []) + ([STYLE_TERM] if spec.style is not None else [])
    if spec.pins is None and names & {t.name for t in PIN_TERMS}:
        raise RigDojoError("the pin_pose and pin_effector terms need pins: set reference.pins (an Action with keyed "
                           "poses) or reference.effector_pins, or remove the terms")
    if spec.style is None and "style" in names:
        raise RigDojoError("the style term needs a style clip: set reference.style (an Action), or remove the term")
    return list(terms) + [t for t in wanted if t.name not in {x.name for x in terms}]


def configure(spec: TaskSpec, config) -> TaskSpec:
    """``spec`` with the settings a config overrides: terms, episode length, tolerance, curriculum."""
    curriculum = [CurriculumStage(s.region_scale, s.tolerance) for s in config.curriculum.stages] \
        if config.curriculum.enabled else []
    # an animated target, pins and a style clip follow the frame range (one step per frame)
    timed = spec.target.kind == "trajectory" or spec.pins is not None
    episode = spec.episode_steps if timed else int(config.rig.episode_length)
    terms = reference_terms(spec, terms_from_config(config))
    observation = "chain" if config.rig.observation == "chain" else spec.observation
    return dataclasses.replace(spec, terms=terms, episode_steps=episode, pin_guide=bool(config.reference.guide),
                               observation=observation,
                               discount=float(config.algo.gamma),
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
    task.fixed_start = True  # an animated rig plays from the rollout's first frame (the bake's start)
    task._reset_envs(np.arange(task.num_envs))
    names = getattr(task, "reported_tracked", task.spec.rig.tracked)  # the user's tracked bones, in their order
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
    """With pins or a style clip, their measures of one deterministic episode (``pinning.rollout_measures``);
    otherwise nothing (success and final error, from agents.evaluate, say it all)."""
    if spec.pins is None and spec.style is None:
        return {}
    from .pinning import rollout_measures

    task = make_task(configure(spec, config), n_envs=1, seed=0, discrete=bool(config.rig.discrete))
    angles, _ = rollout(policy, task, task.episode_steps)
    return rollout_measures(task, angles)


def report_line(report: dict) -> str:
    from ..reference.pins import format_measures

    parts = []
    if "pins" in report:
        parts.append(format_measures(report))
    if "style_distance" in report:
        parts.append(f"style distance to the clip {report['style_distance']:.3f} (holding still: "
                     f"{report['style_distance_still']:.3f})")
    return "; ".join(parts)


def summary_fields(report: dict) -> dict:
    return {}  # the report's own keys (pin_hit_rate, mean_angle_error_degrees, ...) go into summary.json


def load_spec(path) -> TaskSpec:
    return TaskSpec.load(path)
