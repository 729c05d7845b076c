"""TrainConfig: the one source of truth for a training's settings (DESIGN.md, rule 4).

The UI's property groups, the command line's TOML files and the tests all read and
write this dataclass. TOML layout (every table optional; missing keys keep defaults)::

    task = "reach"

    [rig]
    rig = "Armature"                 # rig object name
    controls = ["upper_arm", "forearm"]
    effector = "hand"
    tracked = []
    target = "Target"
    region = ""
    episode_length = 64
    discrete = false
    tolerance = 0.02                 # success tolerance, chain-length units

    [[rewards]]
    name = "reach"
    weight = 1.0
    enabled = true
    params = { sigma = 0.1 }

    [algo]
    name = "ppo"                     # ppo | a2c | sac | td3 | dqn | qlearning
    learning_rate = 0.0003
    lr_schedule = "constant"         # constant | linear | cosine
    gamma = 0.99
    n_envs = 16
    total_steps = 200000
    minutes = 0.0                    # > 0: stop after this much training time instead
    batch_size = 256
    n_steps = 128
    n_epochs = 10
    net_arch = [64, 64]
    seed = 0
    extra = {}                       # algorithm-specific keyword arguments

    [curriculum]
    enabled = false
    threshold = 0.8
    [[curriculum.stages]]
    region_scale = 0.25
    tolerance = 0.1

    [output]
    run_dir = ""
    checkpoint_every = 20000

Unknown or mistyped keys raise :class:`RigDojoError` naming the key with its table
path (``algo.lerning_rate``) and the allowed keys.
"""

from __future__ import annotations

import dataclasses
import math
import re
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import RigDojoError

ALGORITHMS = ("ppo", "a2c", "sac", "td3", "dqn", "qlearning")
CONTINUOUS_ONLY = frozenset({"sac", "td3"})
DISCRETE_ONLY = frozenset({"dqn", "qlearning"})
LR_SCHEDULES = ("constant", "linear", "cosine")


@dataclass
class RigSelection:
    """Which rig, which bones the policy moves, what it reaches for."""

    rig: str = ""
    controls: list[str] = field(default_factory=list)
    effector: str = ""
    tracked: list[str] = field(default_factory=list)
    target: str = ""
    region: str = ""
    episode_length: int = 64
    discrete: bool = False
    tolerance: float = 0.02


@dataclass
class RewardTermConfig:
    """One reward term: registry name, weight, on/off and the term's own parameters."""

    name: str = ""
    weight: float = 1.0
    enabled: bool = True
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class AlgoConfig:
    """Algorithm and hyperparameters. ``extra`` holds algorithm-specific keyword arguments."""

    name: str = "ppo"
    learning_rate: float = 3e-4
    lr_schedule: str = "constant"
    gamma: float = 0.99
    n_envs: int = 16
    total_steps: int = 200_000
    minutes: float = 0.0
    batch_size: int = 256
    n_steps: int = 128
    n_epochs: int = 10
    net_arch: list[int] = field(default_factory=lambda: [64, 64])
    seed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class CurriculumStage:
    """A curriculum stage: targets within ``region_scale`` of the region, success within ``tolerance``."""

    region_scale: float = 1.0
    tolerance: float = 0.02


@dataclass
class CurriculumConfig:
    enabled: bool = False
    threshold: float = 0.8
    stages: list[CurriculumStage] = field(default_factory=list)


@dataclass
class OutputConfig:
    run_dir: str = ""
    checkpoint_every: int = 20_000


