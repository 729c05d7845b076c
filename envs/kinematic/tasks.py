"""The task registry: one module per task, one line here (no bpy)."""

from __future__ import annotations

from ...errors import RigDojoError
from .aim import AimTask
from .grasp import GraspTask
from .task import KinematicTask
from .reach import ReachTask
from .task_spec import TaskSpec

TASKS: dict[str, type[KinematicTask]] = {"reach": ReachTask, "aim": AimTask, "grasp": GraspTask}


def make_task(spec: TaskSpec, n_envs: int = 64, seed: int | None = None, discrete: bool = False) -> KinematicTask:
    """Build the batched environment for ``spec`` (observed as joint tokens, ``envs/kinematic/chains.py``, when
    ``spec.observation`` is ``"chain"``)."""
    if spec.observation == "chain":
        from .chains import make_chain_task

        return make_chain_task(spec, n_envs=n_envs, seed=seed, discrete=discrete)
    try:
        cls = TASKS[spec.kind]
    except KeyError:
        raise RigDojoError(f"unknown task {spec.kind!r}; choose one of {', '.join(TASKS)}") from None
    return cls(spec, n_envs=n_envs, seed=seed, discrete=discrete)
