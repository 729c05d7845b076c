"""A finished run's ``summary.json``: deterministic evaluation of ``final.rdpolicy`` plus the family's numbers.

No bpy: the command line's ``train`` (``headless.run_training``) and a sweep's trials on Ray workers
write the same file the same way, so a sweep's trial folder is a normal run folder.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from .config import TrainConfig


def write_run_summary(config: TrainConfig, make_env: Callable[..., Any], run_dir: Path, *, steps: int,
                      wall: float, episodes: int = 64, report: Callable[[Any, TrainConfig], dict] | None = None,
                      extra_fields: dict | None = None,
                      evaluation: Callable[[Any, TrainConfig, int], Any] | None = None,
                      resumed_from_step: int = 0) -> tuple[dict, Any, dict]:
    """Evaluate ``run_dir/final.rdpolicy`` over ``episodes`` deterministic episodes and write ``summary.json``.

    :param config: the run's config
    :param make_env: the task factory ``make_env(config, n_envs, seed)``
    :param run_dir: the run folder (holds ``final.rdpolicy``)
    :param steps: environment steps trained
    :param wall: wall-clock seconds of the training
    :param episodes: evaluation episodes
    :param report: ``report(policy, config) -> dict``: the family's own numbers, merged in
    :param extra_fields: more keys for summary.json (a sweep's trial name, an early stop)
    :param evaluation: ``evaluation(policy, config, episodes) -> Evaluation``: how the policy is evaluated
        (default ``agents.evaluate.evaluate`` over ``make_env``; ``envs.families.evaluate_policy`` asks the family)
    :param resumed_from_step: the step a resumed run continued from (its speed counts only the steps trained
        since; recorded in the summary)
    :returns: ``(summary, evaluation, family_report)``
    """
    from ..envs.families import family_of
    from .evaluate import evaluate
    from .files import json_text, write_atomic
    from .policy_file import load_policy

    run_dir = Path(run_dir)
    policy_path = run_dir / "final.rdpolicy"
    policy = load_policy(policy_path)
    result = evaluation(policy, config, episodes) if evaluation is not None else \
        evaluate(policy, make_env, config, episodes=episodes)
    episodes = result.episodes  # a family that evaluates its one deterministic move says 1
    summary = {
        "success_rate": result.success_rate, "final_error": result.final_error, "steps": int(steps),
        "wall_seconds": wall,
        "steps_per_second": max(0, int(steps) - int(resumed_from_step)) / wall if wall > 0 else 0.0,
        "mean_jerk": result.mean_jerk, "limit_violations": result.limit_violation_total,
        "episodes": episodes, "policy": str(policy_path), "policy_sha256": policy.sha256,
        "task": config.task, "rig": config.rig.rig, "algo": config.algo.name, "seed": config.algo.seed,
    }
    if resumed_from_step:
        summary["resumed_from_step"] = int(resumed_from_step)
    if not has_joint_limits(make_env, config):
        del summary["limit_violations"]  # the rig has none: a count against the twin's default range misleads
    extra = report(policy, config) if report is not None else {}
    if extra:
        summary.update(family_of(config.task).hooks().summary_fields(extra))
    summary.update(extra)
    summary.update(extra_fields or {})
    write_atomic(run_dir / "summary.json", json_text(summary).encode())
    return summary, result, extra


def has_joint_limits(make_env: Callable[..., Any], config: TrainConfig) -> bool:
    """Whether the task's controls have joint limits of their own (tasks that do not say: yes)."""
    try:
        env = make_env(config, 1, 0)
    except Exception:
        return True
    try:
        return bool(getattr(env, "has_joint_limits", True))
    finally:
        close = getattr(env, "close", None)
        if close is not None:
            close()
