"""The physics family's edge hooks (``envs.families``): read the creature from the scene, bake a simulated
clip (root motion and joints), preview on the rig, and the sidebar's task settings."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import bpy
import numpy as np

from ...errors import RigDojoError
from ..families import bake_frames, provenance
from ...props_config import add_to_list
from ..pose import BonePreview

can_verify = False


# The sidebar's physics settings (generated from envs.physics.settings.PhysicsConfig) plus a picker
SETTINGS_EXTRAS = {
    "obstacle_pick": bpy.props.StringProperty(name="Add Obstacle", description="Pick an object to add to the obstacles",
                                              update=add_to_list("obstacles", "obstacle_pick")),
}
VERIFY_NOTE = "the creature's keys are checked against the simulation in Blender when you bake"


def spec_from_config(config, frames: tuple[int, int] | None = None):
    """The creature ``config.rig`` and ``config.physics`` describe (``scene.physics.extract.extract_physics``).

    ``rig.controls`` lists the bones to simulate (empty: every bone under the root); ``frames``
    (default the scene's range) is where a moving platform is sampled and the clip starts.
    """
    from .extract import extract_physics

    if not config.rig.rig:
        raise RigDojoError("no rig chosen; set rig.rig (the armature object) or --rig")
    ph = config.physics
    spec = extract_physics(config.rig.rig, root=ph.root or None, bones=list(config.rig.controls) or None,
                           density=float(ph.density), strength=float(ph.strength), friction=float(ph.friction),
                           radius_source=ph.radius_source, radius_ratio=float(ph.radius_ratio),
                           obstacles=list(ph.obstacles) or None, platform=ph.platform or None,
                           frame_range=(int(frames[0]), int(frames[1])) if frames is not None else None)
    if config.task == "track":
        from .reference import attach_reference

        spec = attach_reference(spec, config)
    from .pins import attach_pins

    return attach_pins(spec, config)


@dataclass
class PhysicsBakeReport:
    """A baked simulation: root motion and joint rotations, and Blender's verification of them."""

    action: str
    rig: str
    frames: tuple[int, int]  # as baked: a creature that falls ends the clip early
    keys_written: int
    seconds: float
    position_error: float  # worst bone head/tail distance, Blender vs simulation (scene units)
    relative_error: float  # position_error / the creature's size
    worst_bone: str
    worst_frame: float
    fell: bool
    root_motion: str
    policy_sha256: str = ""
    task: str = ""
    pins: dict | None = None  # the baked motion at its pins (envs.physics.pins.summarise), with pins

    def to_dict(self) -> dict:
        return asdict(self)

    def format(self) -> str:
        from ...envs.physics.pins import pins_text

        fell = " (it fell; the clip ends there)" if self.fell else ""
        pins = f"; pins: {pins_text(self.pins)}" if self.pins else ""
        return (f"baked {self.keys_written:,d} keys into Action {self.action!r} on {self.rig!r} (frames "
                f"{self.frames[0]}-{self.frames[1]}{fell}) in {self.seconds:.2f} s; verified in Blender: worst bone "
                f"position error {self.position_error:.2g} ({self.relative_error:.2g} of the creature's size, "
                f"bone {self.worst_bone!r}, frame {self.worst_frame:g}){pins}")


def bake(policy_path, *, frames=None, action_name=None, reduce_degrees=None, replace_action=None, config=None,
         seed: int = 0, undo_push: bool = False) -> PhysicsBakeReport:
    """Simulate a physics policy from frame ``frames[0]`` for ``frames[1] - frames[0]`` steps (default the
    scene's range), key root motion and joint rotations into a new Action and verify it in Blender."""
    from ...agents.policy_file import load_policy
    from ...envs.physics.family import physics_clip
    from .bake import bake_physics
    from .verify import verify_physics_bake

    began = time.perf_counter()
    policy = load_policy(policy_path)
    config = config or policy.config
    start, end = bake_frames(frames)
    spec = spec_from_config(config, (start, end))
    task, clip = physics_clip(policy, spec, config, n_steps=end - start, seed=seed)
    obj = bpy.data.objects[spec.rig_name]
    root_motion = config.physics.root_motion
    result = bake_physics(obj, spec, clip.frames, clip.root_world, clip.euler, root_motion=root_motion,
                          action_name=action_name, provenance=provenance(policy_path, policy, config, seed),
                          undo_push=undo_push)
    check = verify_physics_bake(obj, spec, clip.frames, clip.heads, clip.tails)
    return PhysicsBakeReport(action=result.action_name, rig=obj.name, frames=(int(clip.frames[0]), int(clip.frames[-1])),
                             keys_written=int(result.keys_written), seconds=time.perf_counter() - began,
                             position_error=float(check.position_error),
                             relative_error=float(check.position_error / max(check.size, 1e-12)),
                             worst_bone=check.worst_bone, worst_frame=float(check.worst_frame), fell=bool(clip.fell),
                             root_motion=root_motion, policy_sha256=policy.sha256, task=config.task,
                             pins=_baked_pins(task, clip.fell))


def _baked_pins(task, fell: bool) -> dict | None:
    """The baked rollout at its pins (the keys Blender verified are this rollout's), or None without pins."""
    from ...envs.physics.pins import summarise

    if task.pins is None:
        return None
    unit = float(bpy.context.scene.unit_settings.scale_length or 1.0)
    return summarise([task.pins.measures(0, unit, fell=fell)])


def run_name(config) -> str:
    return config.rig.rig or "rig"


def Preview(config, spec):  # noqa: N802  (the family's Preview, a class in the other families)
    """Plays preview frames (Euler XYZ of every joint after the root; the root stays) on the creature; the
    track task's frames also carry the reference's pose, drawn as a ghost beside it (``TrackPreview``)."""
    if config.task == "track":
        return TrackPreview(bpy.data.objects[spec.rig_name], spec.bone_names[1:])
    return BonePreview(bpy.data.objects[spec.rig_name], spec.bone_names[1:])


class TrackPreview(BonePreview):
    """The policy's joints on the rig and, beside it, the reference clip's pose at the same step as ghost
    lines (``TrackTask.preview_frame``): rows ``[joints (J), reference heads (B), reference tails (B)]``."""

    def __init__(self, obj, bones):
        from ..ghost import GhostDrawer

        super().__init__(obj, bones)
        self.ghost = GhostDrawer(np.zeros((0, 3)), np.zeros((0, 3)))

    def show(self, obj, frame) -> bool:
        frame = np.asarray(frame, dtype=np.float64)
        n = len(self.bones)
        b = (len(frame) - n) // 2
        if b != n + 1 or not super().show(obj, frame[:n]):
            return False
        heads, tails = frame[n:n + b], frame[n + b:]
        self.ghost.update(np.stack([heads, tails], axis=1))
        return True

    def restore(self, obj) -> None:
        self.ghost.remove()
        super().restore(obj)


def training_problem(settings) -> str | None:
    from ..families import armature_problem

    problem = armature_problem(settings)
    if problem:
        return problem
    rig = settings.rig
    root = settings.physics.root.strip()
    if root and root not in rig.data.bones:
        return f"{rig.name} has no bone {root!r}; pick the Root Bone again in Rig & Task"
    if settings.task == "track" and not settings.physics.reference.strip():
        return "Pick the Reference to track in Rig & Task: an Action on the rig or a .bvh file"
    return None


def draw_task(layout, context, settings) -> None:
    rig = settings.rig if settings.rig is not None and settings.rig.type == 'ARMATURE' else None
    ph = settings.physics
    col = layout.column()
    col.prop(settings, "controls", text="Bones")
    if not settings.controls.strip():
        col.label(text="Every bone under the root is simulated", icon='INFO')
    col.operator("rig_dojo.controls_from_selection", icon='RESTRICT_SELECT_OFF')
    if rig is not None:
        col.prop_search(ph, "root", rig.data, "bones")
    else:
        col.prop(ph, "root")

    if settings.task == "track":
        col = layout.column()
        col.prop_search(ph, "reference", bpy.data, "actions", text="Reference")
        col.label(text="An Action on the rig, or type a .bvh file's path", icon='INFO')
        col.prop(ph, "reference_loop")

    col = layout.column()
    col.prop(ph, "density")
    col.prop(ph, "strength")
    col.prop(ph, "friction")
    col.prop(ph, "radius_source")
    col.prop(ph, "root_motion")


def draw_reference(layout, context, settings) -> None:
    """The Reference & Pins panel on a physics task that takes pins: the pins Action (keyed poses, the root's
    keyed location), effector pins (a bone on an object at a frame) and their list; the track task's clip is
    in Rig & Task."""
    from ...envs.physics.settings import PIN_TASKS
    from ...envs.reference.settings import ReferenceConfig
    from ...props_config import draw_settings
    from ..kinematic.family import reference_config
    from .pins import pin_rows

    if settings.task not in PIN_TASKS:
        layout.label(text="The track task follows its Reference (Rig & Task)", icon='INFO')
        return
    ref = settings.reference
    col = layout.column()
    col.prop_search(ref, "pins", bpy.data, "actions")
    draw_settings(col, ref, settings.task, advanced=False, cls=ReferenceConfig, skip=("pins", "style"))
    col.prop(settings.physics, "pin_tolerance")
    col.prop(settings.physics, "pin_distance")
    col.prop(ref, "bone_map")
    if not (ref.pins or ref.effector_pins.strip()):
        return
    try:
        rows, problem = pin_rows(reference_config(settings))
    except RigDojoError as exc:
        rows, problem = [], str(exc)
    box = layout.box()
    box.label(text=f"{len(rows)} pinned bone{'s' if len(rows) != 1 else ''}", icon='PINNED')
    grid = box.grid_flow(row_major=True, columns=3, even_columns=False, align=True)
    for text in ("Frames", "Bone", "Kind"):
        grid.label(text=text)
    for row in rows:
        for text in row:
            grid.label(text=text)
    if problem:
        box.label(text=problem, icon='ERROR')


def draw_advanced(layout, settings) -> None:
    from ...envs.physics.settings import PhysicsConfig
    from ...props_config import draw_settings

    ph = settings.physics
    draw_settings(layout, ph, settings.task, advanced=True, cls=PhysicsConfig,
                  skip=("radius_ratio",) if ph.radius_source != 'length' else ())
    layout.prop_search(ph, "obstacle_pick", bpy.data, "objects", text="Add Obstacle")


def draw_curriculum(layout, settings) -> None:
    from ...envs.physics import FAMILY

    # the obstacle course's stages are its obstacle heights (Rig & Task > Advanced)
    if settings.task in FAMILY.extra["own_curriculum"]:
        layout.prop(settings, "curriculum_threshold")


def draw_report(layout, report: dict) -> None:
    """The trained creature against zero actions (the rest pose held)."""
    from ...envs.physics.tracking import sliding_text
    from ...panels.common import table

    physics = report["physics"]
    names = (("trained", "Trained"), ("zero_actions", "Zero Actions"))
    table(layout, f"{physics['episodes']} episodes of {physics['episode_seconds']:g} s:",
          ("Policy", "Seconds Up", "Distance", "Falls"),
          [(label, f"{physics[key]['seconds_up']:.2f}", f"{physics[key]['distance']:+.2f}",
            f"{physics[key]['falls']}") for key, label in names])
    if "track" in physics:
        track = physics["track"]
        table(layout, "Tracking the reference:", ("Policy", "Joint Error", "End Effectors", "Foot Sliding", "Falls"),
              [(label, f"{track[key]['joint_error_degrees']:.2f}°", f"{track[key]['end_error_cm']:.1f} cm",
                sliding_text(track[key], short=True), f"{track[key]['falls']}")
               for key, label in (("trained", "Trained"), ("raw_keys", "Raw Keys"))])


def check_twin(config, spec, run_dir=None):
    """Train only what verifies: the creature's rest pose and random poses, Blender against MuJoCo
    (``scene.physics.verify.check_physics_twin``; NotExactError, exit 3, when they disagree)."""
    from .verify import check_physics_twin

    obj = bpy.data.objects.get(config.rig.rig)
    if obj is None or obj.type != 'ARMATURE':
        raise RigDojoError(f"no armature named {config.rig.rig!r}; pick the creature's armature (--rig)")
    check = check_physics_twin(obj, spec, root_motion=config.physics.root_motion)
    check.notes = list(spec.notes) + _task_notes(spec, config)
    return check


def _task_notes(spec, config) -> list[str]:
    """What the track task's twin does to the reference (joints held at a limit, the clip put on the ground).
    With a clip or pins the task is built once here, so a pin it cannot take is refused before the check's
    lines are printed."""
    if not (spec.n_pins or (spec.reference_name and config.task == "track")):
        return []
    from ...envs.physics.family import make_task

    return list(getattr(make_task(spec, config, 1, 0), "reference_notes", []))
