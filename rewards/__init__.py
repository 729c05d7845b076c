"""Reward terms and their composer. Never imports bpy (DESIGN.md, rule 1).

Importing this package registers the built-in terms (``terms.py``).
"""

from . import terms  # noqa: F401  (registers the built-in terms)
from .composer import DEFAULT_MEAN_HORIZON, RewardComposer, TermConfig
from .registry import REGISTRY, Param, RewardTerm, get_term, reward_term, schema, validate_params
from .state import STATE_FIELDS, RewardState

__all__ = [
    "DEFAULT_MEAN_HORIZON", "REGISTRY", "STATE_FIELDS", "Param", "RewardComposer", "RewardState",
    "RewardTerm", "TermConfig", "get_term", "reward_term", "schema", "validate_params",
]
from . import camera_terms  # noqa: F401
from . import physics_terms  # noqa: F401
from . import pin_terms  # noqa: F401
