"""The library's physics stand/balance entry (``library:stand``): how it is trained and measured (no bpy).

The network is :class:`agents.chain_policy.ChainActorCritic` over hinge tokens (``envs/physics/tokens.py``: one
token per servo in body-size units, the root's state on every token), so it drives any creature of up to 128
hinges. It is trained by our PPO on random quadrupeds and bipeds (``envs/physics/random_creatures.py``:
proportions, leg lengths, masses, strengths, joint styles) with shoves (``physics.shove`` sizes per second at
random, about every two seconds), starting from the zero action: the last layer starts near 0, so the first
policy holds the rest pose, which already stands many quadrupeds, and learning adds what keeps them up after a
shove. :func:`stand_survival` measures a policy against that zero action.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np


@dataclass
class StandRecipe:
    """How ``library:stand`` is trained (recorded beside the file; ``./dojo pretrain stand`` repeats it)."""

    seed: int = 0
    quadrupeds: int = 6  # random creatures of each kind (envs.physics.random_creatures)
    bipeds: int = 18
    envs_per_creature: int = 8
    steps: int = 2_678_784  # PPO environment steps over all creatures (436 rollouts of 24 x 8 x 32)
    minutes: float = 0.0  # stop after this much wall clock too (0: steps only)
    episode_seconds: float = 5.0
    shove: float = 1.0  # physics.shove while training: half to all of this, sizes per second
    n_steps: int = 32  # PPO rollout steps per environment
    n_epochs: int = 4
    batch_size: int = 1024
    learning_rate: float = 3e-4
    log_std: float = -2.0  # exploration (std 0.14 of a full action: more topples quadrupeds at once)
    desired_kl: float = 0.01


# library:stand_biped: bipeds only (24 random bipeds); on quadrupeds it is worse than holding the rest pose
BIPED_RECIPE = StandRecipe(quadrupeds=0, bipeds=24, steps=2_740_224)  # 446 rollouts of 24 x 8 x 32


def pretrain_stand_biped(report: Callable[[str], None] | None = None) -> tuple[Any, dict]:
    """Train the ``stand_biped`` entry: :func:`pretrain_stand` with :data:`BIPED_RECIPE`."""
    net, record = pretrain_stand(BIPED_RECIPE, report)
    record["method"] = "our PPO on random bipeds (hinge tokens) with shoves, from the zero action"
    return net, record


def random_stand_tasks(recipe: StandRecipe, seed_offset: int = 0) -> list:
    """The recipe's random creatures as stand tasks observed as hinge tokens, with shoves on."""
    from ..envs.physics.random_creatures import random_creature
    from ..envs.physics.settings import PhysicsConfig
    from ..envs.physics.tokens import make_token_task

    rng = np.random.default_rng(recipe.seed + seed_offset)
    kinds = ["quadruped"] * recipe.quadrupeds + ["biped"] * recipe.bipeds
    config = PhysicsConfig(episode_seconds=recipe.episode_seconds, shove=recipe.shove)
    tasks = []
    for i, kind in enumerate(kinds):
        task = make_token_task(random_creature(rng, kind, f"{kind}{i}"), "stand", n_envs=recipe.envs_per_creature,
                               seed=recipe.seed + seed_offset + i, config=config)
        task.shoves = True
        tasks.append(task)
    return tasks


def layout_env() -> Any:
    """A one-creature token mix: the observation and action layout a ``library:stand`` file records."""
    from ..envs.physics.tokens import TokenMix

    return TokenMix(random_stand_tasks(StandRecipe(quadrupeds=1, bipeds=0, envs_per_creature=1))[:1])


def layout(record: dict) -> tuple[Any, Any]:
    """The config and task a stand library file records (``LibraryEntry.layout``): the stand task on joint tokens."""
    from .config import TrainConfig, defaults_for

    config = TrainConfig()
    config.task = "stand"
    config.algo = defaults_for("ppo", "stand")
    config.algo.seed = int(record["recipe"]["seed"])
    config.rig.observation = "chain"
    return config, layout_env()


def pretrain_stand(recipe: StandRecipe | None = None, report: Callable[[str], None] | None = None) -> tuple[Any, dict]:
    """Train the stand entry by our PPO on random creatures with shoves; returns ``(network, record)``."""
    import torch

    from ..envs.physics.tokens import TokenMix
    from .config import TrainConfig, defaults_for
    from .ppo import PPO, settings_from_config
    from .threads import use_training_threads

    recipe = recipe or StandRecipe()
    use_training_threads()
    say = report or (lambda _text: None)
    began = time.perf_counter()
    env = TokenMix(random_stand_tasks(recipe))
    config = TrainConfig()
    config.task = "stand"
    config.algo = defaults_for("ppo", "stand")
    algo = config.algo
    algo.seed, algo.n_envs, algo.n_steps, algo.n_epochs = recipe.seed, env.num_envs, recipe.n_steps, recipe.n_epochs
    algo.batch_size, algo.learning_rate = recipe.batch_size, recipe.learning_rate
    algo.extra = {**algo.extra, "log_std_init": recipe.log_std, "desired_kl": recipe.desired_kl}
    settings = settings_from_config(config)
    settings.n_envs = env.num_envs
    model = PPO(settings, env)
    last = [began]

    def on_iteration(ppo) -> bool:
        now = time.perf_counter()
        if now - last[0] > 30:
            last[0] = now
            stats = ppo.last_stats
            say(f"{ppo.num_timesteps:,d} steps, {now - began:.0f} s: " +
                ", ".join(f"{k} {v:.3g}" for k, v in stats.items() if k in ("ep_len_mean", "ep_rew_mean", "kl")))
        return not (recipe.minutes > 0 and now - began > recipe.minutes * 60)

    model.learn(recipe.steps, on_iteration=on_iteration)
    net = model.policy
    with torch.no_grad():
        net.log_std.clamp_(max=recipe.log_std)
    record = {"recipe": dataclasses.asdict(recipe), "samples": int(model.num_timesteps),
              "seconds": round(time.perf_counter() - began, 1),
              "method": "our PPO on random quadrupeds and bipeds (hinge tokens) with shoves, from the zero action"}
    return net, record


def stand_survival(spec, policy=None, *, envs: int = 8, seconds: float = 4.0, shove: float = 0.5,
                   seed: int = 0) -> dict:
    """Falls and seconds up of ``policy`` (a network with ``predict``; None: the zero action) on ``spec``'s
    stand task observed as hinge tokens, every root shoved at ``shove`` sizes/s after one second."""
    from ..envs.physics.settings import PhysicsConfig
    from ..envs.physics.tokens import make_token_task, shove_survival

    task = make_token_task(spec, "stand", n_envs=envs, seed=seed, config=PhysicsConfig(episode_seconds=seconds))
    act = None if policy is None else (lambda obs: policy.predict(obs, deterministic=True)[0])
    return shove_survival(task, act, seconds=seconds, speed=shove, seed=seed)
