"""Build the learning algorithm a TrainConfig names, on a task's VecEnv.

``ppo`` is our own PPO for batched twins (``agents/ppo.py``); ``sb3_ppo``, A2C, SAC, TD3 and
DQN come from Stable-Baselines3; ``qlearning`` is our tabular learner (``agents/qlearning.py``).
Learning-rate schedules are callables of SB3's ``progress_remaining`` (1 at the start, 0 at the end).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import RigDojoError
from .config import CONTINUOUS_ONLY, DISCRETE_ONLY, TrainConfig


class LearningRateSchedule:
    """``constant``, ``linear`` (to 0) or ``cosine`` (to 0) as a function of progress_remaining.

    A class rather than a closure so SB3's checkpoints can store it by reference.
    """

    def __init__(self, kind: str, initial: float):
        if kind not in ("constant", "linear", "cosine"):
            raise RigDojoError(f"algo.lr_schedule: {kind!r} is not one of constant, linear, cosine")
        self.kind, self.initial = kind, float(initial)

    def __call__(self, progress_remaining: float) -> float:
        p = min(max(float(progress_remaining), 0.0), 1.0)
        if self.kind == "linear":
            return self.initial * p
        if self.kind == "cosine":
            return self.initial * 0.5 * (1.0 - math.cos(math.pi * p))
        return self.initial


def model_class(algo: str) -> Any:
    """The class that implements ``algo`` (imported lazily: torch is heavy)."""
    if algo == "qlearning":
        from .qlearning import TabularQLearner

        return TabularQLearner
    if algo == "ppo":
        from .ppo import PPO

        return PPO
    import stable_baselines3 as sb3

    classes = {"sb3_ppo": sb3.PPO, "a2c": sb3.A2C, "sac": sb3.SAC, "td3": sb3.TD3, "dqn": sb3.DQN}
    if algo not in classes:
        raise RigDojoError(f"unknown algorithm {algo!r}; choose one of ppo, sb3_ppo, a2c, sac, td3, dqn, qlearning")
    return classes[algo]


def check_settings(config: TrainConfig) -> None:
    """Refuse settings the algorithm does not take before anything is built or written (our own
    algorithms check here; SB3's constructors refuse theirs when the model is built)."""
    if config.algo.name == "ppo":
        from .ppo import settings_from_config

        settings_from_config(config)


def check_action_space(algo: str, action_space: Any) -> None:
    from gymnasium import spaces

    discrete = isinstance(action_space, (spaces.MultiDiscrete, spaces.Discrete))
    if algo in CONTINUOUS_ONLY and discrete:
        raise RigDojoError(f"{algo} needs continuous actions but the task's actions are discrete; "
                           "set rig.discrete = false or pick ppo, a2c, dqn or qlearning")
    if algo in DISCRETE_ONLY and not discrete:
        raise RigDojoError(f"{algo} needs discrete actions but the task's actions are continuous; "
                           "set rig.discrete = true or pick ppo, a2c, sac or td3")


def joint_discrete(env: Any) -> Any:
    """SB3's DQN takes one Discrete action: present MultiDiscrete([3]*J) as Discrete(3**J)."""
    from gymnasium import spaces
    from stable_baselines3.common.vec_env import VecEnvWrapper

    class JointDiscreteActions(VecEnvWrapper):
        def __init__(self, venv: Any):
            self.nvec = tuple(int(n) for n in venv.action_space.nvec)
            super().__init__(venv, action_space=spaces.Discrete(int(np.prod(self.nvec))))

        def step_async(self, actions: np.ndarray) -> None:
            self.venv.step_async(np.stack(np.unravel_index(np.asarray(actions).reshape(-1), self.nvec), axis=1))

        def step_wait(self) -> Any:
            return self.venv.step_wait()

        def reset(self) -> Any:
            return self.venv.reset()

    if isinstance(env.action_space, spaces.MultiDiscrete):
        return JointDiscreteActions(env)
    return env


def task_actions(actions: np.ndarray, task_space: Any) -> np.ndarray:
    """Actions of a policy in the form the task takes (a joint index becomes per-joint actions)."""
    from gymnasium import spaces

    actions = np.asarray(actions)
    if isinstance(task_space, spaces.MultiDiscrete) and actions.ndim == 1 and task_space.nvec.size > 1:
        return np.stack(np.unravel_index(actions, tuple(int(n) for n in task_space.nvec)), axis=1)
    return actions


def build_model(config: TrainConfig, env: Any, tensorboard_log: str | Path | None = None) -> Any:
    """A fresh model for ``config.algo`` on ``env`` (an SB3 VecEnv).

    ``config.algo.extra`` is passed through as keyword arguments; for TD3
    ``action_noise_std`` becomes Gaussian action noise. Unknown extras are refused by
    the algorithm's constructor and reported as RigDojoError naming them.
    """
    from .threads import use_training_threads

    algo = config.algo
    check_action_space(algo.name, env.action_space)
    use_training_threads()  # every model we build trains with the machine's thread rule
    if algo.name == "ppo":
        from . import ppo

        return ppo.build(config, env)
    schedule = LearningRateSchedule(algo.lr_schedule, algo.learning_rate)
    extra = dict(algo.extra)
    cls = model_class(algo.name)
    if algo.name == "qlearning":
        kwargs = dict(learning_rate=schedule, gamma=algo.gamma, seed=algo.seed, **extra)
        return _construct(cls, algo.name, kwargs, env)

    policy_kwargs = dict(extra.pop("policy_kwargs", {}))
    if "activation_fn" in policy_kwargs:
        policy_kwargs["activation_fn"] = activation_class(policy_kwargs["activation_fn"])
    policy_kwargs.setdefault("net_arch", list(algo.net_arch))
    if algo.name == "dqn":
        env = joint_discrete(env)
    kwargs: dict[str, Any] = dict(learning_rate=schedule, gamma=algo.gamma, seed=algo.seed,
                                  policy_kwargs=policy_kwargs, verbose=0, device="cpu")
    if tensorboard_log is not None:
        kwargs["tensorboard_log"] = str(tensorboard_log)
    if algo.name in ("sb3_ppo", "a2c"):
        kwargs["n_steps"] = algo.n_steps
    if algo.name == "sb3_ppo":
        kwargs.update(batch_size=algo.batch_size, n_epochs=algo.n_epochs)
    if algo.name in ("sac", "td3", "dqn"):
        kwargs.update(batch_size=algo.batch_size, train_freq=algo.n_steps, gradient_steps=algo.n_epochs)
    if algo.name == "td3" and "action_noise_std" in extra:
        from stable_baselines3.common.noise import NormalActionNoise

        n = int(np.prod(env.action_space.shape))
        std = float(extra.pop("action_noise_std"))
        kwargs["action_noise"] = NormalActionNoise(np.zeros(n), std * np.ones(n))
    kwargs.update(extra)
    return _construct(cls, algo.name, kwargs, env, policy="MlpPolicy")


def _construct(cls: Any, name: str, kwargs: dict[str, Any], env: Any, policy: str | None = None) -> Any:
    try:
        return cls(policy, env, **kwargs) if policy else cls(env, **kwargs)
    except TypeError as exc:
        if "unexpected keyword argument" in str(exc):
            bad = str(exc).split("argument")[-1].strip(" '\"")
            raise RigDojoError(f"algo.extra.{bad} is not a setting of {name}; see its documentation "
                               "for the keyword arguments it takes") from None
        raise


def save_checkpoint(model: Any, file: Any, algo: str) -> None:
    """Write a resume checkpoint of ``model`` to ``file``: arrays and JSON, never a pickle (our PPO's and the
    tabular learner's own npz; agents/checkpoint_file.py for the SB3 algorithms)."""
    if algo == "ppo":
        file.write(model.checkpoint_bytes())
        return
    if algo == "qlearning":
        model.save(file)
        return
    from .checkpoint_file import save_checkpoint as save_arrays

    save_arrays(model, file, algo)


def load_checkpoint(algo: str, path: str | Path, env: Any, config: TrainConfig) -> Any:
    """A model from one of our resume checkpoints, bound to ``env``. Never runs code from the file: the
    model is built from ``config`` and the checkpoint's arrays are copied in (RigDojoError if they do not fit)."""
    if algo == "ppo":  # our PPO's own npz (agents/ppo.py), size-bounded like the others
        from . import ppo

        return ppo.load(path, env, config)
    cls = model_class(algo)
    schedule = LearningRateSchedule(config.algo.lr_schedule, config.algo.learning_rate)
    path = Path(path)
    name = f"checkpoint {path.parent.name}/{path.name}"
    if algo == "qlearning":
        from .safe_read import read_npz

        fresh = build_model(config, env)
        read_npz(path, name=name, max_bytes=2 * fresh.q_table.nbytes + (1 << 20))  # sizes checked first
        try:
            return cls.load(str(path), env=env, learning_rate=schedule)
        except (KeyError, ValueError, TypeError) as exc:
            raise RigDojoError(f"{name} is damaged or from another task ({exc})") from None
    from .checkpoint_file import load_into

    model = build_model(config, env)
    load_into(model, path, name)
    return model


ACTIVATIONS = ("Tanh", "ReLU", "ELU", "LeakyReLU", "GELU", "SiLU")


def activation_class(name: str) -> Any:
    import torch.nn as nn

    if name not in ACTIVATIONS:
        raise RigDojoError(f"activation_fn {name!r} is not one of {', '.join(ACTIVATIONS)}")
    return getattr(nn, name)


def use_time_progress(model: Any, progress_remaining: Callable[[], float]) -> None:
    """Drive the model's schedules (learning rate, exploration) by a clock instead of step counts.

    Used when the run has a time budget (``algo.minutes``): every schedule SB3 keeps reads
    ``_current_progress_remaining``, which SB3 refreshes through this one method; our PPO
    takes the clock itself.
    """
    if hasattr(model, "use_time_progress"):
        model.use_time_progress(progress_remaining)
        return

    def update(_num_timesteps: int, _total_timesteps: int) -> None:
        model._current_progress_remaining = float(progress_remaining())

    model._update_current_progress_remaining = update
