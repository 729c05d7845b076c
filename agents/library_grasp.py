"""How ``library:grasp`` is made: DAgger behaviour cloning of the multi-fingertip IK step on random hands (no bpy).

The same method as the reach and aim entries (``agents/library.py``'s :func:`~.library.pretrain_chains`), on
:func:`envs.kinematic.grasp_chains.random_hand_spec` hands: every joint token of a hand carries its share of a
damped-least-squares step that moves every fingertip to its contact on the object and the grip to the object's
centre (``step``); the network learns to act as that step clipped to a full action, on the states its own
actions lead to (round 1 follows the teacher, later rounds the network, every state labelled by the teacher).

Hands differ in joint count (9 to 51 tokens), so the samples are kept per hand with only that hand's tokens, and
a minibatch is drawn from a few hands at a time (padded to the longest of them): the network computes tokens up
to the longest in a batch, and keeping 64 tokens per sample would take several times the memory.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Callable

import numpy as np

from .library import ChainRecipe, dagger_episode


def grasp_recipe() -> ChainRecipe:
    """The recipe ``./dojo pretrain grasp`` follows (recorded beside the file)."""
    return ChainRecipe(task="grasp", seed=2, chains=48, envs_per_chain=16, rounds=4, teacher_rounds=1,
                       action_noise=0.1, updates_per_round=250, minibatch=2048, learning_rate=1e-3,
                       max_samples=400_000, log_std=-1.6)


def pretrain_grasp(recipe: ChainRecipe | None = None, report: Callable[[str], None] | None = None) -> tuple[Any, dict]:
    """Train the grasp entry's :class:`agents.chain_policy.ChainActorCritic` by DAgger on ``recipe.chains``
    random hands; returns ``(network, record)``."""
    import torch

    from ..envs.kinematic.grasp_chains import FEATURES, MAX_TOKENS, ChainGraspTask, random_hand_spec, teacher_actions
    from .chain_policy import ChainActorCritic
    from .threads import use_training_threads

    recipe = recipe or grasp_recipe()
    use_training_threads()
    say = report or (lambda _text: None)
    began = time.perf_counter()
    rng = np.random.default_rng(recipe.seed)
    hands = [ChainGraspTask(random_hand_spec(rng), recipe.envs_per_chain, seed=recipe.seed + i)
             for i in range(recipe.chains)]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(recipe.seed)
        net = ChainActorCritic(MAX_TOKENS, FEATURES)
    generator = torch.Generator().manual_seed(recipe.seed)
    optimizer = torch.optim.Adam(net.actor.parameters(), lr=recipe.learning_rate)
    split = MAX_TOKENS * FEATURES
    tokens: list[list[np.ndarray]] = [[] for _ in hands]  # per hand: (steps * envs, J, F) per round
    labels: list[list[np.ndarray]] = [[] for _ in hands]
    per_batch = 4  # hands in one minibatch
    loss_value = float("nan")
    total = 0
    def act(obs: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return net.actor(torch.as_tensor(obs)).clamp(-1, 1).numpy()

    for round_ in range(recipe.rounds):
        for h, task in enumerate(hands):
            J = task.n_joints
            seen, wanted = dagger_episode(task, teacher_actions, act, round_ < recipe.teacher_rounds,
                                          recipe.action_noise, rng)
            tokens[h].append(np.concatenate([o[:, :split].reshape(len(o), MAX_TOKENS, FEATURES)[:, :J] for o in seen]))
            labels[h].append(np.concatenate([w[:, :J] for w in wanted]))
        per_hand_cap = recipe.max_samples // len(hands)
        for h in range(len(hands)):
            while sum(len(x) for x in tokens[h]) > per_hand_cap and len(tokens[h]) > 1:
                tokens[h].pop(0)
                labels[h].pop(0)
        x_by_hand = [torch.as_tensor(np.concatenate(t)) for t in tokens]
        y_by_hand = [torch.as_tensor(np.concatenate(y)) for y in labels]
        total = sum(len(x) for x in x_by_hand)
        rows = max(recipe.minibatch // per_batch, 1)
        for _ in range(recipe.updates_per_round):
            chosen = torch.randperm(len(hands), generator=generator)[:per_batch].tolist()
            width = max(hands[h].n_joints for h in chosen)
            obs = torch.zeros((rows * len(chosen), split + MAX_TOKENS))
            target = torch.zeros((rows * len(chosen), MAX_TOKENS))
            for k, h in enumerate(chosen):
                pick = torch.randint(0, len(x_by_hand[h]), (rows,), generator=generator)
                J = hands[h].n_joints
                block = slice(k * rows, (k + 1) * rows)
                padded = torch.zeros((rows, MAX_TOKENS, FEATURES))
                padded[:, :J] = x_by_hand[h][pick]
                obs[block, :split] = padded.reshape(rows, -1)
                obs[block, split:split + J] = 1.0
                target[block, :J] = y_by_hand[h][pick]
            mask = obs[:, split:split + width]
            error = (net.actor(obs)[:, :width] - target[:, :width]) ** 2 * mask
            loss = error.sum() / mask.sum()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            loss_value = float(loss.detach())
        say(f"round {round_ + 1}/{recipe.rounds}: {total:,d} samples, loss {loss_value:.5f}, "
            f"{time.perf_counter() - began:.0f} s")
    with torch.no_grad():
        net.log_std.fill_(recipe.log_std)
    record = {"recipe": dataclasses.asdict(recipe), "samples": int(total), "loss": loss_value,
              "seconds": round(time.perf_counter() - began, 1),
              "method": "DAgger behaviour cloning of the multi-fingertip damped-least-squares IK step on random hands"}
    return net, record
