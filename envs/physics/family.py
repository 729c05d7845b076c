"""The physics family's core hooks (``envs.families``): its environments, clips for the bake, its report."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..families import terms_from_config
from .mjcf import PhysicsSpec
from .task import PhysicsTask, make_physics_task, record_clip


def pin_terms(spec: PhysicsSpec, terms: list | None, task: str, guide: bool = True) -> list | None:
    """``terms`` (None: the task's defaults) with the pin terms added when the spec has pins and they are missing,
    so pins always pay (``guide``: ``reference.guide``, which sets their pose kernel); RigDojoError for a pin term
    without pins."""
    from ...errors import RigDojoError
    from . import default_terms
    from . import pin_terms as defaults

    names = {t.name for t in terms or [] if t.enabled}
    wanted = defaults(guide)
    if not spec.n_pins:
        if names & {t.name for t in wanted}:
            raise RigDojoError("the pin_pose and pin_effector terms need pins: set reference.pins (an Action with keyed "
                               "poses) or reference.effector_pins, or remove the terms")
        return terms
    terms = list(terms) if terms is not None else default_terms(task)
    have = {t.name for t in terms}
    return terms + [t for t in wanted if t.name not in have]


def make_task(spec: PhysicsSpec, config, n_envs: int, seed: int) -> PhysicsTask:
    """The physics task ``config.task`` over ``spec`` with the ``[physics]`` settings and the config's terms."""
    terms = pin_terms(spec, terms_from_config(config) if config.rewards else None, config.task,
                      bool(config.reference.guide))
    if config.rig.observation == "chain":  # hinge tokens: what the library's stand policy reads (tokens.py)
        if spec.n_pins:
            from ...errors import RigDojoError

            raise RigDojoError("pins cannot be taught to the library's stand policy (--init-from library:stand): its "
                               "hinge tokens do not see pins; leave out --init-from, or the pins")
        from .tokens import make_token_task

        return make_token_task(spec, config.task, n_envs=n_envs, seed=seed, config=config.physics, terms=terms,
                               curriculum_threshold=float(config.curriculum.threshold))
    task = make_physics_task(spec, config.task, n_envs=n_envs, seed=seed, config=config.physics, terms=terms,
                             curriculum_threshold=float(config.curriculum.threshold))
    task.discount = float(config.algo.gamma)
    if task.pins is not None:
        task.pins.set_guide(bool(config.reference.guide))
    return task


def env_factory(spec: PhysicsSpec) -> Callable[..., Any]:
    """``make_env(config, n_envs, seed)`` of the physics task ``config.task`` over a creature."""
    def make_env(config, n_envs: int, seed: int) -> PhysicsTask:
        return make_task(spec, config, n_envs, seed)
    return make_env


def physics_clip(policy, spec: PhysicsSpec, config, n_steps: int | None = None, seed: int = 0):
    """One deterministic rollout of ``policy`` (None: zero actions, the rest pose held) in the
    physics twin, recorded for the bake (``envs.physics.task.PhysicsClip``); stops when it falls."""
    task = make_task(spec, config, 1, seed)
    task.random_start = task.shoves = False  # a tracking clip starts at the reference's first frame, unshoved
    if policy is None:
        return task, record_clip(task, None, n_steps=n_steps, seed=seed)
    if hasattr(policy, "check_compatible"):
        policy.check_compatible(task)
    return task, record_clip(task, lambda obs: policy.predict(obs, deterministic=True)[0], n_steps=n_steps, seed=seed)


def report(policy, spec: PhysicsSpec, config, seeds: tuple[int, ...] = (10_000, 10_001, 10_002, 10_003)) -> dict:
    """Seconds upright and distance travelled along the task's direction (body sizes) over full episodes,
    for the trained policy and for zero actions (the rest pose held), averaged over ``seeds``."""
    from .pins import summarise

    out: dict[str, Any] = {}
    for name, pol in (("trained", policy), ("zero_actions", None)):
        up, dist, falls, pins = [], [], 0, []
        for seed in seeds:
            task, clip = physics_clip(pol, spec, config, seed=seed)
            up.append((len(clip.frames) - 1) / task.fps)
            dist.append(float((clip.root_world[-1, :3, 3] - clip.root_world[0, :3, 3]) @ task.direction) / task.unit)
            falls += int(clip.fell)
            if task.pins is not None:
                pins.append(task.pins.measures(0, fell=clip.fell))
        out[name] = {"seconds_up": float(np.mean(up)), "distance": float(np.mean(dist)), "falls": falls}
        if pins:  # the pins met; zero actions: the keys' in-betweens played in physics (guided), or the rest pose
            out[name]["pins"] = summarise(pins)
            out["pins_guided"] = bool(config.reference.guide)
    out["episode_seconds"] = float(config.physics.episode_seconds)
    out["episodes"] = len(seeds)
    if config.task == "track":  # how the clip is tracked, against the raw keys played in physics
        from .tracking import track_report

        def measure(pol):
            task = make_task(spec, config, len(seeds), seeds[0])
            act = None if pol is None else (lambda obs: pol.predict(obs, deterministic=True)[0])
            return track_report(task, act)

        out["track"] = {"trained": measure(policy), "raw_keys": measure(None)}
    return {"physics": out}


def report_line(report: dict) -> str:
    from .tracking import sliding_text

    ph = report["physics"]
    parts = [f"{name} {ph[name]['seconds_up']:.2f} s up, {ph[name]['distance']:+.2f} sizes"
             for name in ("trained", "zero_actions")]
    line = f"over {ph['episodes']} episodes of {ph['episode_seconds']:g} s: " + ", ".join(parts)
    if "pins" in ph["trained"]:
        from .pins import pins_text

        still = "the keys played (zero actions)" if ph.get("pins_guided") else "zero actions"
        line += "; pins: " + "; ".join(f"{label} {pins_text(ph[name]['pins'])}"
                                       for name, label in (("trained", "trained"), ("zero_actions", still)))
    if "track" in ph:
        line += "; tracking the reference: " + "; ".join(
            f"{name.replace('_', ' ')} {r['joint_error_degrees']:.2f}° joint error, {r['end_error_cm']:.1f} cm end "
            f"effectors, foot sliding {sliding_text(r)}, {r['falls']} of {r['episodes']} fell"
            for name, r in ph["track"].items())
    return line


def summary_fields(report: dict) -> dict:
    return {}


def load_spec(path) -> PhysicsSpec:
    return PhysicsSpec.load(path)
