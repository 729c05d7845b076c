"""The camera family's edge hooks (``envs.families``): read the shot from the scene, bake a camera move,
preview on the camera, and the sidebar's task settings."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import bpy
import numpy as np

from ..families import provenance
from ..pose import TransformBackup

can_verify = False

# The sidebar's camera settings (generated from envs.camera.settings.CameraConfig) plus a switch the config
# writes as frame_start = frame_end = 0: the shot is the scene's frame range.
SETTINGS_EXTRAS = {
    "use_scene_range": bpy.props.BoolProperty(
        name="Scene Frame Range", default=True,
        description="The shot is the scene's frame range; turn off to give Start and End"),
}
SETTINGS_DEFAULTS = {"frame_start": 1, "frame_end": 120}  # what Start and End show when first turned on
VERIFY_NOTE = "the camera's keys are checked in Blender when you bake"


def camera_frames(config, frames: tuple[int, int] | None = None) -> tuple[int | None, int | None]:
    """The shot's frame range: ``frames``, else ``camera.frame_start/frame_end``, else the scene's (None)."""
    if frames is not None:
        return int(frames[0]), int(frames[1])
    cam = config.camera
    if cam.frame_start or cam.frame_end:
        return int(cam.frame_start), int(cam.frame_end)
    return None, None


def spec_from_config(config, frames: tuple[int, int] | None = None):
    """The camera shot ``config.camera`` describes (``scene.camera.extract.extract_camera_shot``)."""
    from .extract import extract_camera_shot

    cam = config.camera
    start, end = camera_frames(config, frames)
    return extract_camera_shot(camera=cam.camera or None, subject=cam.subject or None, bone=cam.bone,
                               frame_start=start, frame_end=end, region=cam.region or None)


@dataclass
class CameraBakeReport:
    """A baked camera move: what was written, and Blender's verification of it."""

    action: str
    lens_action: str | None
    camera: str
    frames: tuple[int, int]
    keys_written: int
    seconds: float
    image_error: float  # worst subject position in the image, Blender vs rollout (normalised image units)
    position_error: float  # worst camera position difference (scene units)
    worst_frame: float
    frames_compared: int
    shot: dict = field(default_factory=dict)  # framing / occlusion / jerk / collisions of the baked move
    policy_sha256: str = ""
    task: str = "camera"

    def to_dict(self) -> dict:
        return asdict(self)

    def format(self) -> str:
        s = self.shot
        return (f"baked {self.keys_written:,d} keys into Action {self.action!r} on camera {self.camera!r} "
                f"(frames {self.frames[0]}-{self.frames[1]}) in {self.seconds:.2f} s; verified in Blender over "
                f"{self.frames_compared} frames: worst image error {self.image_error:.2g}, camera position error "
                f"{self.position_error:.2g}; shot: framing {s.get('framing', float('nan')):.3f}, occlusion "
                f"{s.get('occlusion', float('nan')):.3f}, jerk {s.get('jerk', float('nan')):.3g} rad/s³, "
                f"collisions {s.get('collisions', 0)}")


def bake(policy_path, *, frames=None, action_name=None, reduce_degrees=None, replace_action=None, config=None,
         seed: int = 0, undo_push: bool = False) -> CameraBakeReport:
    """Roll a camera policy out over the shot (``frames``, else the config's shot), key the camera into a
    new Action (the old one kept) and verify it with ``world_to_camera_view``."""
    from ...agents.policy_file import load_policy
    from ...envs.camera.family import camera_move
    from ...envs.camera.task import shot_metrics
    from .bake import bake_camera
    from .verify import verify_camera_bake

    began = time.perf_counter()
    policy = load_policy(policy_path)
    config = config or policy.config
    spec = spec_from_config(config, frames)
    task, move = camera_move(policy, spec, config)
    result = bake_camera(spec.camera_name, move, action_name=action_name,
                         provenance=provenance(policy_path, policy, config, 0), undo_push=undo_push)
    check = verify_camera_bake(spec.camera_name, spec, move)
    return CameraBakeReport(action=result.action_name, lens_action=result.lens_action_name, camera=spec.camera_name,
                            frames=(int(spec.frame_start), int(spec.frame_end)), keys_written=int(result.keys_written),
                            seconds=time.perf_counter() - began, image_error=float(check.image_error),
                            position_error=float(check.position_error), worst_frame=float(check.worst_frame),
                            frames_compared=int(check.frames_compared), shot=shot_metrics(task, move),
                            policy_sha256=policy.sha256)


def run_name(config) -> str:
    camera = bpy.context.scene.camera
    return config.camera.camera or (camera.name if camera is not None else "camera")


def camera_object(settings):
    """The camera the camera task moves: the picked one, else the scene's camera (None if neither)."""
    cam = settings.camera.camera
    return cam if cam is not None else settings.id_data.camera


