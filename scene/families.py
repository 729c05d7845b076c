"""The edge side of the family registry: read any task from the open .blend, bake any policy file.

``envs.families`` knows the families; each names its bpy hooks module (``scene/<family>/family.py``).
The sidebar and the command line call these functions and never ask which family a task is.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import bpy

from ..envs.families import MAX_BAKE_FRAMES, family_of
from ..errors import RigDojoError


def edge(task: str):
    """The bpy hooks of ``task``'s family."""
    return family_of(task).edge_hooks()


def spec_from_config(config: Any, frames: tuple[int, int] | None = None) -> Any:
    """The spec of ``config.task`` read from the open .blend (give it to ``envs.families.env_factory``)."""
    return edge(config.task).spec_from_config(config, frames)


def check_twin(config: Any, spec: Any, run_dir: Path | str | None = None) -> Any | None:
    """Train only what verifies (DESIGN.md, rule 8): the family's parity check of ``spec`` against Blender
    (its edge's ``check_twin(config, spec, run_dir)``), or None for a family without one. Raises
    ``NotExactError`` (exit 3) with the reason for a twin that is not exact; what comes back has ``line`` (one
    line to show) and ``notes``. ``run_dir``: a run folder whose recorded check may be reused (``record_twin_check``).
    """
    hook = getattr(edge(config.task), "check_twin", None)
    return hook(config, spec, Path(run_dir) if run_dir is not None else None) if hook is not None else None


def record_twin_check(check: Any, run_dir: Path | str | None) -> None:
    """Keep ``check`` (from :func:`check_twin`) beside a run, where a resume or the run's bake can reuse it."""
    if check is not None and run_dir is not None and hasattr(check, "record"):
        check.record(Path(run_dir))


def spec_for_training(config: Any, frames: tuple[int, int] | None = None,
                      run_dir: Path | str | None = None) -> tuple[Any, Any | None]:
    """``(spec, check)``: :func:`spec_from_config` and then :func:`check_twin` on it (a training starts here)."""
    spec = spec_from_config(config, frames)
    return spec, check_twin(config, spec, run_dir)


def armature_problem(settings) -> str | None:
    """Why the sidebar's rig is not one to train (none, or not an armature), or None."""
    rig = settings.rig
    if rig is None:
        return "Pick an armature in Rig & Task first"
    if rig.type != 'ARMATURE':
        return f"{rig.name} is not an armature; pick an armature in Rig & Task"
    return None


def provenance(policy_path, policy, config, seed: int, target: dict[str, Any] | None = None) -> dict[str, Any]:
    """What a baked Action records about where it came from (DESIGN.md, rule 6); ``target``: what the rollout
    reached for (an object's name, or a region's random point and the seed that drew it)."""
    path = Path(policy_path).resolve()
    out = {"policy": str(path), "policy_sha256": policy.sha256, "seed": seed, "run_folder": str(path.parent),
           "config": config.to_toml()}
    if target:
        out["target"] = dict(target)
    return out


def bake_frames(frames: tuple[int, int] | None) -> tuple[int, int]:
    """The frame range to bake: ``frames`` or the scene's; ``RigDojoError`` when it is empty."""
    scene = bpy.context.scene
    start, end = frames or (scene.frame_start, scene.frame_end)
    if end <= start:
        raise RigDojoError(f"the frame range {start}-{end} is empty; give START-END with END after START")
    if end - start + 1 > MAX_BAKE_FRAMES:
        raise RigDojoError(f"the frame range {start}-{end} is {end - start + 1:,d} frames; at most "
                           f"{MAX_BAKE_FRAMES:,d} in one bake: bake it in parts")
    return start, end


def bake_options_for(family, options: dict[str, Any] | None) -> dict[str, Any]:
    """The bake options (``Family.bake_options``: the rig's "Keys On") of ``options`` that ``family``'s bake takes,
    checked against their choices; RigDojoError for another family's option set to anything but its default."""
    from ..agents.schema import check_choices
    from ..envs.families import families

    options = {k: v for k, v in (options or {}).items() if v is not None}
    own = {f.name for f in dataclasses.fields(family.bake_options)} if family.bake_options else set()
    for name, value in options.items():
        if name in own:
            continue
        declared = next((f.bake_options for f in families() if f.bake_options is not None
                         and name in {g.name for g in dataclasses.fields(f.bake_options)}), None)
        if declared is None:
            raise RigDojoError(f"unknown bake option {name!r}")
        if getattr(declared(), name) != value:
            flag = "--" + name.replace("_", "-")
            raise RigDojoError(f"{flag} {value} is an option of another task family's bake; the "
                               f"{', '.join(family.task_names)} bake keys what it simulated")
    mine = {k: v for k, v in options.items() if k in own}
    if mine:
        check_choices(family.bake_options(**mine), "bake")
    return mine


def bake_task_policy(policy_path, frames: tuple[int, int] | None = None, action_name: str | None = None,
                     reduce_degrees: float | None = None, replace_action: str | None = None, config=None,
                     seed: int = 0, undo_push: bool = False, options: dict[str, Any] | None = None):
    """Bake any policy file onto what its config names; returns the family's report (``to_dict``, ``format``).

    ``options``: the family's own bake options by name (``Family.bake_options``, e.g. ``{"keys_on": "ik"}``)."""
    from ..agents.policy_file import load_policy

    if not Path(policy_path).is_file():
        raise RigDojoError(f"{policy_path}: no such policy file")
    config = config or load_policy(policy_path).config
    family = family_of(config.task)
    if not family.bake_reduces_keys and (reduce_degrees is not None or replace_action is not None):
        raise RigDojoError(f"key reduction (--reduce) and replacing an Action are for rig bakes; the {config.task} "
                           "bake keys every frame into a new Action so Blender shows exactly what was simulated")
    return family.edge_hooks().bake(policy_path, frames=frames, action_name=action_name,
                                    reduce_degrees=reduce_degrees, replace_action=replace_action, config=config,
                                    seed=seed, undo_push=undo_push, **bake_options_for(family, options))
