"""Train, pause, resume and stop: the Run panel's buttons (the session itself lives in ``live``)."""

import traceback
from typing import Any

import bpy

from .. import deps, live
from ..envs.families import family_of
from ..errors import RigDojoError
from ..headless import default_run_dir, resolve_run_dir
from ..props import settings_to_config

def rig_problem(settings) -> str | None:
    """Why no training can start from these settings (a poll message), or None: the task's family says."""
    return family_of(settings.task).edge_hooks().training_problem(settings)


def _switch(name: str) -> bool:
    """An on/off add-on preference: on unless turned off there (also where the preferences cannot be read)."""
    from ..preferences import addon_preferences

    prefs = addon_preferences()
    return True if prefs is None else bool(getattr(prefs, name))


def training_process() -> bool:
    """Whether the sidebar trains in a worker process (the preference "Train in a Separate Process")."""
    return _switch("training_process")


def spare_core() -> bool:
    """Whether that process leaves a core to Blender's UI (the preference "Keep a Core for Blender")."""
    return _switch("spare_core")


def start_training(settings, zero_shot: bool = False) -> live.LiveRun:
    """Read the task from the scene, start a training session and the live preview timer (``zero_shot``: a run
    that trains nothing, the start as it is: ``operators/zero_shot.py``)."""
    from ..agents.session import make_session
    from ..scene.families import record_twin_check, spec_for_training

    if live.is_training():
        raise RigDojoError("a training is already running; stop it first")
    config = settings_to_config(settings)
    family = family_of(config.task)
    edge = family.edge_hooks()
    folder = settings.run_dir or default_run_dir(config)
    run_dir = resolve_run_dir(folder)
    config.output.run_dir = str(run_dir)
    # reads the scene once (bad input raises RigDojoError here), then the twin's parity check: a selection
    # that is not exact is refused with the reason (NotExactError), DESIGN.md rule 8
    spec, check = spec_for_training(config)
    preview = edge.Preview(config, spec)
    make_env = family.hooks().env_factory(spec)
    session: Any
    if zero_shot:  # trains nothing: the start written as a run, in a moment
        session = make_session(config, make_env, run_dir, zero_shot=True)
    elif training_process():  # the trainer in a process of its own: the UI keeps its interpreter (agents/worker.py)
        from ..agents.worker import WorkerSession

        session = WorkerSession(config, spec, run_dir, spare_core=spare_core())
    else:
        session = make_session(config, make_env, run_dir)
    session.start()
    record_twin_check(check, run_dir)
    live.results["train_notes"] = [check.line] if check is not None else []
    live.results["train_notes"] += list(getattr(check, "notes", ())) + list(getattr(spec, "warnings", ()))
    run = live.begin(session, preview, family=family.name)
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
        if deps.missing(list(family_of(settings.task).needs)):
            cls.poll_message_set("Install the training dependencies first (Preferences > Add-ons > Rig Dojo)")
            return False
        return True

    def execute(self, context):
        settings = context.scene.rig_dojo
        try:
            run = start_training(settings)
        except RigDojoError as exc:  # a twin that is not exact among them (NotExactError): refused with the reason
            from .rig import remember_switches

            remember_switches(settings, str(exc))
            self.report({'ERROR'}, str(exc))
            return {'CANCELLED'}
        except Exception as exc:  # a bug, not bad input: say so, and keep the details for a report
            traceback.print_exc()
            self.report({'ERROR'}, f"The training could not start: {exc} (details in the console)")
            return {'CANCELLED'}
        notes = live.results.get("train_notes", [])
        text = f"Training {run.rig_name} ({settings.task}); the run is written to {run.run_dir}"
        warnings = notes[1:] if notes and notes[0].startswith("twin check") else notes
        if warnings:  # a region out of reach, an IK solve only close to Blender's: said, not refused
            self.report({'WARNING'}, f"{text}. " + " ".join(f"Warning: {w}." for w in warnings))
        else:
            self.report({'INFO'}, text + (f"; {notes[0]}" if notes else ""))
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
