"""The task-family registry: the one place that knows which families exist and what each offers.

A family (kinematic, camera, physics, ...) is one :class:`Family` entry, defined in its own package's
``__init__.py`` (``envs/<family>/__init__.py``) and listed in :data:`FAMILY_PACKAGES`. Operators,
panels, the command line, the demo and the config ask this registry; nothing else branches on a
family's or a task's name (``tests/core/test_families.py`` greps for it).

An entry holds plain data (its tasks, their labels and error units, its settings table, the
algorithms that can train it, its default reward terms) and names two modules that implement its
hooks, imported only when used so that the add-on registers without torch, SB3 or MuJoCo:

- ``core`` (no bpy; ``envs/<family>/family.py``): ``env_factory(spec) -> make_env(config, n_envs,
  seed)``, ``report(policy, spec, config) -> dict`` (the family's own numbers for summary.json),
  ``report_line(report) -> str``, ``summary_fields(report) -> dict``, ``load_spec(path)``; optionally
  ``evaluate(policy, spec, config, episodes) -> agents.evaluate.Evaluation``, the family's own evaluation
  when its report already measures the policy (the camera: one deterministic move over the shot, so its
  success rate and final error are the report's numbers, and the command line and the sidebar show the
  report's words instead of "success over N episodes, final error"); without it, ``agents.evaluate.evaluate``;
- ``edge`` (bpy; ``scene/<family>/family.py``): ``spec_from_config(config, frames)``,
  ``bake(policy_path, options) -> report``, the live preview (``preview_object``, ``backup``,
  ``show_frame``), ``training_problem(settings)`` (why the sidebar cannot train yet), ``run_name``
  and the sidebar's ``draw_task`` / ``draw_advanced`` / ``draw_bake`` (optionally ``draw_report`` and
  ``evaluation_rows(evaluation, report)``, the Evaluate panel's rows), and optionally ``check_twin(config, spec,
  run_dir)``, the parity check every training runs first (``scene.families.spec_for_training``; DESIGN.md rule 8:
  ``NotExactError`` for a twin that is not exact). A family's own bake options
  (the rig's "Keys On") are a dataclass named by ``bake_options``; the edge's ``bake`` takes them as
  keyword arguments.

A family may also bring algorithms of its own (the camera's shot solver): ``algorithm_modules`` maps each
to a module (no bpy) with ``SESSION`` (its ``agents.background.BackgroundRun`` class), and optionally
``rebuild_policy(metadata, arrays, name)`` (what its policy files hold), ``validate_extra(algo)``,
``SUCCESS_LABEL`` and ``DONE_VERB`` (the progress line's and the closing line's words); see
:func:`algorithm_hooks`.

Adding a family is described in CONTRIBUTING.md.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Callable

from ..errors import RigDojoError

# The families, in the order the sidebar lists their tasks. A new family adds its package here.
FAMILY_PACKAGES = ("kinematic", "camera", "physics")

# the algorithms agents/ knows itself: our PPO, Stable-Baselines3's (sb3_ppo .. dqn) and the tabular learner
SB3_ALGORITHMS = ("ppo", "sb3_ppo", "a2c", "sac", "td3", "dqn", "qlearning")
CONTINUOUS_ALGORITHMS = ("ppo", "sb3_ppo", "a2c", "sac", "td3")
# the most frames one bake rolls out (the command line's --frames and the sidebar's range alike): a million took
# Blender's sidebar minutes of frozen UI, a policy step at a time
MAX_BAKE_FRAMES = 100_000


@dataclass(frozen=True)
class Task:
    """One task of a family: its name (TOML, command line), its label and help text (the sidebar),
    and what its evaluation's "final error" measures."""

    name: str
    label: str
    description: str
    error_units: str


@dataclass(frozen=True)
class Family:
    """A task family's registry entry (see the module docstring)."""

    name: str
    tasks: tuple[Task, ...]
    #: ``default_terms(task, config) -> list[TermConfig]``: the reward terms a task starts with (config may be None)
    default_terms: Callable[[str, Any], list]
    core: str  #: module (no bpy) with env_factory, report, report_line, summary_fields, load_spec
    edge: str  #: module (bpy) with spec_from_config, bake, preview, training_problem, run_name, draw_*
    settings: str | None = None  #: the TrainConfig table only this family reads ("camera", "physics"), if any
    algorithms: tuple[str, ...] = CONTINUOUS_ALGORITHMS
    default_algorithm: str = "ppo"
    discrete_actions: bool = False  #: whether rig.discrete (−Δ/0/+Δ actions) is offered
    uses_rig: bool = True  #: whether the family trains an armature (rig.rig); the camera does not
    bake_reduces_keys: bool = False  #: whether the bake can reduce keys / replace an Action (rig bakes)
    bake_is_seeded: bool = True  #: whether a bake's rollout depends on a seed (random targets, noise)
    #: a dataclass of the family's own bake options (``agents.schema.setting`` fields): the Bake panel's properties
    #: and the ``bake`` command's flags (``cli=True``) are generated from it; its edge's ``bake`` takes them by name
    bake_options: type | None = None
    joint_metrics: bool = False  #: whether evaluation's jerk and joint-limit numbers describe its actions
    needs: tuple[str, ...] = ("torch", "stable_baselines3")  #: importable modules training needs
    #: algorithms this family brings, by name: the module (no bpy) with their session and hooks (module docstring)
    algorithm_modules: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)

    @property
    def task_names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.tasks)

    def task(self, name: str) -> Task:
        return next(t for t in self.tasks if t.name == name)

    def hooks(self) -> ModuleType:
        """The core hooks module (imports the family's twins and tasks: numpy, gymnasium, SB3, MuJoCo)."""
        return importlib.import_module(self.core)

    def edge_hooks(self) -> ModuleType:
        """The bpy hooks module (extraction, bake, preview, sidebar drawing)."""
        return importlib.import_module(self.edge)


