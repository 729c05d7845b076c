"""The kinematic family's edge hooks (``envs.families``): read a reach/aim/grasp task from the scene, bake
a policy onto the rig's control bones, preview on the rig, and the sidebar's task settings."""

from __future__ import annotations

import bpy
import numpy as np

from ...errors import RigDojoError
from ..pose import BonePreview

can_verify = True  # Verify (twin vs Blender) applies to this family's selection


def spec_from_config(config, frames: tuple[int, int] | None = None):
    """The ``TaskSpec`` ``config`` describes, read from the open .blend."""
    from .task_extract import task_from_config

    return task_from_config(config, frames=frames)


def bake(policy_path, *, frames=None, action_name=None, reduce_degrees=None, replace_action=None, config=None,
         seed: int = 0, undo_push: bool = False, keys_on: str = "trained"):
    """Roll the policy out, key the controls (or a Rigify limb's IK or FK side: ``keys_on``, the family's bake
    option) into a new Action and verify it in Blender."""
    from .bake import bake_policy

    return bake_policy(policy_path, frames=frames, action_name=action_name, reduce_degrees=reduce_degrees,
                       replace_action=replace_action, config=config, seed=seed, undo_push=undo_push,
                       keys_on=keys_on)


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


class Preview(BonePreview):
    """Plays preview frames on the rig: ``(C + L, 3)`` rows, the controls' Euler XYZ angles, then the location
    controls' channels (``KinematicTask.preview_frame``); restores the bones' rotations and locations after."""

    def __init__(self, config, spec):
        self.rig = spec.rig
        super().__init__(bpy.data.objects[config.rig.rig], list(spec.rig.controls) + list(spec.rig.location_controls))

    def show(self, obj, frame) -> bool:
        if obj.type != 'ARMATURE' or len(frame) != len(self.bones) or not all(n in obj.pose.bones for n in self.bones):
            return False  # the rig changed under the preview: skip it, the training goes on
        from ...envs import kinematics as km
        from .verify import set_control_locations, set_control_rotations

        frame = np.asarray(frame, dtype=np.float64)
        n = len(self.rig.controls)
        if n:
            set_control_rotations(obj, self.rig, km.euler_xyz_to_matrix(frame[:n]))
        if len(frame) > n:
            set_control_locations(obj, self.rig, frame[n:])
        return True


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
    col.prop(settings, "location_controls", text="Locations")
    if settings.location_controls.strip():
        col.prop(settings, "location_range")

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
