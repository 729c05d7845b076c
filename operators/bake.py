"""Bake the policy to keyframes, and evaluate it (the Bake and Evaluate panels), for every task.

The task's family bakes (``scene/<family>/family.py``: rig bones, the camera, a creature's root
motion and joints) and verifies the Action in Blender; each bake writes a new Action.
"""

import traceback
from typing import Any

import bpy

from .. import live
from ..errors import RigDojoError
from ..envs.families import family_of, report_line, task_info
from ..props import settings_to_config
from ..props_config import read_table


def policy_problem(context) -> str | None:
    """Why there is no policy to bake or evaluate now (a poll message), or None."""
    if live.is_training():
        return "Stop the training first"
    path = live.policy_path(context.scene.rig_dojo)
    if path is None:
        return "Nothing to bake yet: train a policy first, or pick a policy file"
    if not path.is_file():
        return f"Nothing to bake: {path} does not exist (train first, or pick a policy file)"
    return None


def _config(settings):
    """The current settings' config if the user asked for it, else None (the policy's own)."""
    return settings_to_config(settings) if settings.bake.use_scene_settings else None


def _policy_and_config(settings):
    """(path, policy file, config) of the policy the panels use (RigDojoError if there is none)."""
    from ..agents.policy_file import load_policy

    path = live.policy_path(settings)
    if path is None:
        raise RigDojoError("no policy: train one first, or pick a policy file")
    policy = load_policy(path)
    return path, policy, _config(settings) or policy.config


class RIGDOJO_OT_bake(bpy.types.Operator):
    """Key the policy's motion into a new Action (rig bones, the camera or a creature), then check it in Blender"""

    bl_idname = "rig_dojo.bake"
    bl_label = "Bake to Keyframes"
    bl_options = {'REGISTER', 'UNDO'}

    @classmethod
    def poll(cls, context):
        problem = policy_problem(context)
        if problem:
            cls.poll_message_set(problem)
            return False
        return True

    def execute(self, context):
        scene = context.scene
        settings = scene.rig_dojo
        options = settings.bake
        frames = (scene.frame_start, scene.frame_end) if options.use_scene_range else \
            (options.frame_start, options.frame_end)
        action_name = options.action_name.strip() or None
        notes = ""
        report: Any  # the family's bake report: format() and to_dict()
        try:
            path, _policy, config = _policy_and_config(settings)
            family = family_of(config.task)
            edge = family.edge_hooks()
            if family.bake_reduces_keys:
                if options.use_replace and not options.replace_action:
                    raise RigDojoError("pick the Action to replace, or turn Replace an Action off to bake into a "
                                       "new one")
                reduce = options.reduce_degrees if options.use_reduce else None
                replace = options.replace_action if options.use_replace else None
            else:
                if options.use_reduce or options.use_replace:
                    notes = (f" (Reduce Keys and Replace an Action apply to rig bakes; the {config.task} bake keys "
                             "every frame into a new Action)")
                reduce = replace = None
            if hasattr(edge, "bake_frames_for"):  # the camera: the shot it was trained on, unless told otherwise
                frames = edge.bake_frames_for(options, scene)
            own = read_table(options, family.bake_options) if family.bake_options is not None else {}
            report = edge.bake(path, frames=frames, action_name=action_name, reduce_degrees=reduce,
                               replace_action=replace, config=config,
                               seed=options.seed, **own)
        except RigDojoError as exc:  # a twin that is not exact among them: nothing is rolled out
            self.report({'ERROR'}, str(exc))
            return {'CANCELLED'}
        except Exception as exc:  # a bug, not bad input: one line here, the details in the console
            traceback.print_exc()
            self.report({'ERROR'}, f"The bake failed: {type(exc).__name__}: {exc} (details in the console)")
            return {'CANCELLED'}
        text = report.format() + notes
        live.results["bake"] = text
        live.results["bake_ok"] = bool(getattr(report, "ok", True))
        if not live.results["bake_ok"]:  # kept undoable (one undo step), but said loudly: not what was trained
            self.report({'ERROR'}, text)
            return {'FINISHED'}
        self.report({'INFO'}, text)
        return {'FINISHED'}


class RIGDOJO_OT_evaluate(bpy.types.Operator):
    """Measure the policy on fresh episodes: success, final error and the task's own numbers (framing, time upright)"""

    bl_idname = "rig_dojo.evaluate"
    bl_label = "Evaluate"

    @classmethod
    def poll(cls, context):
        problem = policy_problem(context)
        if problem:
            cls.poll_message_set(problem.replace("to bake", "to evaluate"))
            return False
        return True

    def execute(self, context):
        from ..envs.families import env_factory, evaluate_policy, evaluation_in_report, training_report
        from ..scene.families import spec_from_config

        settings = context.scene.rig_dojo
        try:
            path, policy, config = _policy_and_config(settings)
            spec = spec_from_config(config)
            result = evaluate_policy(policy, spec, config, env_factory(spec, config), settings.bake.eval_episodes)
            extra = training_report(policy, spec, config)
        except RigDojoError as exc:
            self.report({'ERROR'}, str(exc))
            return {'CANCELLED'}
        live.results["evaluation"] = (str(path), result)
        live.results["task_report"] = (str(path), config.task, extra)
        text = "" if extra and evaluation_in_report(config.task) else (  # the report line says it
            f"Success {result.success_rate:.0%} over {result.episodes} episodes; final error "
            f"{result.final_error:.3g} {task_info(config.task).error_units}")
        line = report_line(config.task, extra).replace("\n", "; ")
        self.report({'INFO'}, "; ".join(t for t in (text, line) if t))
        return {'FINISHED'}


classes = (RIGDOJO_OT_bake, RIGDOJO_OT_evaluate)
register, unregister = bpy.utils.register_classes_factory(classes)
