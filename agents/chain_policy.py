"""A rig-agnostic policy for chains: one small network shared by every joint token (no bpy).

Observations are ``envs.kinematic.chains``' padded joint tokens (``tokens * features`` numbers, then the
mask). :class:`ChainActorCritic` embeds every token with the same MLP, pools the real tokens (masked mean) into
a context, and gives each token its action mean from [its embedding, the context]; the value reads the
context. The weights do not depend on how many joints a rig has, so a policy trained on random chains runs on
any chain of 2-8 bones. It has :class:`agents.ppo.ActorCritic`'s interface (``actor``, ``critic``,
``sample``, ``mode``, ``log_prob_entropy``, ``predict``), so our PPO trains it (:func:`build_chain_ppo`);
padded tokens get a mean of 0 and their actions are ignored by the task.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from ..errors import RigDojoError
from .ppo import PPO, ActionLayout, ActorCritic, FastTanh, ObservationNormalizer

NETWORK_KIND = "rig_dojo_chain"
HIDDEN = 64  # every chain network (and the library's) is this wide; algo.net_arch sizes the per-rig MLP only


def token_shapes() -> dict[int, tuple[int, int]]:
    """The joint-token layouts a network reads, by observation size: ``{size: (tokens, features)}`` (chains: reach
    and aim, ``envs/kinematic/chains.py``; hands: grasp, ``envs/kinematic/grasp_chains.py``; physics creatures'
    hinges: stand, ``envs/physics/tokens.py``)."""
    from ..envs.kinematic import chains, grasp_chains
    from ..envs.physics import tokens

    shapes = {chains.OBS_SIZE: (chains.MAX_TOKENS, chains.FEATURES),
              grasp_chains.OBS_SIZE: (grasp_chains.MAX_TOKENS, grasp_chains.FEATURES),
              tokens.OBS_SIZE: (tokens.MAX_TOKENS, tokens.FEATURES)}
    assert len(shapes) == 3, "two token layouts of one observation size"
    return shapes


class _Tokens(nn.Module):
    """Splits the flat observation into tokens ``(n, T, F)`` and mask ``(n, T)``."""

    def __init__(self, tokens: int, features: int):
        super().__init__()
        self.tokens, self.features = tokens, features

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Tokens and mask, cut to the longest real chain in the batch (padding past it is never computed:
        one rig's batch of 5 joints costs 5 tokens, not 24)."""
        n = obs.shape[0]
        split = self.tokens * self.features
        mask = obs[:, split:split + self.tokens]
        used = int((mask > 0).any(0).nonzero().max()) + 1 if n and bool((mask > 0).any()) else 1
        return obs[:, :split].reshape(n, self.tokens, self.features)[:, :used], mask[:, :used]


def _mlp(sizes: list[int], last_gain: float) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(FastTanh())
    for layer in layers:
        if isinstance(layer, nn.Linear):
            nn.init.orthogonal_(layer.weight, math.sqrt(2) if layer is not layers[-1] else last_gain)
            nn.init.zeros_(layer.bias)
    return nn.Sequential(*layers)