class Preview:
    """Plays preview frames (the camera's location and yaw/pitch/roll; ``(1, 3)``: the rotation only) on the
    camera; restores its transform after."""

    def __init__(self, config, spec):
        obj = bpy.data.objects[spec.camera_name]
        self.object_name = obj.name
        self.bones: tuple[str, ...] = ()
        self.backup = TransformBackup(obj)

    def show(self, obj, frame) -> bool:
        from mathutils import Matrix

        from ...envs.camera.twin import camera_rotation

        if obj.type != 'CAMERA':
            return False
        world = np.array(obj.matrix_world, dtype=np.float64)
        scale = np.linalg.norm(world[:3, :3], axis=0)
        if len(frame) >= 2:  # location, then yaw/pitch/roll
            world[:3, 3] = frame[0]
        angles = frame[1] if len(frame) >= 2 else frame[0]
        world[:3, :3] = camera_rotation(angles) * scale
        obj.matrix_world = Matrix(world.tolist())
        return True

    def restore(self, obj) -> None:
        self.backup.restore_on(obj)


def training_problem(settings) -> str | None:
    """Why the camera task cannot start (no camera, no subject, a bad bone or shot), or None."""
    cam = settings.camera
    camera = camera_object(settings)
    if camera is None:
        return "The scene has no camera: pick the Camera in Rig & Task"
    if camera.type != 'CAMERA':
        return f"{camera.name} is not a camera; pick a camera in Rig & Task"
    subject = cam.subject
    if subject is None:
        return "Pick the Subject the camera keeps framed in Rig & Task"
    if subject == camera:
        return "The camera cannot frame itself: pick another Subject"
    bone = cam.bone.strip()
    if bone and subject.type == 'ARMATURE' and bone not in subject.data.bones:
        return f"{subject.name} has no bone {bone!r}; pick the Bone again in Rig & Task"
    if not cam.use_scene_range and cam.frame_end <= cam.frame_start:
        return "The shot's End frame must be after its Start frame"
    return None


def settings_to_table(group, table: dict) -> None:
    """Adjust the table read from the sidebar: the scene's range is 0 and 0; a bone only for an armature."""
    if group.use_scene_range:
        table["frame_start"], table["frame_end"] = 0, 0
    if group.subject is None or group.subject.type != 'ARMATURE':
        table["bone"] = ""


def settings_from_table(group, table) -> None:
    """Set the sidebar's switch from the table (the frames are written only for a shot of its own)."""
    group.use_scene_range = not (table.frame_start or table.frame_end)
    if not group.use_scene_range:
        group.frame_start, group.frame_end = table.frame_start, table.frame_end


SETTINGS_WRITE_SKIP = ("frame_start", "frame_end")


def draw_task(layout, context, settings) -> None:
    cam = settings.camera
    col = layout.column()
    col.prop(cam, "camera")
    if cam.camera is None:
        scene_camera = context.scene.camera
        if scene_camera is not None and scene_camera.type == 'CAMERA':
            col.label(text=f"The scene's camera: {scene_camera.name}", icon='OUTLINER_OB_CAMERA')
        else:
            col.label(text="The scene has no camera: pick one", icon='ERROR')
    col.prop(cam, "subject")
    subject = cam.subject
    if subject is not None and subject.type == 'ARMATURE':
        col.prop_search(cam, "bone", subject.data, "bones")
    elif subject is None:
        col.label(text="Pick the animated object to keep framed", icon='INFO')

    col = layout.column()
    col.prop(cam, "use_scene_range")
    if cam.use_scene_range:
        scene = context.scene
        col.label(text=f"Shot: frames {scene.frame_start}-{scene.frame_end}", icon='TIME')
    else:
        sub = col.column(align=True)
        sub.prop(cam, "frame_start")
        sub.prop(cam, "frame_end")
    col = layout.column()
    col.prop(cam, "mode")
    col.prop(cam, "framing")
    col.prop(cam, "use_lens")
    col.prop(cam, "allow_roll")
    col.prop(cam, "region")


def draw_advanced(layout, settings) -> None:
    cam = settings.camera
    layout.prop(cam, "tolerance")
    layout.prop(cam, "start_noise")
    layout.prop(cam, "occlusion")


draw_curriculum = None  # the camera task has no curriculum

SCENE_RANGE_LABEL = "The Shot's Frames"  # the camera bakes the shot it was trained on unless told otherwise


def bake_frames_for(options, scene):
    """The camera bakes the shot it was trained on when the scene's range is chosen."""
    return None if options.use_scene_range else (options.frame_start, options.frame_end)


def evaluation_rows(evaluation, report: dict) -> list[tuple[str, str]]:
    """The Evaluate panel's rows for the camera's one deterministic move: the shot metrics' own words."""
    return [("Framed and visible", f"{evaluation.success_rate:.0%} of frames"),
            ("Success", "yes" if report["shot"]["trained"]["success"] else "no")]


def draw_report(layout, report: dict) -> None:
    """The trained (or solved) camera against a fixed, a Track To and a Track To + dolly camera (lower is
    better in every column): the numbers of summary.json and the command line."""
    from ...envs.camera.family import SHOT_CAMERAS
    from ...panels.common import table

    shot = report["shot"]
    mine = "Solved" if shot.get("method") == "solve" else "Trained"
    table(layout, f"Shot of {shot['camera']}, framing {shot['framing_point'].replace('_', ' ')}:",
          ("Camera", "Framing", "Occlusion", "Jerk", "Collisions"),
          [(mine if key == "trained" else label.title() if key == "fixed" else label, f"{shot[key]['framing']:.3f}",
            f"{shot[key]['occlusion']:.3f}", f"{shot[key]['jerk']:.3g}", f"{shot[key]['collisions']}")
           for key, label in SHOT_CAMERAS if key in shot])
