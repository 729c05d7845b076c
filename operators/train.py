"""Train, pause, resume and stop: the Run panel's buttons (the session itself lives in ``live``)."""

import traceback

import bpy

from .. import deps, live
from ..errors import RigDojoError
from ..props import settings_to_config

TRAINING_MODULES = ["torch", "stable_baselines3"]


def rig_problem(settings) -> str | None:
    """Why no training can start from these settings (a poll message), or None."""
    rig = settings.rig
    if rig is None:
        return "Pick an armature in Rig & Task first"
    if rig.type != 'ARMATURE':
        return f"{rig.name} is not an armature; pick an armature in Rig & Task"
    if settings.task == 'grasp':
        if settings.target is None:
            return "Pick the mesh to grasp as the Target in Rig & Task"
    elif settings.target is None and settings.region is None:
        return "Pick a target object (or a region) in Rig & Task"
    return None


def start_training(settings) -> live.LiveRun:
    """Read the task from the scene, start a TrainingSession and the live preview timer."""
    from ..agents.session import TrainingSession
    from ..envs.task_extract import task_from_config
    from ..envs.training import env_factory

    if live.is_training():
        raise RigDojoError("a training is already running; stop it first")
    config = settings_to_config(settings)
    folder = settings.run_dir or live.default_run_dir(config.rig.rig)
    run_dir = live.resolve_run_dir(folder)
    config.output.run_dir = str(run_dir)
    spec = task_from_config(config)
    session = TrainingSession(config, env_factory(spec), run_dir)
    session.start()
    run = live.begin(session, settings.rig, spec.rig)
    settings.last_run_dir = folder
    return run


class RIGDOJO_OT_train(bpy.types.Operator):
    """Train a policy on the rig with these settings; the rig previews the newest policy while it learns"""

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
        if deps.missing(TRAINING_MODULES):
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
        self.report({'INFO'}, f"Training {settings.rig.name}; the run is written to {run.run_dir}")
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
    """Stop the training: a checkpoint and the final policy are saved, the rig's pose is restored"""

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
