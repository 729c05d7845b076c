"""Train, pause, resume and stop: the Run panel's buttons (the session itself lives in ``live``)."""

import traceback

import bpy

from .. import deps, live
from ..errors import RigDojoError
from ..props import settings_to_config, task_family

TRAINING_MODULES = ["torch", "stable_baselines3"]


def camera_object(settings):
    """The camera the camera task moves: the picked one, else the scene's camera (None if neither)."""
    cam = settings.camera.camera
    return cam if cam is not None else settings.id_data.camera


def rig_problem(settings) -> str | None:
    """Why no training can start from these settings (a poll message), or None."""
    family = task_family(settings.task)
    if family == 'camera':
        return camera_problem(settings)
    rig = settings.rig
    if rig is None:
        return "Pick an armature in Rig & Task first"
    if rig.type != 'ARMATURE':
        return f"{rig.name} is not an armature; pick an armature in Rig & Task"
    if family == 'physics':
        root = settings.physics.root.strip()
        if root and root not in rig.data.bones:
            return f"{rig.name} has no bone {root!r}; pick the Root Bone again in Rig & Task"
        return None
    if settings.task == 'grasp':
        if settings.target is None:
            return "Pick the mesh to grasp as the Target in Rig & Task"
    elif settings.target is None and settings.region is None:
        return "Pick a target object (or a region) in Rig & Task"
    return None


def camera_problem(settings) -> str | None:
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


def start_training(settings) -> live.LiveRun:
    """Read the task from the scene, start a training session and the live preview timer."""
    from ..scene.task_build import spec_from_config
    from ..envs.training import env_factory, make_session

    if live.is_training():
        raise RigDojoError("a training is already running; stop it first")
    config = settings_to_config(settings)
    family = task_family(config.task)
    if family == 'camera':
        camera = camera_object(settings)
        name = camera.name if camera is not None else "camera"
    else:
        name = config.rig.rig
    folder = settings.run_dir or live.default_run_dir(name)
    run_dir = live.resolve_run_dir(folder)
    config.output.run_dir = str(run_dir)
    spec = spec_from_config(config)  # reads the scene once; bad input raises RigDojoError here
    session = make_session(config, env_factory(spec), run_dir)
    session.start()
    if family == 'camera':
        run = live.begin(session, bpy.data.objects[spec.camera_name], kind="camera")
    elif family == 'physics':
        run = live.begin(session, bpy.data.objects[spec.rig_name], kind="physics", bones=list(spec.bone_names[1:]))
    else:
        run = live.begin(session, settings.rig, spec.rig)
    settings.last_run_dir = folder
    return run


class RIGDOJO_OT_train(bpy.types.Operator):
    """Train a policy with these settings; the rig (or the camera) previews the newest policy while it learns"""

    bl_idname = "rig_dojo.train"
    bl_label = "Train"
    bl_options = {'REGISTER'}

    @classmethod
    def poll(cls, context):
        if live.is_training():
            cls.poll_message_set("A training is already running; stop it first")
            return False
        settings = context.scene.rig_dojo
        problem = rig_problem(settings)
        if problem:
            cls.poll_message_set(problem)
            return False
        needed = TRAINING_MODULES + (["mujoco"] if task_family(settings.task) == 'physics' else [])
        if deps.missing(needed):
            cls.poll_message_set("Install the training dependencies first (Preferences > Add-ons > Rig Dojo)")
            return False
        return True

    def execute(self, context):
        settings = context.scene.rig_dojo
        try:
            run = start_training(settings)
        except RigDojoError as exc:
            self.report({'ERROR'}, str(exc))
            return {'CANCELLED'}
        except Exception as exc:  # a bug, not bad input: say so, and keep the details for a report
            traceback.print_exc()
            self.report({'ERROR'}, f"The training could not start: {exc} (details in the console)")
            return {'CANCELLED'}
        self.report({'INFO'}, f"Training {run.rig_name} ({settings.task}); the run is written to {run.run_dir}")
        return {'FINISHED'}


class RIGDOJO_OT_pause(bpy.types.Operator):
    """Pause the training (the preview keeps playing)"""

    bl_idname = "rig_dojo.pause"
    bl_label = "Pause"

    @classmethod
    def poll(cls, context):
        run = live.current()
        if run is None or run.ended or run.session.state != "running":
            cls.poll_message_set("No training is running")
            return False
        return True

    def execute(self, context):
        live.current().session.pause()
        live.tag_redraw()
        return {'FINISHED'}


class RIGDOJO_OT_resume(bpy.types.Operator):
    """Resume the paused training"""

    bl_idname = "rig_dojo.resume"
    bl_label = "Resume"

    @classmethod
    def poll(cls, context):
        run = live.current()
        if run is None or run.ended or run.session.state != "paused":
            cls.poll_message_set("No training is paused")
            return False
        return True

    def execute(self, context):
        live.current().session.resume()
        live.tag_redraw()
        return {'FINISHED'}


class RIGDOJO_OT_stop(bpy.types.Operator):
    """Stop the training: a checkpoint and the final policy are saved, the rig's pose (or the camera) is restored"""

    bl_idname = "rig_dojo.stop"
    bl_label = "Stop"

    @classmethod
    def poll(cls, context):
        if not live.is_training():
            cls.poll_message_set("No training is running")
            return False
        return True

    def execute(self, context):
        live.stop()
        run = live.current()
        if run.state == "error":
            self.report({'ERROR'}, f"The training failed: {run.error}")
            return {'CANCELLED'}
        step = run.snapshot.step if run.snapshot is not None else 0
        self.report({'INFO'}, f"Stopped at step {step:,d}; the policy is in {run.run_dir / 'final.rdpolicy'}")
        return {'FINISHED'}


classes = (RIGDOJO_OT_train, RIGDOJO_OT_pause, RIGDOJO_OT_resume, RIGDOJO_OT_stop)


def register() -> None:
    for cls in classes:
        bpy.utils.register_class(cls)
    live.register()


def unregister() -> None:
    live.unregister()  # stops a running training and restores the rig's pose
    for cls in reversed(classes):
        bpy.utils.unregister_class(cls)
