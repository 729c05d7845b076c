"""The reward-term registry: every term, its parameters and the state fields it reads.

A term is one function decorated with :func:`reward_term`; the decorator is its
registry entry. The sidebar, the TOML schema and the validation of user settings
are all generated from :data:`REGISTRY`.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import numpy as np

from ..errors import RigDojoError
from .state import STATE_FIELDS, RewardState

PARAM_KINDS = ("float", "int", "bool", "choice")

TermFn = Callable[..., np.ndarray]


@dataclass(frozen=True)
class Param:
    """One parameter of a reward term, as the user sees it (sidebar, TOML).

    Attributes:
        name: keyword the term function takes.
        kind: ``"float"``, ``"int"``, ``"bool"`` or ``"choice"``.
        default: value used when the user gives none.
        min, max: inclusive bounds for numbers (``None``: unbounded).
        choices: allowed strings for ``"choice"``.
        description: one line, shown as a tooltip.
    """

    name: str
    kind: str
    default: Any
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] = ()
    description: str = ""

    def __post_init__(self) -> None:
        # programmer errors in a term definition: fail at import, loudly
        if self.kind not in PARAM_KINDS:
            raise ValueError(f"Param {self.name!r}: kind must be one of {PARAM_KINDS}, got {self.kind!r}")
        if self.kind == "choice" and self.default not in self.choices:
            raise ValueError(f"Param {self.name!r}: default {self.default!r} is not in {self.choices}")
        if self.kind != "choice" and self.choices:
            raise ValueError(f"Param {self.name!r}: only choice parameters have choices")
        if self.kind in ("float", "int"):
            _check_number(self, self.default, "<definition>")

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "kind": self.kind, "default": self.default, "min": self.min,
            "max": self.max, "choices": list(self.choices), "description": self.description,
        }


@dataclass(frozen=True)
class RewardTerm:
    """A registered reward term.

    Attributes:
        name: registry key, as written in TOML and shown in the sidebar.
        description: one line for the user.
        fn: ``fn(state: RewardState, **params) -> ndarray (n_envs,)``; higher is better.
        params: the parameters ``fn`` takes besides ``state``.
        requires: :class:`RewardState` fields the term always reads (must not be None).
        penalty: True if the term never returns a positive value.
        optional: fields read when present (e.g. the obstacle kinds of ``keep_away``).
    """

    name: str
    description: str
    fn: TermFn
    params: tuple[Param, ...] = ()
    requires: tuple[str, ...] = ()
    penalty: bool = False
    optional: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "description": self.description, "penalty": self.penalty,
            "requires": list(self.requires), "optional": list(self.optional),
            "params": [p.to_dict() for p in self.params],
        }


REGISTRY: dict[str, RewardTerm] = {}


def reward_term(
    name: str,
    description: str,
    requires: Iterable[str] = (),
    params: Iterable[Param] = (),
    penalty: bool = False,
    optional: Iterable[str] = (),
) -> Callable[[TermFn], TermFn]:
    """Register the decorated function as the reward term ``name``.

    The function takes the state and one keyword per :class:`Param` and returns a
    float array of shape ``(n_envs,)``: reward, higher is better (penalties <= 0).
    """
    params = tuple(params)
    requires = tuple(requires)
    optional = tuple(optional)

    def register(fn: TermFn) -> TermFn:
        if name in REGISTRY:
            raise ValueError(f"reward term {name!r} is registered twice")
        if "\n" in description or not description:
            raise ValueError(f"reward term {name!r}: the description must be one non-empty line")
        unknown = [f for f in requires + optional if f not in STATE_FIELDS]
        if unknown:
            raise ValueError(f"reward term {name!r} reads fields RewardState does not have: {unknown}")
        accepted = list(inspect.signature(fn).parameters)[1:]
        declared = [p.name for p in params]
        if sorted(accepted) != sorted(declared):
            raise ValueError(f"reward term {name!r}: function keywords {accepted} differ from params {declared}")
        REGISTRY[name] = RewardTerm(name, description, fn, params, requires, penalty, optional)
        return fn

    return register


def schema() -> list[dict[str, Any]]:
    """Every registered term and its parameters as JSON-able dicts (registration order)."""
    return [term.to_dict() for term in REGISTRY.values()]


def get_term(name: str) -> RewardTerm:
    """The registered term ``name``; :class:`RigDojoError` listing the known terms otherwise."""
    try:
        return REGISTRY[name]
    except (KeyError, TypeError):
        known = ", ".join(sorted(REGISTRY))
        raise RigDojoError(f"unknown reward term {name!r}; known terms: {known}") from None


def validate_params(name: str, params: dict[str, Any] | None) -> dict[str, Any]:
    """Check user parameters for term ``name`` and return them with defaults filled in.

    Raises :class:`RigDojoError` for an unknown term or parameter, a value of the
    wrong type, NaN/inf, a value out of range or not among the choices.
    """
    term = get_term(name)
    params = dict(params or {})
    allowed = {p.name: p for p in term.params}
    unknown = [k for k in params if k not in allowed]
    if unknown:
        listed = ", ".join(allowed) or "none"
        raise RigDojoError(f"reward term {name!r} has no parameter {unknown[0]!r}; its parameters: {listed}")
    out: dict[str, Any] = {}
    for p in term.params:
        out[p.name] = _coerce(p, params[p.name], name) if p.name in params else p.default
    return out


def _coerce(p: Param, value: Any, term: str) -> Any:
    where = f"reward term {term!r} parameter {p.name!r}"
    if p.kind == "bool":
        if isinstance(value, (bool, np.bool_)):
            return bool(value)
        raise RigDojoError(f"{where} must be true or false, got {value!r}")
    if p.kind == "choice":
        if isinstance(value, str) and value in p.choices:
            return value
        raise RigDojoError(f"{where} must be one of {', '.join(p.choices)}; got {value!r}")
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise RigDojoError(f"{where} must be a{'n integer' if p.kind == 'int' else ' number'}, got {value!r}")
    if p.kind == "int":
        if isinstance(value, (float, np.floating)):
            if not (math.isfinite(value) and float(value).is_integer()):
                raise RigDojoError(f"{where} must be an integer, got {value!r}")
        value = int(value)
    else:
        value = float(value)
    _check_number(p, value, term)
    return value


def _check_number(p: Param, value: Any, term: str) -> None:
    where = f"reward term {term!r} parameter {p.name!r}"
    if not math.isfinite(value):
        raise RigDojoError(f"{where} must be a finite number, got {value!r}")
    if (p.min is not None and value < p.min) or (p.max is not None and value > p.max):
        lo = "-inf" if p.min is None else p.min
        hi = "inf" if p.max is None else p.max
        raise RigDojoError(f"{where} is {value!r}, outside its range [{lo}, {hi}]")


__all__ = ["Param", "RewardTerm", "REGISTRY", "RewardState", "reward_term", "schema", "validate_params", "get_term"]
