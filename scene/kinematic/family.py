"""The kinematic family's edge hooks (``envs.families``): read a reach/aim/grasp task from the scene, bake
a policy onto the rig's control bones, preview on the rig, and the sidebar's task settings."""

from __future__ import annotations

import bpy

from ...errors import RigDojoError
from ..pose import BonePreview

can_verify = True  # Verify (twin vs Blender) applies to this family's selection


def spec_from_config(config, frames: tuple[int, int] | None = None):
    """The ``TaskSpec`` ``config`` describes, read from the open .blend."""
    from .task_extract import task_from_config

    return task_from_config(config, frames=frames)


def bake(policy_path, *, frames=None, action_name=None, reduce_degrees=None, replace_action=None, config=None,
         seed: int = 0, undo_push: bool = False):
    """Roll the policy out, key the control bones into a new Action and verify it in Blender."""
    from .bake import bake_policy

    return bake_policy(policy_path, frames=frames, action_name=action_name, reduce_degrees=reduce_degrees,
                       replace_action=replace_action, config=config, seed=seed, undo_push=undo_push)


def blender_loop(config, workers: int, address: str | None = None, frames=None):
    """``(make_env, spec, close, workers)``: the task stepped by ``workers`` Blender processes, for a selection the
    twin refuses (``scene/kinematic/loop.py``)."""
    from .loop import blender_loop as start

    return start(config, workers, address, frames)


def bake_in_loop(policy_path, **options):
    """Bake a policy trained with Blender in the loop (its rollout evaluated by Blender)."""
    from .loop import bake_in_loop as bake_it

    return bake_it(policy_path, **options)


def run_name(config) -> str:
    return config.rig.rig or "rig"


def Preview(config, spec):  # noqa: N802  (the family's Preview, a class in the other families)
    """Plays preview frames (``(C, 3)`` Euler XYZ of the controls) on the rig; restores its pose after."""
    from .verify import set_control_rotations

    obj = bpy.data.objects[config.rig.rig]
    return BonePreview(obj, spec.rig.controls, pose=lambda o, rotations: set_control_rotations(o, spec.rig, rotations))


def training_problem(settings) -> str | None:
    """Why the sidebar cannot train this task yet (a poll message), or None."""
    from ..families import armature_problem

    problem = armature_problem(settings)
    if problem:
        return problem
    if settings.task == 'grasp':
        if settings.target is None:
            return "Pick the mesh to grasp as the Target in Rig & Task"
    elif settings.target is None and settings.region is None:
        return "Pick a target object (or a region) in Rig & Task"
    return None


def draw_task(layout, context, settings) -> None:
    rig = settings.rig if settings.rig is not None and settings.rig.type == 'ARMATURE' else None
    grasp = settings.task == 'grasp'
    col = layout.column()
    col.prop(settings, "controls")
    row = col.row()
    row.operator("rig_dojo.controls_from_selection", icon='RESTRICT_SELECT_OFF')
    if rig is not None:
        row = col.row(align=True)
        row.prop_search(settings, "control_collection", rig.data, "collections_all", text="Collection")
        row.operator("rig_dojo.controls_from_collection", text="", icon='CHECKMARK')
        col.prop_search(settings, "effector", rig.data, "bones")
    else:
        col.prop(settings, "effector")
    col.prop(settings, "tracked", text="Fingertips" if grasp else "Tracked")
    if rig is not None:
        col.prop_search(settings, "tracked_pick", rig.data, "bones", text="Add")

    col = layout.column()
    col.prop(settings, "target", text="Grasp Object" if grasp else "Target")
    if not grasp:
        col.prop(settings, "region")
    col.prop(settings, "episode_length")
    col.prop(settings, "tolerance")
    col.prop(settings, "discrete")


draw_advanced = None  # the rig tasks have no advanced task settings


def draw_curriculum(layout, settings) -> None:
    col = layout.column()
    col.prop(settings, "curriculum_enabled")
    sub = col.column()
    sub.active = settings.curriculum_enabled
    sub.prop(settings, "curriculum_threshold")
    for i, stage in enumerate(settings.curriculum_stages):
        row = sub.row(align=True)
        row.prop(stage, "region_scale", text=f"Stage {i + 1}")
        row.prop(stage, "tolerance", text="")
        row.operator("rig_dojo.curriculum_stage_remove", text="", icon='X').index = i
    sub.operator("rig_dojo.curriculum_stage_add", icon='ADD')


def check_bake_options(options) -> None:
    if options.use_replace and not options.replace_action:
        raise RigDojoError("pick the Action to replace, or turn Replace an Action off to bake into a new one")