def _load() -> dict[str, Family]:
    families: dict[str, Family] = {}
    for package in FAMILY_PACKAGES:
        module = importlib.import_module(f"{__package__}.{package}")
        family: Family = module.FAMILY
        families[family.name] = family
    return families


_FAMILIES: dict[str, Family] | None = None


def families() -> tuple[Family, ...]:
    """Every registered family, in :data:`FAMILY_PACKAGES` order."""
    global _FAMILIES
    if _FAMILIES is None:
        _FAMILIES = _load()
    return tuple(_FAMILIES.values())


def tasks() -> tuple[Task, ...]:
    """Every task of every family, in the sidebar's order."""
    return tuple(t for f in families() for t in f.tasks)


def task_names() -> tuple[str, ...]:
    return tuple(t.name for t in tasks())


def family_of(task: str) -> Family:
    """The family that owns ``task``; RigDojoError listing the tasks for an unknown one."""
    for family in families():
        if task in family.task_names:
            return family
    raise RigDojoError(f"unknown task {task!r}; choose one of {', '.join(task_names())}")


def get_family(name: str) -> Family:
    for family in families():
        if family.name == name:
            return family
    raise RigDojoError(f"unknown task family {name!r}; the families are {', '.join(f.name for f in families())}")


def task_info(task: str) -> Task:
    return family_of(task).task(task)


def default_terms(task: str, config: Any = None) -> list:
    """The reward terms ``task`` starts with (``config``: the settings some families' defaults follow)."""
    return family_of(task).default_terms(task, config)


def all_algorithms() -> tuple[str, ...]:
    """Every algorithm some family can train with, SB3's and ours first."""
    names = list(SB3_ALGORITHMS)
    for family in families():
        names += [a for a in family.algorithms if a not in names]
    return tuple(names)


def algorithm_hooks(algo: str) -> ModuleType | None:
    """The hooks module of an algorithm a family brings (``Family.algorithm_modules``: the camera's ``solve``),
    or None for the shared ones (SB3's, qlearning, cem), which ``agents`` knows itself."""
    for family in families():
        module = family.algorithm_modules.get(algo)
        if module:
            return importlib.import_module(module)
    return None


def terms_from_config(config: Any) -> list:
    """The config's reward terms, or its task's defaults when it lists none."""
    from ..rewards import TermConfig

    if not config.rewards:
        return default_terms(config.task, config)
    return [TermConfig(t.name, float(t.weight), bool(t.enabled), dict(t.params)) for t in config.rewards]


def env_factory(spec: Any, config: Any) -> Callable[..., Any]:
    """``make_env(config, n_envs, seed)`` over a spec read once from the scene, for ``config.task``'s family."""
    return family_of(config.task).hooks().env_factory(spec)


def training_report(policy: Any, spec: Any, config: Any) -> dict:
    """The family's own numbers for summary.json and ``evaluate`` (the camera against its baselines, a
    creature against zero actions; nothing for the kinematic tasks)."""
    return family_of(config.task).hooks().report(policy, spec, config)


def evaluate_policy(policy: Any, spec: Any, config: Any, make_env: Callable[..., Any], episodes: int) -> Any:
    """The policy's ``agents.evaluate.Evaluation`` on ``config.task``: the family's own ``evaluate`` hook when
    it has one (the camera's one deterministic move), else ``episodes`` deterministic episodes of ``make_env``."""
    hooks = family_of(config.task).hooks()
    if hasattr(hooks, "evaluate"):
        return hooks.evaluate(policy, spec, config, episodes)
    from ..agents.evaluate import evaluate

    return evaluate(policy, make_env, config, episodes=episodes)


def evaluation_in_report(task: str) -> bool:
    """Whether ``task``'s family evaluates through its report (an ``evaluate`` hook): then its report line says
    what "success over N episodes, final error" would."""
    return hasattr(family_of(task).hooks(), "evaluate")


def report_line(task: str, report: dict) -> str:
    """``training_report``'s numbers in one line ("" when the family has none)."""
    return family_of(task).hooks().report_line(report) if report else ""