def _embed(embed: nn.Module, tokens: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Every token's embedding ``(n, T, H)``; where padding is a large share of the batch (a mix
    of creatures of 12-45 hinges cut to the longest), only the real tokens go through the MLP (the same numbers,
    half the work or less: padding's embedding is then 0, which the callers mask away as they do any), and their
    flat indices come back too (else None)."""
    n, t, _ = tokens.shape
    real = mask.reshape(-1) > 0
    count = int(real.sum())
    if count >= 0.75 * n * t:
        return embed(tokens), None
    index = real.nonzero().squeeze(1)
    flat = embed(tokens.reshape(n * t, -1).index_select(0, index))
    h = flat.new_zeros(n * t, flat.shape[-1]).index_copy(0, index, flat)
    return h.reshape(n, t, -1), index


class _Actor(nn.Module):
    def __init__(self, split: _Tokens, embed: nn.Module, head: nn.Module):
        super().__init__()
        self.split, self.embed, self.head = split, embed, head

    def context(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None]:
        tokens, mask = self.split(obs)
        h, index = _embed(self.embed, tokens, mask)  # (n, T, H)
        m = mask.unsqueeze(-1)
        pooled = (h * m).sum(1) / m.sum(1).clamp(min=1.0)
        return h, pooled, mask, index

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        h, pooled, mask, index = self.context(obs)
        n, t, width = h.shape
        if index is None:
            both = torch.cat([h, pooled.unsqueeze(1).expand_as(h)], dim=-1)
            out = self.head(both).squeeze(-1) * mask
        else:  # the head on the real tokens only, as the embedding
            rows = index.div(t, rounding_mode="floor")
            both = torch.cat([h.reshape(n * t, width).index_select(0, index), pooled.index_select(0, rows)], dim=-1)
            flat = self.head(both).squeeze(-1) * mask.reshape(-1).index_select(0, index)
            out = flat.new_zeros(n * t).index_copy(0, index, flat).reshape(n, t)
        return nn.functional.pad(out, (0, self.split.tokens - out.shape[1]))  # padded tokens: mean 0


class _Critic(nn.Module):
    def __init__(self, actor: _Actor, embed: nn.Module, head: nn.Module):
        super().__init__()
        self.split, self.embed, self.head = actor.split, embed, head

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        tokens, mask = self.split(obs)
        h, _ = _embed(self.embed, tokens, mask)
        m = mask.unsqueeze(-1)
        mean = (h * m).sum(1) / m.sum(1).clamp(min=1.0)
        peak = (h + (m - 1.0) * 1e4).max(1).values
        return self.head(torch.cat([mean, peak], dim=-1))


class ChainActorCritic(ActorCritic):
    """Shared per-token actor and a pooled critic; ``ActorCritic``'s sampling and ``predict`` as they are."""

    def __init__(self, tokens: int, features: int, hidden: int = HIDDEN, log_std_init: float = -1.0):
        nn.Module.__init__(self)
        self.tokens, self.features, self.hidden = int(tokens), int(features), int(hidden)
        self.obs_dim = self.tokens * self.features + self.tokens
        self.layout = ActionLayout(size=self.tokens, low=(-1.0,) * self.tokens, high=(1.0,) * self.tokens)
        self.net_arch, self.activation_fn = [self.hidden, self.hidden], "Tanh"
        self.obs_norm = ObservationNormalizer(self.obs_dim)  # never updated: the features are in fixed units
        split = _Tokens(self.tokens, self.features)
        self.actor = _Actor(split, _mlp([self.features, self.hidden, self.hidden], math.sqrt(2)),
                            _mlp([2 * self.hidden, self.hidden, 1], 0.01))
        self.critic = _Critic(self.actor, _mlp([self.features, self.hidden, self.hidden], math.sqrt(2)),
                              _mlp([2 * self.hidden, self.hidden, 1], 1.0))
        self.log_std = nn.Parameter(torch.full((self.tokens,), float(log_std_init)))
        self.register_buffer("low", torch.full((self.tokens,), -1.0))
        self.register_buffer("high", torch.full((self.tokens,), 1.0))

    @classmethod
    def for_space(cls, observation_space: Any, layout: ActionLayout, log_std_init: float = -1.0) -> ChainActorCritic:
        """The network for a task's joint-token observation (sizes from ``envs.kinematic.chains``,
        ``grasp_chains`` for a hand, ``envs.physics.tokens`` for a creature: :func:`token_shapes`)."""
        shapes = token_shapes()
        size = int(observation_space.shape[0]) if len(observation_space.shape or ()) == 1 else -1
        if size not in shapes or layout.discrete or layout.size != shapes[size][0]:
            raise RigDojoError("the rig-agnostic network reads " + " or ".join(
                f"{tokens} tokens of {features} features ({obs} numbers) and acts on {tokens} joints"
                for obs, (tokens, features) in shapes.items()) + "; this task does not fit")
        tokens, features = shapes[size]
        return cls(tokens, features, HIDDEN, log_std_init)

    def description(self) -> dict[str, Any]:
        return {"kind": NETWORK_KIND, "tokens": self.tokens, "features": self.features, "hidden": self.hidden}

    @classmethod
    def from_description(cls, desc: dict[str, Any]) -> ChainActorCritic:  # type: ignore[override]
        return cls(int(desc["tokens"]), int(desc["features"]), int(desc["hidden"]))


def build_chain_ppo(config: Any, env: Any) -> PPO:
    """Our PPO on ``env`` (chain tokens: a task with ``policy_network = "chain"``, which makes PPO build a
    :class:`ChainActorCritic` with observation normalisation off)."""
    from .ppo import settings_from_config

    if getattr(env, "policy_network", "") != "chain":
        raise RigDojoError("the rig-agnostic network needs a task observed as joint tokens (rig.observation = "
                           "\"chain\")")
    return PPO(settings_from_config(config), env)
