"""The reward composer: a weighted sum of registered terms, with per-term running means.

Called every env step for up to a few thousand envs, so everything that can be
decided once (parameter validation, keys, bound functions) is decided in the
constructor; a call is one loop over the enabled terms.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from ..errors import RigDojoError
from .registry import get_term, validate_params
from .state import RewardState

DEFAULT_MEAN_HORIZON = 1000
MAX_WEIGHT = 1e6


@dataclass(frozen=True)
class TermConfig:
    """One reward term as the user configured it.

    Attributes:
        name: registered term name (see ``rewards.schema()``).
        weight: non-negative multiplier (penalties are already negative).
        enabled: disabled terms are validated but not computed.
        params: the term's parameters; missing ones take their defaults.
    """

    name: str
    weight: float = 1.0
    enabled: bool = True
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _Bound:
    key: str
    name: str
    weight: float
    fn: Callable[[RewardState], np.ndarray]


class RewardComposer:
    """Weighted sum of reward terms.

    ``composer(state)`` returns ``(total, per_term)``: ``total`` is ``(n_envs,)``,
    ``per_term`` maps each enabled term's key to its *weighted* ``(n_envs,)`` values.
    Keys are term names; a name used more than once gets ``#2``, ``#3`` … in list
    order (counting disabled entries too, so toggling one does not rename another).

    Running means: after each call the mean over envs of every weighted term is
    folded into a per-term running mean, an arithmetic mean over the first
    ``mean_horizon`` calls and then an exponential moving average with
    ``alpha = 1 / mean_horizon`` (so it follows roughly the last ``mean_horizon``
    steps). ``means()`` reads them, ``count`` is the number of calls folded in,
    ``reset_means()`` starts over.
    """

    def __init__(self, terms: Sequence[TermConfig], mean_horizon: int = DEFAULT_MEAN_HORIZON):
        if isinstance(mean_horizon, bool) or not isinstance(mean_horizon, int) or mean_horizon < 1:
            raise RigDojoError(f"reward mean_horizon must be a positive integer, got {mean_horizon!r}")
        terms = list(terms)
        if not terms:
            raise RigDojoError("no reward terms: add at least one (e.g. distance)")
        seen: dict[str, int] = {}
        bound: list[_Bound] = []
        required: dict[str, None] = {}
        for i, cfg in enumerate(terms):
            if not isinstance(cfg, TermConfig):
                raise RigDojoError(f"reward term #{i + 1} must be a TermConfig, got {type(cfg).__name__}")
            term = get_term(cfg.name)
            seen[cfg.name] = seen.get(cfg.name, 0) + 1
            key = cfg.name if seen[cfg.name] == 1 else f"{cfg.name}#{seen[cfg.name]}"
            weight = cfg.weight
            if isinstance(weight, bool) or not isinstance(weight, (int, float, np.integer, np.floating)):
                raise RigDojoError(f"reward term {key!r}: weight must be a number, got {weight!r}")
            if not math.isfinite(weight):
                raise RigDojoError(f"reward term {key!r}: weight must be finite, got {weight!r}")
            if weight > MAX_WEIGHT:  # larger weights overflow the returns and the networks' losses
                raise RigDojoError(f"reward term {key!r}: weight {weight!r} is above {MAX_WEIGHT:g}; scale the other "
                                   "terms down instead")
            if weight < 0:
                raise RigDojoError(
                    f"reward term {key!r}: weight {weight!r} is negative; weights are >= 0 "
                    "(penalty terms already return negative values)"
                )
            if not isinstance(cfg.params, dict):
                raise RigDojoError(f"reward term {key!r}: params must be a table of name = value")
            params = validate_params(cfg.name, cfg.params)
            if not cfg.enabled:
                continue
            fn = functools.partial(term.fn, **params) if params else term.fn
            bound.append(_Bound(key, cfg.name, float(weight), fn))
            required.update(dict.fromkeys(term.requires))
        if not bound:
            raise RigDojoError("every reward term is disabled: enable at least one")
        self._terms = tuple(bound)
        self._required = tuple(required)
        self.keys: tuple[str, ...] = tuple(b.key for b in bound)
        self.mean_horizon = mean_horizon
        self._alpha = 1.0 / mean_horizon
        self._checked = False
        self._means: dict[str, float] = {}
        self.count = 0
        self.reset_means()

    def required_fields(self) -> set[str]:
        """:class:`RewardState` fields the enabled terms read (the env must fill them)."""
        return set(self._required)

    def __call__(self, state: RewardState) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        missing = [f for f in self._required if getattr(state, f) is None]
        if missing:
            raise RigDojoError(self._missing_message(missing))
        if not self._checked:
            state.check()
            self._checked = True
        n = state.n_envs
        total = np.zeros(n)
        per_term: dict[str, np.ndarray] = {}
        for b in self._terms:
            value = b.fn(state)
            if value.shape != (n,):
                raise RigDojoError(f"reward term {b.key!r} returned shape {value.shape}, expected ({n},)")
            weighted = value * b.weight if b.weight != 1.0 else value.astype(np.float64, copy=False)
            total += weighted
            per_term[b.key] = weighted
        if not np.isfinite(total).all():
            bad = [k for k, v in per_term.items() if not np.isfinite(v).all()]
            raise RigDojoError(
                f"reward term(s) {', '.join(bad)} gave NaN or inf for some envs; check the state they read"
            )
        count = self.count + 1
        rate = max(self._alpha, 1.0 / count)
        means = self._means
        # folded in only after the check, so one bad step cannot poison the means
        for key, weighted in per_term.items():
            means[key] += (float(weighted.mean()) - means[key]) * rate
        self.count = count
        return total, per_term

    def means(self) -> dict[str, float]:
        """Running mean of each enabled term's weighted per-step value (mean over envs)."""
        return dict(self._means)

    def reset_means(self) -> None:
        self._means = dict.fromkeys(self.keys, 0.0)
        self.count = 0

    def _missing_message(self, missing: list[str]) -> str:
        needs: dict[str, list[str]] = {}
        for b in self._terms:
            for f in get_term(b.name).requires:
                if f in missing:
                    needs.setdefault(f, []).append(b.key)
        parts = [f"{f} (read by {', '.join(keys)})" for f, keys in needs.items()]
        return f"the reward state is missing {'; '.join(parts)}: the task must provide it or disable the term"