# Tuned per algorithm on reach-style tasks (a 2-3 link chain reaching random targets,
# 16-64 step episodes). agents/README.md has the table and the reasons.
_DEFAULTS: dict[str, dict[str, Any]] = {
    "ppo": dict(learning_rate=3e-4, lr_schedule="linear", gamma=0.98, n_envs=16, total_steps=600_000,
                batch_size=256, n_steps=128, n_epochs=10, net_arch=[64, 64],
                extra={"gae_lambda": 0.95, "ent_coef": 0.0, "clip_range": 0.2}),
    "a2c": dict(learning_rate=1e-3, lr_schedule="linear", gamma=0.98, n_envs=16, total_steps=300_000,
                batch_size=16, n_steps=16, n_epochs=1, net_arch=[64, 64],
                extra={"gae_lambda": 0.95, "ent_coef": 0.0, "normalize_advantage": True}),
    "sac": dict(learning_rate=1e-3, lr_schedule="constant", gamma=0.95, n_envs=4, total_steps=50_000,
                batch_size=256, n_steps=1, n_epochs=1, net_arch=[64, 64],
                extra={"buffer_size": 100_000, "learning_starts": 1_000, "tau": 0.02}),
    "td3": dict(learning_rate=1e-3, lr_schedule="constant", gamma=0.95, n_envs=4, total_steps=50_000,
                batch_size=256, n_steps=1, n_epochs=1, net_arch=[64, 64],
                extra={"buffer_size": 100_000, "learning_starts": 1_000, "tau": 0.02, "action_noise_std": 0.2}),
    "dqn": dict(learning_rate=5e-4, lr_schedule="constant", gamma=0.95, n_envs=8, total_steps=100_000,
                batch_size=128, n_steps=4, n_epochs=1, net_arch=[64, 64],
                extra={"buffer_size": 50_000, "learning_starts": 1_000, "target_update_interval": 500,
                       "exploration_fraction": 0.3, "exploration_final_eps": 0.05}),
    "qlearning": dict(learning_rate=0.2, lr_schedule="linear", gamma=0.95, n_envs=16, total_steps=100_000,
                      batch_size=1, n_steps=1, n_epochs=1, net_arch=[],
                      extra={"bins": 8, "obs_clip": 2.0, "epsilon_start": 1.0, "epsilon_end": 0.05,
                             "exploration_fraction": 0.5}),
}


def defaults_for(algo: str) -> AlgoConfig:
    """The tuned hyperparameters of ``algo`` (documented in agents/README.md)."""
    if algo not in _DEFAULTS:
        raise RigDojoError(f"unknown algorithm {algo!r}; choose one of {', '.join(ALGORITHMS)}")
    values = _DEFAULTS[algo]
    return AlgoConfig(name=algo, **{k: (list(v) if isinstance(v, list) else dict(v) if isinstance(v, dict) else v)
                                    for k, v in values.items()})


@dataclass
class TrainConfig:
    """Everything one training needs; round-trips through TOML (see the module docstring)."""

    task: str = "reach"
    rig: RigSelection = field(default_factory=RigSelection)
    rewards: list[RewardTermConfig] = field(default_factory=list)
    algo: AlgoConfig = field(default_factory=AlgoConfig)
    curriculum: CurriculumConfig = field(default_factory=CurriculumConfig)
    output: OutputConfig = field(default_factory=OutputConfig)

    # -- TOML ---------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        config = _build(cls, data, "")
        config.validate()
        return config

    def to_toml(self) -> str:
        lines: list[str] = []
        _emit_table(self.to_dict(), [], lines)
        return "\n".join(lines).strip() + "\n"

    @classmethod
    def from_toml(cls, text: str) -> TrainConfig:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise RigDojoError(f"the configuration is not valid TOML: {exc}") from None
        return cls.from_dict(data)

    @classmethod
    def load(cls, path: str | Path) -> TrainConfig:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise RigDojoError(f"cannot read the configuration {path}: {exc.strerror}") from None
        try:
            return cls.from_toml(text)
        except RigDojoError as exc:
            raise RigDojoError(f"{path}: {exc}") from None

    def save(self, path: str | Path) -> None:
        from .files import write_atomic

        write_atomic(Path(path), self.to_toml().encode("utf-8"))

    # -- checks -------------------------------------------------------------------
    def validate(self) -> None:
        """Values that parse but make no sense raise RigDojoError saying which and why."""
        algo = self.algo
        if algo.name not in ALGORITHMS:
            raise RigDojoError(f"algo.name: unknown algorithm {algo.name!r}; choose one of {', '.join(ALGORITHMS)}")
        if algo.lr_schedule not in LR_SCHEDULES:
            raise RigDojoError(f"algo.lr_schedule: {algo.lr_schedule!r} is not one of {', '.join(LR_SCHEDULES)}")
        if self.rig.discrete and algo.name in CONTINUOUS_ONLY:
            raise RigDojoError(f"algo.name: {algo.name} needs continuous actions; set rig.discrete = false "
                               "or pick ppo, a2c, dqn or qlearning")
        if not self.rig.discrete and algo.name in DISCRETE_ONLY:
            raise RigDojoError(f"algo.name: {algo.name} needs discrete actions; set rig.discrete = true "
                               "or pick ppo, a2c, sac or td3")
        positive = {"algo.learning_rate": algo.learning_rate, "algo.n_envs": algo.n_envs,
                    "algo.batch_size": algo.batch_size, "algo.n_steps": algo.n_steps, "algo.n_epochs": algo.n_epochs,
                    "rig.episode_length": self.rig.episode_length, "rig.tolerance": self.rig.tolerance,
                    "output.checkpoint_every": self.output.checkpoint_every}
        for key, value in positive.items():
            if not value > 0:
                raise RigDojoError(f"{key} must be greater than 0 (found {value})")
        if not 0.0 < algo.gamma <= 1.0:
            raise RigDojoError(f"algo.gamma must be in (0, 1] (found {algo.gamma})")
        if algo.total_steps <= 0 and algo.minutes <= 0:
            raise RigDojoError("set algo.total_steps or algo.minutes (a time budget) to a value greater than 0")
        if algo.total_steps < 0 or algo.minutes < 0:
            raise RigDojoError("algo.total_steps and algo.minutes must not be negative")
        if any(n <= 0 for n in algo.net_arch):
            raise RigDojoError(f"algo.net_arch: layer sizes must be greater than 0 (found {algo.net_arch})")
        if self.curriculum.enabled and not self.curriculum.stages:
            raise RigDojoError("curriculum.enabled is true but curriculum.stages is empty; add [[curriculum.stages]]")
        for i, term in enumerate(self.rewards):
            if not term.name:
                raise RigDojoError(f"rewards[{i}].name is empty; give the reward term's registry name")


