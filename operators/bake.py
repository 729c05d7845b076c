"""Bake the policy to keyframes, and evaluate it (the Bake and Evaluate panels), for every task.

Rig tasks (reach, aim, grasp) key the control bones (``scene.kinematic.bake``); the camera task
keys the camera's location and rotation and checks the subject's place in the image
against the rollout; the physics tasks key root motion and the joints and check every
bone's position against the simulation (``scene.task_build``). Each bake writes a new Action.
"""

from typing import Any

import bpy

from .. import live
from ..errors import RigDojoError
from ..props import settings_to_config, task_family


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
    from ..envs.training import load_task_policy

    path = live.policy_path(settings)
    if path is None:
        raise RigDojoError("no policy: train one first, or pick a policy file")
    policy = load_task_policy(path)
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
            family = task_family(config.task)
            if family == 'kinematic':
                from ..scene.kinematic.bake import bake_policy

                if options.use_replace and not options.replace_action:
                    raise RigDojoError("pick the Action to replace, or turn Replace an Action off to bake into a "
                                       "new one")
                report = bake_policy(
                    path, frames, action_name=action_name,
                    reduce_degrees=options.reduce_degrees if options.use_reduce else None,
                    replace_action=options.replace_action if options.use_replace else None,
                    config=_config(settings), seed=options.seed)
            else:
                from ..scene.task_build import bake_camera_policy, bake_physics_policy

                if options.use_reduce or options.use_replace:
                    notes = (f" (Reduce Keys and Replace an Action apply to rig bakes; the {config.task} bake keys "
                             "every frame into a new Action)")
                if family == 'camera':  # the scene's range: the shot the policy was trained on
                    report = bake_camera_policy(path, None if options.use_scene_range else frames, action_name,
                                                config=config)
                else:
                    report = bake_physics_policy(path, frames, action_name, config=config, seed=options.seed)
        except RigDojoError as exc:
            self.report({'ERROR'}, str(exc))
            return {'CANCELLED'}
        text = report.format() + notes
        live.results["bake"] = text
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
        from ..agents.evaluate import evaluate
        from ..scene.task_build import spec_from_config, training_report
        from ..envs.training import env_factory

        settings = context.scene.rig_dojo
        try:
            path, policy, config = _policy_and_config(settings)
            spec = spec_from_config(config)
            result = evaluate(policy, env_factory(spec), config, episodes=settings.bake.eval_episodes)
            extra = training_report(policy, spec, config)
        except RigDojoError as exc:
            self.report({'ERROR'}, str(exc))
            return {'CANCELLED'}
        live.results["evaluation"] = (str(path), result)
        live.results["task_report"] = (str(path), config.task, extra)
        text = (f"Success {result.success_rate:.0%} over {result.episodes} episodes; final error "
                f"{result.final_error:.3g} {ERROR_UNITS.get(config.task, '')}")
        line = report_line(extra)
        self.report({'INFO'}, text + (f"; {line}" if line else ""))
        return {'FINISHED'}


# What a task's "final error" measures (as the command line says it)
ERROR_UNITS = {"reach": "chain lengths", "aim": "radians", "grasp": "chain lengths",
               "camera": "image units from the framing point", "stand": "radians of tilt",
               "locomotion": "body sizes/s below the target speed", "jump": "body sizes below the jump height",
               "obstacles": "body sizes short of the obstacle"}


def report_line(extra: dict) -> str:
    """One line of ``training_report``'s numbers: the camera against its baselines, a creature against zero actions."""
    if "shot" in extra:
        shot = extra["shot"]
        return f"framing/occlusion/jerk ({shot['framing_point']}): " + ", ".join(
            f"{name.replace('_', '-')} {shot[name]['framing']:.3f}/{shot[name]['occlusion']:.3f}/"
            f"{shot[name]['jerk']:.3g}" for name in ("trained", "fixed", "track_to"))
    if "physics" in extra:
        ph = extra["physics"]
        return f"over {ph['episodes']} episodes of {ph['episode_seconds']:g} s: " + ", ".join(
            f"{name.replace('_', ' ')} {ph[name]['seconds_up']:.2f} s up, {ph[name]['distance']:+.2f} sizes"
            for name in ("trained", "zero_actions"))
    return ""


classes = (RIGDOJO_OT_bake, RIGDOJO_OT_evaluate)
register, unregister = bpy.utils.register_classes_factory(classes)
