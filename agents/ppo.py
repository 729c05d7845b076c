"""PPO for batched twins: Rig Dojo's own, readable top to bottom (rsl_rl / CleanRL style).

Why our own: SB3's PPO is built for a few environments stepping Python objects; our twins
step thousands of environments in one numpy call. This trainer is sized to them:

- thousands of environments, few steps per environment per iteration (``n_steps``), the
  rollout split into a *count* of minibatches (``num_minibatches``), few epochs;
- rollout storage shaped ``(steps, n_envs, ...)`` torch tensors; the task's arrays go to torch
  through ``step_arrays`` (``agents/step_arrays.py``) with no Python object per environment;
- observation normalisation (running mean/std, part of the network, so it is saved with the
  policy), advantage normalisation, value bootstrapping when the time limit truncates an
  episode (``reward += gamma * V(last observation)``), clipped value loss, grad-norm clip;
- the learning rate adapts to the measured KL divergence (``desired_kl``, x/÷1.5 per
  minibatch, as rsl_rl) or follows ``algo.lr_schedule`` (``desired_kl = 0``);
- a Gaussian policy with a state-independent log-std, actions clipped to the action Box;
  ``MultiDiscrete`` actions use one categorical distribution per joint.

The hyperparameters come from ``TrainConfig.algo`` (:func:`settings_from_config`): ``n_envs``,
``n_steps``, ``n_epochs``, ``batch_size`` (a minibatch's size: the count is the rollout over it,
unless ``extra.num_minibatches`` gives the count), ``learning_rate``, ``lr_schedule``, ``gamma``,
``net_arch``, ``seed``; ``algo.extra`` takes the keys in :data:`EXTRA_DEFAULTS` (README).

Files: the policy (``policy_file``) is the network's state_dict as npz, the normaliser
included; a checkpoint (:meth:`PPO.checkpoint_bytes`) adds the optimiser's state, the random
generator's state and the counters, in one npz with its JSON inside. Neither is ever unpickled.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import RigDojoError
from .step_arrays import StepArrays, arrays_view

CHECKPOINT_FORMAT = "rig_dojo.ppo_checkpoint"
CHECKPOINT_VERSION = 1
NETWORK_KIND = "rig_dojo_ppo"  # policy_kwargs["kind"] in a policy file's metadata

# ``algo.extra`` keys this PPO takes, with their defaults (SB3's names where SB3 has the setting).
EXTRA_DEFAULTS: dict[str, Any] = {
    "gae_lambda": 0.95,            # GAE's lambda
    "clip_range": 0.2,             # policy ratio clip
    "clip_range_vf": 0.0,          # value clip around the old value (0: no value clipping)
    "ent_coef": 0.0,               # entropy bonus
    "vf_coef": 1.0,                # value loss weight
    "max_grad_norm": 1.0,          # gradient norm clip
    "desired_kl": 0.02,            # adaptive learning rate target (0: follow algo.lr_schedule)
    "num_minibatches": 0,          # minibatches per epoch (0: rollout / batch_size)
    "normalize_advantage": True,
    "normalize_observations": True,
    "log_std_init": 0.0,           # initial log standard deviation of the Gaussian policy
    "activation_fn": "Tanh",       # Tanh, ReLU, ELU, LeakyReLU, GELU, SiLU
    "obs_clip": 5.0,               # normalised observations are clipped to +-obs_clip
    "stagger_episodes": True,      # first episodes of random length, so the environments end out of step
}
# SB3's names for the same things, accepted inside extra.policy_kwargs (old configs)
POLICY_KWARGS = ("log_std_init", "activation_fn")
LR_BOUNDS = (1e-5, 1e-2)  # the adaptive learning rate stays within these
OPTIMIZER_SLOTS = ("exp_avg", "exp_avg_sq", "step")  # Adam's per-parameter state, as checkpoints hold it


# ---- settings ------------------------------------------------------------------------------
@dataclass
class PPOSettings:
    """Everything the trainer reads; built from a TrainConfig by :func:`settings_from_config`."""

    n_envs: int = 512
    n_steps: int = 16
    n_epochs: int = 2
    batch_size: int = 4096
    learning_rate: float = 1e-3
    lr_schedule: str = "constant"
    gamma: float = 0.98
    net_arch: list[int] = field(default_factory=lambda: [64, 64])
    seed: int = 0
    gae_lambda: float = 0.95
    clip_range: float = 0.2
    clip_range_vf: float = 0.0
    ent_coef: float = 0.0
    vf_coef: float = 1.0
    max_grad_norm: float = 1.0
    desired_kl: float = 0.02
    num_minibatches: int = 0
    normalize_advantage: bool = True
    normalize_observations: bool = True
    log_std_init: float = 0.0
    activation_fn: str = "Tanh"
    obs_clip: float = 5.0
    stagger_episodes: bool = True

    def minibatches(self) -> int:
        """How many minibatches each epoch splits the rollout into."""
        if self.num_minibatches > 0:
            return min(self.num_minibatches, self.n_envs * self.n_steps)
        return max(1, round(self.n_envs * self.n_steps / self.batch_size))


def settings_from_config(config: Any) -> PPOSettings:
    """The settings of ``config.algo``; an ``extra`` key this PPO does not take is a RigDojoError naming it."""
    algo = config.algo
    extra = dict(algo.extra)
    policy_kwargs = extra.pop("policy_kwargs", {}) or {}
    if not isinstance(policy_kwargs, dict):
        raise RigDojoError("algo.extra.policy_kwargs must be a table")
    for key in policy_kwargs:
        if key not in POLICY_KWARGS:
            raise RigDojoError(_not_ours(f"policy_kwargs.{key}"))
    values = dict(EXTRA_DEFAULTS)
    for key, value in extra.items():
        if key not in EXTRA_DEFAULTS:
            raise RigDojoError(_not_ours(key))
        values[key] = value
    for key in ("log_std_init", "activation_fn"):
        if key in policy_kwargs:
            values[key] = policy_kwargs[key]
    settings = PPOSettings(n_envs=int(algo.n_envs), n_steps=int(algo.n_steps), n_epochs=int(algo.n_epochs),
                           batch_size=int(algo.batch_size), learning_rate=float(algo.learning_rate),
                           lr_schedule=algo.lr_schedule, gamma=float(algo.gamma), net_arch=list(algo.net_arch),
                           seed=int(algo.seed))
    for key, default in EXTRA_DEFAULTS.items():
        value = values[key]
        try:
            value = type(default)(value) if not isinstance(default, bool) else value
        except (TypeError, ValueError):
            raise RigDojoError(f"algo.extra.{key} must be a {type(default).__name__} (found {value!r})") from None
        if isinstance(default, bool) and not isinstance(value, bool):
            raise RigDojoError(f"algo.extra.{key} must be true or false (found {value!r})")
        setattr(settings, key, value)
    for key in ("gae_lambda", "clip_range", "clip_range_vf", "ent_coef", "vf_coef", "max_grad_norm", "desired_kl",
                "num_minibatches", "obs_clip"):
        if getattr(settings, key) < 0:
            raise RigDojoError(f"algo.extra.{key} must not be negative (found {getattr(settings, key)})")
    if not 0.0 <= settings.gae_lambda <= 1.0:
        raise RigDojoError(f"algo.extra.gae_lambda must be in [0, 1] (found {settings.gae_lambda})")
    from .algorithms import activation_class

    activation_class(settings.activation_fn)  # a RigDojoError naming the choices
    return settings


def _not_ours(key: str) -> str:
    return (f"algo.extra.{key} is not a setting of ppo (Rig Dojo's own PPO; it takes "
            f"{', '.join(EXTRA_DEFAULTS)}); set algo.name = \"sb3_ppo\" for Stable-Baselines3's PPO, which takes it")


# ---- the network ---------------------------------------------------------------------------
class ObservationNormalizer(nn.Module):
    """Running mean and variance of the observations (Chan's parallel update); part of the policy."""

    def __init__(self, dim: int, clip: float = 5.0):
        super().__init__()
        self.clip = float(clip)
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("var", torch.ones(dim))
        self.register_buffer("count", torch.zeros((), dtype=torch.float64))

    @torch.no_grad()
    def update(self, x: torch.Tensor) -> None:
        n = x.shape[0]
        batch_mean = x.mean(dim=0)
        batch_var = x.var(dim=0, unbiased=False)
        total = self.count + n
        delta = batch_mean - self.mean
        w = float(n / total)
        self.mean += delta * w
        self.var.copy_(self.var * (1.0 - w) + batch_var * w + delta.square() * w * (1.0 - w))
        self.count.copy_(total)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.count == 0:
            return x
        return ((x - self.mean) / torch.sqrt(self.var + 1e-8)).clamp(-self.clip, self.clip)


class _TanhFunction(torch.autograd.Function):
    """tanh as ``2 * sigmoid(2x) - 1``: the same function (within 2e-7), 1.3-3.5x faster than
    ``torch.tanh`` on this project's 2-core CPU (measured with torch 2.13: 67 against 19 µs for
    512 x 64 values), where the network's tanh cost more than its matrix products."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        # |x| > 15 is tanh = +-1 in float32; clamping keeps sigmoid's exp out of subnormal floats, which cost
        # ~50x on x86 CPUs (a saturated network's predict took 150 ms instead of 3 ms)
        y = torch.sigmoid(x.clamp(-15.0, 15.0) * 2.0).mul_(2.0).sub_(1.0)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        (y,) = ctx.saved_tensors
        return grad * (1.0 - y * y)


class FastTanh(nn.Module):
    """``nn.Tanh`` computed through the sigmoid (see ``_TanhFunction``)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _TanhFunction.apply(x)


def _mlp(inputs: int, hidden: list[int], outputs: int, activation: type, out_gain: float) -> nn.Sequential:
    layers: list[nn.Module] = []
    size = inputs
    for width in hidden:
        layers += [nn.Linear(size, width), activation()]
        size = width
    layers.append(nn.Linear(size, outputs))
    for layer in layers:  # orthogonal init as CleanRL / SB3: small last layer for the policy
        if isinstance(layer, nn.Linear):
            nn.init.orthogonal_(layer.weight, math.sqrt(2) if layer is not layers[-1] else out_gain)
            nn.init.zeros_(layer.bias)
    return nn.Sequential(*layers)


@dataclass(frozen=True)
class ActionLayout:
    """The action space as the network sees it: a Box (``low``, ``high``) or MultiDiscrete ``nvec``."""

    size: int                  # action dimensions
    nvec: tuple[int, ...] = ()  # categories per dimension (discrete only)
    low: tuple[float, ...] = ()
    high: tuple[float, ...] = ()

    @property
    def discrete(self) -> bool:
        return bool(self.nvec)

    @classmethod
    def of(cls, space: Any) -> ActionLayout:
        from gymnasium import spaces

        if isinstance(space, spaces.Box) and len(space.shape) == 1:
            return cls(size=int(space.shape[0]), low=tuple(float(v) for v in space.low),
                       high=tuple(float(v) for v in space.high))
        if isinstance(space, spaces.MultiDiscrete):
            return cls(size=len(space.nvec), nvec=tuple(int(n) for n in space.nvec))
        if isinstance(space, spaces.Discrete):
            return cls(size=1, nvec=(int(space.n),))
        raise RigDojoError(f"ppo takes a flat Box or MultiDiscrete action space, not {space}")


class ActorCritic(nn.Module):
    """Observation normaliser, a policy MLP (means or logits), a value MLP and, for a Box, the log-std."""

    def __init__(self, obs_dim: int, layout: ActionLayout, net_arch: list[int], activation_fn: str = "Tanh",
                 log_std_init: float = 0.0, obs_clip: float = 5.0):
        from .algorithms import activation_class

        super().__init__()
        self.obs_dim, self.layout = int(obs_dim), layout
        self.net_arch, self.activation_fn = list(net_arch), activation_fn
        activation = FastTanh if activation_fn == "Tanh" else activation_class(activation_fn)
        self.obs_norm = ObservationNormalizer(obs_dim, obs_clip)
        outputs = sum(layout.nvec) if layout.discrete else layout.size
        self.actor = _mlp(obs_dim, self.net_arch, outputs, activation, 0.01)
        self.critic = _mlp(obs_dim, self.net_arch, 1, activation, 1.0)
        if not layout.discrete:
            self.log_std = nn.Parameter(torch.full((layout.size,), float(log_std_init)))
            self.register_buffer("low", torch.tensor(layout.low, dtype=torch.float32))
            self.register_buffer("high", torch.tensor(layout.high, dtype=torch.float32))

    # -- what a policy file records to rebuild it ------------------------------------------
    def description(self) -> dict[str, Any]:
        return {"kind": NETWORK_KIND, "obs_dim": self.obs_dim, "net_arch": self.net_arch,
                "activation_fn": self.activation_fn, "obs_clip": self.obs_norm.clip,
                "action": {"size": self.layout.size, "nvec": list(self.layout.nvec),
                           "low": list(self.layout.low), "high": list(self.layout.high)}}

    @classmethod
    def from_description(cls, desc: dict[str, Any]) -> ActorCritic:
        action = desc["action"]
        layout = ActionLayout(size=int(action["size"]), nvec=tuple(int(n) for n in action["nvec"]),
                              low=tuple(float(v) for v in action["low"]), high=tuple(float(v) for v in action["high"]))
        return cls(int(desc["obs_dim"]), layout, [int(n) for n in desc["net_arch"]], str(desc["activation_fn"]),
                   obs_clip=float(desc.get("obs_clip", 5.0)))

    # -- distributions (written out: a Gaussian per joint, or a categorical per joint) -----------
    def _groups(self, logits: torch.Tensor) -> list[torch.Tensor]:
        return list(torch.split(logits, list(self.layout.nvec), dim=-1))

    def log_prob_entropy(self, out: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Log-probability of ``actions`` and entropy, summed over action dimensions, from the actor's output."""
        if self.layout.discrete:
            logp, entropy = 0.0, 0.0
            for j, logits in enumerate(self._groups(out)):
                log_p = torch.log_softmax(logits, dim=-1)
                logp = logp + log_p.gather(-1, actions[..., j:j + 1].long()).squeeze(-1)
                entropy = entropy - (log_p.exp() * log_p).sum(-1)
            return logp, entropy  # type: ignore[return-value]
        std = self.log_std.exp()
        z = (actions - out) / std
        logp = (-0.5 * z.square() - self.log_std - 0.5 * math.log(2 * math.pi)).sum(-1)
        entropy = (0.5 + 0.5 * math.log(2 * math.pi) + self.log_std).sum().expand(out.shape[0])
        return logp, entropy

    def sample(self, out: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Random actions from the actor's output and their log-probabilities."""
        if self.layout.discrete:
            picks = [torch.multinomial(torch.softmax(g, dim=-1), 1, generator=generator) for g in self._groups(out)]
            actions = torch.cat(picks, dim=-1).float()
            return actions, self.log_prob_entropy(out, actions)[0]
        noise = torch.randn(out.shape, generator=generator)
        logp = (-0.5 * noise.square()).sum(-1) - (self.log_std.sum() + 0.5 * math.log(2 * math.pi) * self.layout.size)
        return out + noise * self.log_std.exp(), logp

    def mode(self, out: torch.Tensor) -> torch.Tensor:
        if self.layout.discrete:
            return torch.stack([g.argmax(-1) for g in self._groups(out)], dim=-1).float()
        return out

    def env_actions(self, actions: torch.Tensor) -> np.ndarray:
        """What the task takes: a Box's actions clipped to its bounds, or integer categories."""
        if self.layout.discrete:
            return actions.long().numpy()
        return torch.maximum(torch.minimum(actions, self.high), self.low).numpy()

    @torch.no_grad()
    def predict(self, observation: np.ndarray, state: Any = None, episode_start: Any = None,
                deterministic: bool = True, generator: torch.Generator | None = None) -> tuple[np.ndarray, None]:
        """SB3-style ``predict`` on a batch (or one) observation; clipped actions as numpy."""
        obs = torch.as_tensor(np.asarray(observation, dtype=np.float32))
        single = obs.ndim == 1
        out = self.actor(self.obs_norm(obs[None] if single else obs))
        actions = self.mode(out) if deterministic else self.sample(out, generator or torch.Generator())[0]
        result = self.env_actions(actions)
        return (result[0] if single else result), None


# ---- rollout storage -----------------------------------------------------------------------
class RolloutStorage:
    """One iteration's experience, every tensor shaped ``(n_steps, n_envs, ...)``."""

    def __init__(self, n_steps: int, n_envs: int, obs_dim: int, action_dim: int):
        self.obs = torch.zeros(n_steps, n_envs, obs_dim)  # normalised, as the network saw them
        self.actions = torch.zeros(n_steps, n_envs, action_dim)
        self.log_probs = torch.zeros(n_steps, n_envs)
        self.values = torch.zeros(n_steps, n_envs)
        self.rewards = torch.zeros(n_steps, n_envs)  # time-outs already bootstrapped
        self.dones = torch.zeros(n_steps, n_envs)
        self.advantages = torch.zeros(n_steps, n_envs)
        self.returns = torch.zeros(n_steps, n_envs)
        self.step = 0

    def compute_returns(self, last_values: torch.Tensor, gamma: float, lam: float) -> None:
        """Generalised advantage estimation, backwards through the rollout."""
        gae = torch.zeros_like(last_values)
        next_values = last_values
        for t in reversed(range(self.obs.shape[0])):
            not_done = 1.0 - self.dones[t]
            delta = self.rewards[t] + gamma * next_values * not_done - self.values[t]
            gae = delta + gamma * lam * not_done * gae
            self.advantages[t] = gae
            next_values = self.values[t]
        self.returns = self.advantages + self.values

    def minibatches(self, count: int, epochs: int, generator: torch.Generator):
        """``epochs`` passes over the flattened rollout, each split into ``count`` random minibatches."""
        flat = {name: getattr(self, name).flatten(0, 1)
                for name in ("obs", "actions", "log_probs", "values", "advantages", "returns")}
        size = flat["obs"].shape[0]
        bounds = np.linspace(0, size, count + 1).astype(int)
        for _ in range(epochs):
            order = torch.randperm(size, generator=generator)
            for lo, hi in zip(bounds[:-1], bounds[1:]):
                idx = order[lo:hi]
                yield {name: tensor[idx] for name, tensor in flat.items()}


# ---- the algorithm -------------------------------------------------------------------------
StepCallback = Callable[[StepArrays], bool]
IterationCallback = Callable[["PPO"], bool]


class PPO:
    """The trainer: ``learn``, ``predict``, ``policy`` (the :class:`ActorCritic`), checkpoints.

    :param settings: the hyperparameters (:func:`settings_from_config`)
    :param env: the task: a VecEnv, stepped through ``step_arrays`` where it has it
    """

    def __init__(self, settings: PPOSettings, env: Any):
        self.settings = s = settings
        self.env = env
        self.observation_space, self.action_space = env.observation_space, env.action_space
        if len(self.observation_space.shape or ()) != 1:
            raise RigDojoError(f"ppo takes flat observations, not shaped {self.observation_space.shape}")
        self.layout = ActionLayout.of(self.action_space)
        self.n_envs = int(env.num_envs)
        with torch.random.fork_rng(devices=[]):  # the same seed builds the same network, whatever ran before
            torch.manual_seed(s.seed)
            if getattr(env, "policy_network", "") == "chain":  # rig-agnostic joint tokens (agents/chain_policy.py)
                from .chain_policy import ChainActorCritic

                s.normalize_observations = False  # the tokens come in fixed units; a library network reads them so
                self.policy = ChainActorCritic.for_space(self.observation_space, self.layout, s.log_std_init)
            else:
                self.policy = ActorCritic(int(self.observation_space.shape[0]), self.layout, s.net_arch,
                                          s.activation_fn, s.log_std_init, s.obs_clip)
        self.optimizer = torch.optim.Adam(self.policy.parameters(), lr=s.learning_rate, eps=1e-5)
        self.generator = torch.Generator().manual_seed(s.seed)
        self.learning_rate = s.learning_rate
        self.num_timesteps = 0
        self.iterations = 0
        self._total_timesteps = 0
        self._progress_remaining: Callable[[], float] | None = None  # a clock (time budgets) instead of steps
        self._last_obs: np.ndarray | None = None
        self._steps = arrays_view(env)
        self.last_stats: dict[str, float] = {}

    # -- acting ------------------------------------------------------------------------------
    def predict(self, observation: np.ndarray, state: Any = None, episode_start: Any = None,
                deterministic: bool = True) -> tuple[np.ndarray, None]:
        return self.policy.predict(observation, deterministic=deterministic, generator=self.generator)

    def use_time_progress(self, progress_remaining: Callable[[], float]) -> None:
        """Let the learning-rate schedule follow a clock (1 at the start, 0 at the end) instead of steps."""
        self._progress_remaining = progress_remaining

    def progress_remaining(self) -> float:
        if self._progress_remaining is not None:
            return float(self._progress_remaining())
        return 1.0 - self.num_timesteps / max(self._total_timesteps, 1)

    # -- the loop ------------------------------------------------------------------------------
    def learn(self, total_timesteps: int, callback: StepCallback | None = None,
              on_iteration: IterationCallback | None = None, reset_num_timesteps: bool = True,
              **_ignored: Any) -> PPO:
        """Train until ``total_timesteps`` more env-steps (SB3's counting), or a callback returns False.

        ``callback(step)`` runs after every step of every environment (statistics, pause, stop);
        returning False abandons the rollout in progress (the counter goes back to the last update,
        which is what a checkpoint holds). ``on_iteration(ppo)`` runs after every update.
        """
        if reset_num_timesteps:
            self.num_timesteps = 0
        self._total_timesteps = total_timesteps + self.num_timesteps
        if reset_num_timesteps or self._last_obs is None:
            self._last_obs = np.asarray(self._steps.reset(), dtype=np.float32)
            if self.settings.stagger_episodes and hasattr(self.env, "stagger_episodes"):
                self.env.stagger_episodes()  # environments out of step: each rollout sees every phase of an episode
        s = self.settings
        storage = RolloutStorage(s.n_steps, self.n_envs, self.policy.obs_dim, self.layout.size)
        while self.num_timesteps < self._total_timesteps:
            if not self.collect(storage, callback):
                break
            self.update(storage)
            if on_iteration is not None and not on_iteration(self):
                break
        return self

    @torch.no_grad()
    def collect(self, storage: RolloutStorage, callback: StepCallback | None = None) -> bool:
        """Fill ``storage`` with ``n_steps`` steps of every environment; False if a callback stopped it."""
        s, policy = self.settings, self.policy
        started_at = self.num_timesteps
        obs = torch.from_numpy(self._last_obs)
        for t in range(s.n_steps):
            if s.normalize_observations:
                policy.obs_norm.update(obs)
            x = policy.obs_norm(obs)
            out = policy.actor(x)
            actions, log_probs = policy.sample(out, self.generator)
            values = policy.critic(x).squeeze(-1)
            step = self._steps.step_arrays(policy.env_actions(actions))
            rewards = torch.from_numpy(np.asarray(step.reward, dtype=np.float32)).clone()
            timeouts = np.flatnonzero(step.truncated[step.done_idx]) if step.done_idx.size else ()
            if len(timeouts):  # a time limit is not an end: bootstrap from the state it cut off
                rows = step.done_idx[timeouts]
                last = torch.from_numpy(np.asarray(step.terminal_obs[timeouts], dtype=np.float32))
                rewards[rows] += s.gamma * policy.critic(policy.obs_norm(last)).squeeze(-1)
            storage.obs[t], storage.actions[t], storage.log_probs[t], storage.values[t] = x, actions, log_probs, values
            storage.rewards[t] = rewards
            storage.dones[t] = torch.from_numpy(step.dones.astype(np.float32))
            obs = torch.from_numpy(np.asarray(step.obs, dtype=np.float32))
            self._last_obs = obs.numpy()
            self.num_timesteps += self.n_envs
            if callback is not None and not callback(step):
                self.num_timesteps = started_at  # this rollout is not learnt from
                return False
        last_values = policy.critic(policy.obs_norm(obs)).squeeze(-1)
        storage.compute_returns(last_values, s.gamma, s.gae_lambda)
        return True

    def update(self, storage: RolloutStorage) -> None:
        """``n_epochs`` passes of clipped-surrogate updates over the rollout's minibatches."""
        s, policy = self.settings, self.policy
        if s.normalize_advantage:
            adv = storage.advantages
            storage.advantages = (adv - adv.mean()) / (adv.std() + 1e-8)
        if s.desired_kl <= 0:  # a schedule of the progress instead of the adaptive rate
            from .algorithms import LearningRateSchedule

            self.learning_rate = LearningRateSchedule(s.lr_schedule, s.learning_rate)(self.progress_remaining())
        stats = {"policy_loss": 0.0, "value_loss": 0.0, "entropy": 0.0, "kl": 0.0, "clip_fraction": 0.0}
        n = 0
        for batch in storage.minibatches(s.minibatches(), s.n_epochs, self.generator):
            out = policy.actor(batch["obs"])
            log_probs, entropy = policy.log_prob_entropy(out, batch["actions"])
            values = policy.critic(batch["obs"]).squeeze(-1)
            log_ratio = log_probs - batch["log_probs"]
            ratio = log_ratio.exp()
            with torch.no_grad():
                kl = float(((ratio - 1.0) - log_ratio).mean())  # approximate KL(old || new)
                if s.desired_kl > 0:  # adapt the step size to the measured KL (rsl_rl)
                    if kl > 2.0 * s.desired_kl:
                        self.learning_rate = max(LR_BOUNDS[0], self.learning_rate / 1.5)
                    elif 0.0 < kl < s.desired_kl / 2.0:
                        self.learning_rate = min(LR_BOUNDS[1], self.learning_rate * 1.5)
            for group in self.optimizer.param_groups:
                group["lr"] = self.learning_rate
            adv = batch["advantages"]
            policy_loss = torch.max(-adv * ratio, -adv * ratio.clamp(1.0 - s.clip_range, 1.0 + s.clip_range)).mean()
            value_loss = (values - batch["returns"]).square()
            if s.clip_range_vf > 0:
                clipped = batch["values"] + (values - batch["values"]).clamp(-s.clip_range_vf, s.clip_range_vf)
                value_loss = torch.max(value_loss, (clipped - batch["returns"]).square())
            value_loss = value_loss.mean()
            loss = policy_loss + s.vf_coef * value_loss - s.ent_coef * entropy.mean()
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(policy.parameters(), s.max_grad_norm)
            self.optimizer.step()
            stats["policy_loss"] += float(policy_loss.detach())
            stats["value_loss"] += float(value_loss.detach())
            stats["entropy"] += float(entropy.detach().mean())
            stats["kl"] += kl
            stats["clip_fraction"] += float(((ratio - 1.0).abs() > s.clip_range).float().mean())
            n += 1
        self.iterations += 1
        self.last_stats = {k: v / max(n, 1) for k, v in stats.items()}
        self.last_stats["learning_rate"] = self.learning_rate

    # -- checkpoints: arrays and JSON in one npz, never a pickle ---------------------------------
    def checkpoint_bytes(self) -> bytes:
        """Everything resume needs (network, normaliser, optimiser, random state, counters) as an npz."""
        arrays: dict[str, np.ndarray] = {f"model/{k}": v.detach().cpu().numpy()
                                         for k, v in self.policy.state_dict().items()}
        params = list(self.policy.parameters())
        index = {id(p): i for i, p in enumerate(params)}
        for p, state in self.optimizer.state.items():
            for key, value in state.items():
                arrays[f"optim/{index[id(p)]}/{key}"] = torch.as_tensor(value).detach().cpu().numpy()
        arrays["rng/torch"] = self.generator.get_state().numpy()
        meta = {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, "num_timesteps": self.num_timesteps,
                "iterations": self.iterations, "learning_rate": self.learning_rate, "settings": asdict(self.settings),
                "network": self.policy.description()}
        arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        return buffer.getvalue()

    def save(self, path: Any) -> None:
        """Write the checkpoint (SB3's ``save`` for this trainer) to a path or a binary file."""
        data = self.checkpoint_bytes()
        if hasattr(path, "write"):
            path.write(data)
        else:
            with open(path, "wb") as f:
                f.write(data)

    def checkpoint_budget(self) -> int:
        """Bytes a checkpoint of this trainer can hold: the network (normaliser included), Adam's two
        moments of every parameter, the random generator's state and the JSON, as float64 at worst, with
        slack. A file declaring more is refused before anything is inflated (``agents/safe_read.py``)."""
        values = sum(t.numel() for t in self.policy.state_dict().values())
        return 3 * 8 * values + (4 << 20)

    def load_checkpoint_bytes(self, data: Any, name: str = "checkpoint") -> None:
        """Restore what :meth:`checkpoint_bytes` wrote (``data``: its bytes or a path to them). Only plain
        numeric arrays of the sizes this network has are read (``agents/safe_read.py``: sizes checked before
        anything is inflated); a pickle or anything that does not fit is refused, never run."""
        from .policy_file import _load_state
        from .safe_read import read_npz

        not_ours = f"{name} is not a Rig Dojo PPO checkpoint"
        arrays = read_npz(data, name=name, max_bytes=self.checkpoint_budget())
        raw = arrays.pop("meta", None)
        if raw is None or raw.dtype != np.uint8 or raw.ndim != 1:
            raise RigDojoError(f"{not_ours} (no readable meta)")
        try:
            meta = json.loads(raw.tobytes().decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise RigDojoError(f"{not_ours} (no readable meta)") from None
        if not isinstance(meta, dict) or meta.get("format") != CHECKPOINT_FORMAT:
            raise RigDojoError(not_ours)
        if meta.get("version") != CHECKPOINT_VERSION:
            raise RigDojoError(f"{name} is PPO checkpoint version {str(meta.get('version'))[:20]}; this Rig Dojo "
                               f"reads version {CHECKPOINT_VERSION}")
        counters = {}
        for key, low, high in (("num_timesteps", 0, 10**15), ("iterations", 0, 10**15)):
            value = meta.get(key)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value < high:
                raise RigDojoError(f"{name}: its {key} is not a count; the checkpoint is damaged")
            counters[key] = value
        learning_rate = meta.get("learning_rate")
        if isinstance(learning_rate, bool) or not isinstance(learning_rate, (int, float)) \
                or not math.isfinite(learning_rate) or not 0 <= learning_rate <= 1e6:
            raise RigDojoError(f"{name}: its learning_rate is not a plausible number; the checkpoint is damaged")
        model = {key[len("model/"):]: value for key, value in arrays.items() if key.startswith("model/")}
        _load_state(self.policy, model, name)  # names and shapes first: a message that names algo.net_arch
        params = list(self.policy.parameters())
        state: dict[int, dict[str, torch.Tensor]] = {}
        rng = None
        for key, value in arrays.items():
            kind, _, rest = key.partition("/")
            if kind == "model":
                continue
            elif kind == "optim":
                number, _, slot = rest.partition("/")
                if not number.isdigit() or int(number) >= len(params) or slot not in OPTIMIZER_SLOTS:
                    raise RigDojoError(f"{name}: optimiser state {key[:80]!r} does not fit this network")
                shape = tuple(params[int(number)].shape) if slot != "step" else ()
                if value.dtype.kind != "f" or tuple(value.shape) != shape:
                    raise RigDojoError(f"{name}: optimiser state {key[:80]} is {value.dtype} {tuple(value.shape)}; "
                                       f"expected floats shaped {shape}")
                state.setdefault(int(number), {})[slot] = torch.as_tensor(np.array(value, dtype=np.float32))
            elif key == "rng/torch":
                rng = value
            else:
                raise RigDojoError(f"{name}: unexpected array {key[:80]!r}; the checkpoint is damaged")
        self.optimizer.state.clear()
        for index, values in state.items():
            self.optimizer.state[params[index]] = values
        if rng is not None:
            try:
                self.generator.set_state(torch.as_tensor(np.array(rng, dtype=np.uint8)))
            except (RuntimeError, ValueError, TypeError):
                raise RigDojoError(f"{name}: its random generator state is damaged") from None
        self.num_timesteps, self.iterations = counters["num_timesteps"], counters["iterations"]
        self.learning_rate = float(learning_rate)
        for group in self.optimizer.param_groups:
            group["lr"] = self.learning_rate


def build(config: Any, env: Any) -> PPO:
    """A fresh trainer for ``config`` on ``env`` (``algorithms.build_model`` calls this for ``ppo``)."""
    return PPO(settings_from_config(config), env)


def load(path: Any, env: Any, config: Any) -> PPO:
    """A trainer restored from a checkpoint file written by :meth:`PPO.checkpoint_bytes`."""
    from pathlib import Path

    path = Path(path)
    model = build(config, env)
    model.load_checkpoint_bytes(path, f"checkpoint {path.parent.name}/{path.name}")
    return model
