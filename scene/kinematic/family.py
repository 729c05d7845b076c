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


def run_name(config) -> str:
    return config.rig.rig or "rig"


def Preview(config, spec):  # noqa: N802  (the family's Preview, a class in the other families)
    """Plays preview frames (``(C, 3)`` Euler XYZ of the controls) on the rig; restores its pose after. With
    pins, their poses are drawn as a ghost meanwhile (``ghost.py``)."""
    from .verify import set_control_rotations

    obj = bpy.data.objects[config.rig.rig]
    if spec.pins is not None:
        from ...envs.kinematic.family import configure
        from ...envs.kinematic.tasks import make_task
        from .ghost import PinPreview

        return PinPreview(obj, spec, make_task(configure(spec, config), n_envs=1, seed=0))
    return BonePreview(obj, spec.rig.controls, pose=lambda o, rotations: set_control_rotations(o, spec.rig, rotations))


def training_problem(settings) -> str | None:
    """Why the sidebar cannot train this task yet (a poll message), or None."""
    from ..families import armature_problem

    problem = armature_problem(settings)
    if problem:
        return problem
    pinned = bool(settings.reference.pins or settings.reference.effector_pins.strip())
    if settings.task == 'grasp':
        if settings.target is None:
            return "Pick the mesh to grasp as the Target in Rig & Task"
    elif settings.target is None and settings.region is None and not pinned:
        return "Pick a target object (or a region, or pins in Reference & Pins) in Rig & Task"
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


def reference_config(settings):
    """The ``ReferenceConfig`` the sidebar's Reference & Pins settings hold (RigDojoError naming a bad field)."""
    from ...envs.reference.settings import ReferenceConfig
    from ...props_config import read_table

    return ReferenceConfig(**read_table(settings.reference, ReferenceConfig, path="reference"))


def draw_reference(layout, context, settings) -> None:
    """The Reference & Pins panel: the pins Action and its pins as a list (frame, bones, weight), effector pins,
    the style clip and the bone map."""
    from ...envs.reference.settings import ReferenceConfig
    from ...props_config import draw_settings, split_names
    from .pins import pin_rows

    ref = settings.reference
    col = layout.column()
    col.prop_search(ref, "pins", bpy.data, "actions")
    draw_settings(col, ref, settings.task, advanced=False, cls=ReferenceConfig, skip=("pins", "style"))
    col.prop_search(ref, "style", bpy.data, "actions")
    col.prop(ref, "bone_map")
    rig = settings.rig if settings.rig is not None and settings.rig.type == 'ARMATURE' else None
    if rig is None or not (ref.pins or ref.effector_pins.strip()):
        return
    try:
        config = reference_config(settings)
        rows, problem = pin_rows(config, rig, split_names(settings.controls), settings.effector.strip())
    except RigDojoError as exc:
        rows, problem = [], str(exc)
    box = layout.box()
    box.label(text=f"{len(rows)} pin{'s' if len(rows) != 1 else ''}", icon='PINNED')
    grid = box.grid_flow(row_major=True, columns=4, even_columns=False, align=True)
    for text in ("Frame", "Bones", "Weight", "Kind"):
        grid.label(text=text)
    for row in rows:
        grid.label(text=str(row["frame"]))
        bones = ", ".join(row["bones"]) + (f" on {row['object']}" if row["object"] else "")
        grid.label(text=bones)
        grid.label(text=f"{row['weight']:.2g}")
        grid.label(text="hard" if row["hard"] else "soft")
    if problem:
        box.label(text=problem, icon='ERROR')


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
