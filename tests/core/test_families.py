"""The family registry is the one place that knows a family: no branch on a family's or a task's name
anywhere else, every family complete, every task reachable from the registry."""

from __future__ import annotations

import ast
import dataclasses
import re
from pathlib import Path

import pytest

from rig_dojo.agents.config import SETTINGS_TABLES, TrainConfig
from rig_dojo.envs import families as registry
from rig_dojo.errors import RigDojoError

REPO_ROOT = Path(__file__).resolve().parents[2]
SKIP_DIRS = {"tests", "bench", "tools", ".git"}


def _names() -> set[str]:
    return set(registry.task_names()) | {f.name for f in registry.families()}


def _own_folders() -> set[Path]:
    """A family's own folders may name its own tasks."""
    return {REPO_ROOT / side / f.name for f in registry.families() for side in ("envs", "scene")}


def _sources() -> list[Path]:
    own = _own_folders()
    out = []
    for path in sorted(REPO_ROOT.rglob("*.py")):
        rel = path.relative_to(REPO_ROOT)
        if rel.parts[0] in SKIP_DIRS or rel.parts[0].startswith(".venv") or any(p in path.parents for p in own):
            continue
        if path == REPO_ROOT / "envs" / "families.py":
            continue
        out.append(path)
    return out


def branches_on_names(source: str, names: set[str]) -> list[int]:
    """Lines of ``source`` that compare something with a family or task name (==, !=, in, match/case)."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare):
            parts = [node.left, *node.comparators]
            consts = [c for p in parts for c in ([p] if not isinstance(p, (ast.Tuple, ast.List, ast.Set))
                                                 else p.elts)]
            if any(isinstance(c, ast.Constant) and c.value in names for c in consts):
                lines.append(node.lineno)
        if isinstance(node, ast.match_case) and isinstance(node.pattern, ast.MatchValue) \
                and isinstance(node.pattern.value, ast.Constant) and node.pattern.value.value in names:
            lines.append(node.pattern.lineno)
    return lines


def test_the_branch_finder_finds_branches():
    names = {"reach", "camera"}
    assert branches_on_names("if task == 'camera':\n    pass\n", names) == [1]
    assert branches_on_names("x = 1\nif task in ('reach', 'aim'):\n    pass\n", names) == [2]
    assert branches_on_names("ok = 'camera' != family\n", names) == [1]
    assert branches_on_names("match t:\n    case 'reach':\n        pass\n", names) == [2]
    assert branches_on_names("if family.name == other:\n    pass\nlabel = 'camera'\n", names) == []


def test_no_module_outside_the_registry_branches_on_a_family_or_task_name():
    names = _names()
    found = {str(p.relative_to(REPO_ROOT)): branches_on_names(p.read_text(), names) for p in _sources()}
    assert {k: v for k, v in found.items() if v} == {}


def test_every_task_belongs_to_exactly_one_family():
    seen: dict[str, str] = {}
    for family in registry.families():
        for task in family.task_names:
            assert task not in seen, f"{task} is in {seen[task]} and {family.name}"
            seen[task] = family.name
    assert set(seen) == set(registry.task_names())
    assert {"reach", "aim", "grasp", "camera", "stand", "locomotion", "jump", "obstacles"} <= set(seen)


def test_an_unknown_task_names_the_tasks():
    with pytest.raises(RigDojoError, match="choose one of reach, aim, grasp"):
        registry.family_of("walk")


@pytest.mark.parametrize("family", registry.families(), ids=lambda f: f.name)
def test_every_family_is_complete(family):
    hooks = family.hooks()
    for name in ("env_factory", "report", "report_line", "summary_fields", "load_spec"):
        assert callable(getattr(hooks, name)), name
    assert family.default_algorithm in family.algorithms
    for task in family.tasks:
        assert task.label and task.description and task.error_units
        terms = family.default_terms(task.name, None)
        assert terms, f"{task.name} has no default terms"
        config = TrainConfig(task=task.name)
        config.algo.name = family.default_algorithm
        config.validate()
    if family.settings:
        cls = SETTINGS_TABLES[family.settings]
        assert dataclasses.is_dataclass(cls) and hasattr(cls, "validate")
        assert hasattr(TrainConfig(), family.settings)
    if family.bake_options is not None:  # the Bake panel's properties and the bake flags are generated from it
        from rig_dojo.agents.schema import check_choices, ui_of

        assert dataclasses.is_dataclass(family.bake_options)
        assert all(ui_of(f) is not None for f in dataclasses.fields(family.bake_options))
        check_choices(family.bake_options(), "bake")  # its defaults are among its choices


@pytest.mark.parametrize("family", registry.families(), ids=lambda f: f.name)
def test_the_algorithms_a_family_brings_are_complete(family):
    from rig_dojo.agents.config import ALGORITHMS, SEARCH_ALGORITHMS, defaults_for
    from rig_dojo.agents.session import BackgroundRun, session_class

    for algo in family.algorithm_modules:
        assert algo in family.algorithms and algo in ALGORITHMS + SEARCH_ALGORITHMS, algo
        hooks = registry.algorithm_hooks(algo)
        assert issubclass(hooks.SESSION, BackgroundRun) and session_class(algo) is hooks.SESSION
        assert defaults_for(algo).name == algo  # tuned defaults in agents/config.py


def test_settings_tables_reject_their_own_bad_values():
    config = TrainConfig(task="camera")
    config.algo.name = "cem"
    config.camera.mode = "orbit"
    with pytest.raises(RigDojoError, match="camera.mode: 'orbit' is not one of free, dolly, pan"):
        config.validate()
    config = TrainConfig(task="stand")
    config.physics.density = 0.0
    with pytest.raises(RigDojoError, match="physics.density must be greater than 0"):
        config.validate()


def test_a_family_lists_only_the_algorithms_that_can_train_it():
    config = TrainConfig(task="reach")
    config.algo.name = "cem"
    with pytest.raises(RigDojoError, match="cem cannot train the reach task"):
        config.validate()


def test_the_toml_example_in_the_config_docstring_is_a_valid_config():
    from rig_dojo.agents import config as config_module

    doc = config_module.__doc__
    example = doc[doc.index("task = "):doc.index("``algo.name")]
    text = "\n".join(line.split("  #")[0].rstrip() for line in example.splitlines())
    parsed = TrainConfig.from_toml(re.sub(r"\n\s*\n", "\n\n", text))
    from rig_dojo.rewards import validate_params

    assert parsed.rewards
    for term in parsed.rewards:
        validate_params(term.name, term.params)  # a registered term with valid parameters


def test_every_core_module_imports_first_without_a_cycle():
    """Each bpy-free module imported first, with none of the package loaded (importing envs/physics/tracking.py
    before task.py was a circular import while task.py registered TrackTask at its bottom)."""
    import importlib
    import sys

    def unload_package() -> dict:
        """Take the package's modules out of sys.modules; returns them."""
        ours = {k: v for k, v in sys.modules.items() if k == "rig_dojo" or k.startswith("rig_dojo.")}
        for k in ours:
            del sys.modules[k]
        return ours

    failed = []
    for side in ("envs", "rewards", "agents"):
        for path in sorted((REPO_ROOT / side).rglob("*.py")):
            name = ".".join(("rig_dojo", *path.relative_to(REPO_ROOT).with_suffix("").parts))
            name = name.removesuffix(".__init__")
            loaded = unload_package()
            try:
                importlib.import_module(name)
            except ImportError as exc:
                failed.append(f"{name}: {exc}")
            finally:
                unload_package()  # the fresh copies go; the test session's own come back
                sys.modules.update(loaded)
    assert not failed, failed
