"""Use Without Training: the Start From policy (a library entry, a .rdpolicy) on this rig as it is.

A run that trains nothing (``TrainingSession(zero_shot=True)``, the command line's ``train --zero-shot``): the
run folder gets the settings' config.toml (observed as the start reads), the twin's parity check, a checkpoint at
step 0 and the start's weights as final.rdpolicy, evaluated here (summary.json, the Evaluate panel). It becomes
the last run, so the Bake and Evaluate panels take it like any trained run; nothing in the scene changes.
"""

import time
import traceback
from typing import Any

import bpy

from .. import deps, live
from ..envs.families import family_of
from ..errors import RigDojoError
from .train import rig_problem, start_training


def start_problem(settings) -> str | None:
    """Why the Start From policy cannot be used without training now (a poll message), or None."""
    from ..agents.session import runs_without_training

    if live.is_training():
        return "A training is running; stop it first"
    if not settings.algo.start_from or not runs_without_training(settings.algo.name):
        return "Pick where a run starts first (Training > Start From: the library or a .rdpolicy)"
    problem = rig_problem(settings)
    if problem:
        return problem
    if deps.missing(list(family_of(settings.task).needs)):
        return "Install the training dependencies first (Preferences > Add-ons > Rig Dojo)"
    return None


def use_without_training(settings) -> tuple[live.LiveRun, dict, Any]:
    """Write the zero-shot run and evaluate it; returns the run, its summary and the evaluation."""
    from ..agents.run_summary import write_run_summary
    from ..agents.policy_file import load_policy
    from ..envs.families import env_factory, evaluate_policy, training_report
    from ..scene.families import spec_from_config

    began = time.monotonic()
    run = start_training(settings, zero_shot=True)
    run.session.wait()
    live.stop()  # the run has ended: the timer goes and the preview's pose is put back
    if run.state == "error":
        raise RigDojoError(run.error or "the run failed")
    config = load_policy(run.run_dir / "final.rdpolicy").config  # the run's config (observed as the start reads)
    spec = spec_from_config(config)
    make_env = env_factory(spec, config)
    source = config.algo.start_from
    summary, result, extra = write_run_summary(
        config, make_env, run.run_dir, steps=0, wall=time.monotonic() - began,
        episodes=settings.bake.eval_episodes, report=lambda policy, cfg: training_report(policy, spec, cfg),
        evaluation=lambda policy, cfg, episodes: evaluate_policy(policy, spec, cfg, make_env, episodes),
        extra_fields={"zero_shot": source})
    path = str(run.run_dir / "final.rdpolicy")
    live.results["evaluation"] = (path, result)
    live.results["task_report"] = (path, config.task, extra)
    run.session.end_note = f"no training: {source} as it is, written as this run; bake it below"
    return run, summary, result


class RIGDOJO_OT_use_without_training(bpy.types.Operator):
    """Use the Start From policy on this rig as it is, without training: write it as a run (bake and evaluate it like any run)"""

    bl_idname = "rig_dojo.use_without_training"
    bl_label = "Use Without Training"
    bl_options = {'REGISTER'}

    @classmethod
    def poll(cls, context):
        problem = start_problem(context.scene.rig_dojo)
        if problem:
            cls.poll_message_set(problem)
            return False
        return True

    def execute(self, context):
        from ..envs.families import task_info

        settings = context.scene.rig_dojo
        try:
            run, summary, result = use_without_training(settings)
        except RigDojoError as exc:  # a start that does not fit the task, a chain it cannot drive, a twin not exact
            self.report({'ERROR'}, str(exc))
            return {'CANCELLED'}
        except Exception as exc:  # a bug, not bad input: one line here, the details in the console
            traceback.print_exc()
            self.report({'ERROR'}, f"The run could not be written: {exc} (details in the console)")
            return {'CANCELLED'}
        where = ("Bake to Keyframes bakes it" if not settings.bake.policy_path else
                 "clear the Bake panel's policy file to bake it")
        self.report({'INFO'}, f"{summary['zero_shot']} on {run.rig_name} without training: success "
                              f"{result.success_rate:.0%} over {result.episodes} episodes, final error "
                              f"{result.final_error:.3g} {task_info(run.session.config.task).error_units}; "
                              f"written as the run {run.run_dir}; {where}")
        return {'FINISHED'}


classes = (RIGDOJO_OT_use_without_training,)
register, unregister = bpy.utils.register_classes_factory(classes)
