"""The edge side of the family registry: read any task from the open .blend, bake any policy file.

``envs.families`` knows the families; each names its bpy hooks module (``scene/<family>/family.py``).
The sidebar and the command line call these two functions and never ask which family a task is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import bpy

from ..envs.families import family_of
from ..errors import RigDojoError


def edge(task: str):
    """The bpy hooks of ``task``'s family."""
    return family_of(task).edge_hooks()


def spec_from_config(config: Any, frames: tuple[int, int] | None = None) -> Any:
    """The spec of ``config.task`` read from the open .blend (give it to ``envs.families.env_factory``)."""
    return edge(config.task).spec_from_config(config, frames)


def armature_problem(settings) -> str | None:
    """Why the sidebar's rig is not one to train (none, or not an armature), or None."""
    rig = settings.rig
    if rig is None:
        return "Pick an armature in Rig & Task first"
    if rig.type != 'ARMATURE':
        return f"{rig.name} is not an armature; pick an armature in Rig & Task"
    return None


def provenance(policy_path, policy, config, seed: int) -> dict[str, Any]:
    """What a baked Action records about where it came from (DESIGN.md, rule 6)."""
    path = Path(policy_path).resolve()
    return {"policy": str(path), "policy_sha256": policy.sha256, "seed": seed, "run_folder": str(path.parent),
            "config": config.to_toml()}


def bake_frames(frames: tuple[int, int] | None) -> tuple[int, int]:
    """The frame range to bake: ``frames`` or the scene's; ``RigDojoError`` when it is empty."""
    scene = bpy.context.scene
    start, end = frames or (scene.frame_start, scene.frame_end)
    if end <= start:
        raise RigDojoError(f"the frame range {start}-{end} is empty; give START-END with END after START")
    return start, end


def bake_task_policy(policy_path, frames: tuple[int, int] | None = None, action_name: str | None = None,
                     reduce_degrees: float | None = None, replace_action: str | None = None, config=None,
                     seed: int = 0, undo_push: bool = False):
    """Bake any policy file onto what its config names; returns the family's report (``to_dict``, ``format``)."""
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
                                    seed=seed, undo_push=undo_push)
