"""Bake the policy to keyframes on the rig, and evaluate it (the Bake and Evaluate panels)."""

import bpy

from .. import live
from ..errors import RigDojoError
from ..props import settings_to_config


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


class RIGDOJO_OT_bake(bpy.types.Operator):
    """Key the policy's motion on the control bones into a new Action, then check the keys in Blender"""

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
        from ..envs.policy_bake import bake_policy

        scene = context.scene
        settings = scene.rig_dojo
        options = settings.bake
        frames = (scene.frame_start, scene.frame_end) if options.use_scene_range else \
            (options.frame_start, options.frame_end)
        try:
            if options.use_replace and not options.replace_action:
                raise RigDojoError("pick the Action to replace, or turn Replace an Action off to bake into a new one")
            path = live.policy_path(settings)
            if path is None:
                raise RigDojoError("nothing to bake: train a policy first, or pick a policy file")
            report = bake_policy(
                path, frames,
                action_name=options.action_name.strip() or None,
                reduce_degrees=options.reduce_degrees if options.use_reduce else None,
                replace_action=options.replace_action if options.use_replace else None,
                config=_config(settings), seed=options.seed)
        except RigDojoError as exc:
            self.report({'ERROR'}, str(exc))
            return {'CANCELLED'}
        text = report.format()
        live.results["bake"] = text
        self.report({'INFO'}, text)
        return {'FINISHED'}


class RIGDOJO_OT_evaluate(bpy.types.Operator):
    """Measure the policy on fresh episodes: success, final error, jerk and joint-limit violations"""

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
        from ..agents.evaluate import evaluate
        from ..agents.policy_file import load_policy
        from ..envs.task_extract import task_from_config
        from ..envs.training import env_factory

        settings = context.scene.rig_dojo
        path = live.policy_path(settings)
        try:
            if path is None:
                raise RigDojoError("nothing to evaluate: train a policy first, or pick a policy file")
            policy = load_policy(path)
            config = _config(settings) or policy.config
            spec = task_from_config(config)
            result = evaluate(policy, env_factory(spec), config, episodes=settings.bake.eval_episodes)
        except RigDojoError as exc:
            self.report({'ERROR'}, str(exc))
            return {'CANCELLED'}
        live.results["evaluation"] = (str(path), result)
        self.report({'INFO'}, f"Success {result.success_rate:.0%} over {result.episodes} episodes; final error "
                              f"{result.final_error:.3g} chain lengths")
        return {'FINISHED'}


classes = (RIGDOJO_OT_bake, RIGDOJO_OT_evaluate)
register, unregister = bpy.utils.register_classes_factory(classes)