# -- reading: dataclass from plain data, with errors that name the key ------------------
_TYPE_NAMES = {str: "string", int: "integer", float: "float", bool: "boolean", list: "list", dict: "table"}


def _type_name(value: Any) -> str:
    return _TYPE_NAMES.get(type(value), type(value).__name__)


def _build(cls: type, data: Any, path: str) -> Any:
    where = path or "the top level"
    if not isinstance(data, dict):
        raise RigDojoError(f"{where}: expected a table, found {_type_name(data)}")
    hints = typing.get_type_hints(cls)
    allowed = [f.name for f in dataclasses.fields(cls)]
    values = {}
    for key, value in data.items():
        full = f"{path}.{key}" if path else key
        if key not in allowed:
            raise RigDojoError(f"unknown key {full!r}; allowed keys{' in [' + path + ']' if path else ''}: "
                               f"{', '.join(allowed)}")
        values[key] = _convert(hints[key], value, full)
    return cls(**values)


def _convert(hint: Any, value: Any, path: str) -> Any:
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, path)
    if origin is list:
        (item,) = typing.get_args(hint)
        if not isinstance(value, list):
            raise RigDojoError(f"{path}: expected a list, found {_type_name(value)} ({value!r})")
        return [_convert(item, v, f"{path}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise RigDojoError(f"{path}: expected a table, found {_type_name(value)} ({value!r})")
        return dict(value)
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise RigDojoError(f"{path}: expected float, found {_type_name(value)} ({value!r})")
        return float(value)
    if hint in (int, str, bool):
        if type(value) is not hint:
            raise RigDojoError(f"{path}: expected {_TYPE_NAMES[hint]}, found {_type_name(value)} ({value!r})")
        return value
    raise TypeError(f"TrainConfig field {path} has an unsupported type {hint!r}")  # a bug in this module


# -- writing: a small TOML emitter for the values a TrainConfig holds ---------------------
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _key(key: str) -> str:
    return key if _BARE_KEY.match(key) else _string(key)


def _string(text: str) -> str:
    out = ['"']
    for ch in text:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)  # shortest repr round-trips exactly; always has '.', 'e' or is inf/nan
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_key(str(k))} = {_value(v)}" for k, v in value.items()) + "}"
    raise RigDojoError(f"cannot write {type(value).__name__} value {value!r} to TOML")


def _is_table_array(value: Any) -> bool:
    return isinstance(value, list) and len(value) > 0 and all(isinstance(v, dict) for v in value)


def _emit_table(table: dict[str, Any], path: list[str], lines: list[str]) -> None:
    # Plain values first (they belong to the current header), then sub-tables, then arrays
    # of tables. Dicts that hold only plain values and live in arrays are written inline.
    def nested(v: Any) -> bool:
        return (isinstance(v, dict) and len(v) > 0) or _is_table_array(v)

    for key, value in table.items():
        if not nested(value):
            lines.append(f"{_key(key)} = {_value(value)}")
    for key, value in table.items():
        if isinstance(value, dict) and value:
            sub = path + [_key(key)]
            lines += ["", f"[{'.'.join(sub)}]"]
            _emit_table(value, sub, lines)
    for key, value in table.items():
        if _is_table_array(value):
            sub = path + [_key(key)]
            for item in value:
                lines += ["", f"[[{'.'.join(sub)}]]"]
                _emit_table(item, sub, lines)
