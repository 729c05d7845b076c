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
         seed: int = 0, undo_push: bool = False, keys_on: str = "trained", target: str = ""):
    """Roll the policy out, key the controls (or a Rigify limb's IK or FK side: ``keys_on``, the family's bake
    option) into a new Action and verify it in Blender; ``target``: an object to reach instead of the trained
    target (the family's other bake option)."""
    from .bake import bake_policy

    return bake_policy(policy_path, frames=frames, action_name=action_name, reduce_degrees=reduce_degrees,
                       replace_action=replace_action, config=config, seed=seed, undo_push=undo_push,
                       keys_on=keys_on, target=target)


def check_twin(config, spec, run_dir=None):
    """Train only what verifies: the parity check of the task's rig, cached per selection
    (``scene/kinematic/parity.py``); ``NotExactError`` when the twin is not exact."""
    from .parity import check_twin as check

    return check(config, spec, run_dir)


def verify_notes(config) -> list[str]:
    """What the sidebar's Verify says beside the parity report: the task's warnings (a region out of the
    chain's reach); nothing when the task cannot be read yet (no target picked)."""
    try:
        return list(spec_from_config(config).warnings)
    except RigDojoError:
        return []


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
    controls' channels (``KinematicTask.preview_frame``); restores the bones' rotations and locations after.
    With pins, their poses are drawn as a ghost meanwhile (``ghost.py``)."""

    def __init__(self, config, spec):
        self.rig = spec.rig
        super().__init__(bpy.data.objects[config.rig.rig], list(spec.rig.controls) + list(spec.rig.location_controls))
        self.ghost = None
        if spec.pins is not None:
            from ...envs.kinematic.family import configure
            from ...envs.kinematic.tasks import make_task
            from .ghost import GhostDrawer, ghost_geometry

            self.ghost = GhostDrawer(*ghost_geometry(make_task(configure(spec, config), n_envs=1, seed=0)))

    def restore(self, obj) -> None:
        if self.ghost is not None:
            self.ghost.remove()
        super().restore(obj)

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
    from ...envs.kinematic.chains import CHAIN_TASKS

    if settings.task in CHAIN_TASKS:  # the tasks a library policy (joint tokens) can drive
        col.prop(settings, "observation")


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
