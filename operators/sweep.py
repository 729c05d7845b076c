"""The Sweep panel's settings and buttons: start a sweep on Ray, follow its results, preview a take, bake it.

Starting reads the task from the scene once (the spec file the trials train from) and runs the sweep's
driver (``agents/sweep.py``) in a process of its own, so Blender stays responsive; a timer reads the
trials' run folders every few seconds into the results list. "Preview" plays a trial's policy on the rig
(one deterministic episode, restored afterwards); "Bake this take" bakes it as a take (its own Action on
its own NLA track, made the active Action; one undo step).
"""

from __future__ import annotations

import os
import signal
import subprocess
import traceback
from pathlib import Path

import bpy
from bpy.props import CollectionProperty, EnumProperty, FloatProperty, IntProperty, PointerProperty, StringProperty
from bpy.types import PropertyGroup

from .. import deps
from ..errors import RigDojoError

POLL_SECONDS = 2.0
PREVIEW_SECONDS = 1.0 / 24.0


class RigDojoSweepTrial(PropertyGroup):
    """One row of the results list (read from the trial's run folder)."""

    name: StringProperty(name="Trial")  # type: ignore[valid-type]
    status: StringProperty(name="Status")  # type: ignore[valid-type]
    success: FloatProperty(name="Success", default=-1.0, subtype='FACTOR')  # type: ignore[valid-type]
    error: FloatProperty(name="Error", default=-1.0)  # type: ignore[valid-type]
    rank: IntProperty(name="Rank")  # type: ignore[valid-type]
    policy: StringProperty(name="Policy", subtype='FILE_PATH')  # type: ignore[valid-type]


class RigDojoSweepSettings(PropertyGroup):
    """What to sweep and where (the training settings themselves are the Dojo tab's)."""

    seeds: StringProperty(name="Seeds", default="0-3",  # type: ignore[valid-type]
                          description="Seeds to train: START-END or a comma list (e.g. 0-7 or 0,3,5)")
    variations: StringProperty(  # type: ignore[valid-type]
        name="Vary", default="rewards.distance.weight=1,2",
        description="Settings to vary, KEY=V1,V2 separated by semicolons "
                    "(e.g. rewards.distance.weight=1,2,4; algo.learning_rate=3e-4,1e-3)")
    search: EnumProperty(name="Search", items=(  # type: ignore[valid-type]
        ('grid', "Grid", "Every combination of seeds and variations"),
        ('random', "Random", "Trials drawn at random from the combinations")), default='grid')
    trials: IntProperty(name="Trials", default=8, min=1,  # type: ignore[valid-type]
                        description="How many trials a random search draws")
    metric: EnumProperty(name="Rank By", items=(  # type: ignore[valid-type]
        ('success_rate', "Success", "Deterministic success rate (higher is better)"),
        ('final_error', "Error", "Final error (lower is better)"),
        ('mean_jerk', "Jerk", "Mean jerk of the motion (lower is better)")), default='success_rate')
    address: StringProperty(  # type: ignore[valid-type]
        name="Address", default="",
        description="A Ray cluster (auto, HOST:6379 or ray://HOST:10001); empty: this machine's cores")
    cpus: IntProperty(name="CPUs", default=0, min=0,  # type: ignore[valid-type]
                      description="CPUs Ray may use on this machine (0: all)")
    folder: StringProperty(name="Sweep Folder", subtype='DIR_PATH', default="",  # type: ignore[valid-type]
                           description="The sweep's folder (set when a sweep starts; pick one to load its results)")
    results: CollectionProperty(type=RigDojoSweepTrial)  # type: ignore[valid-type]
    active: IntProperty(name="Trial", default=0)  # type: ignore[valid-type]
    status: StringProperty(name="Status", default="")  # type: ignore[valid-type]


# -- the running driver -------------------------------------------------------------------------------
_driver: subprocess.Popen | None = None
_log_path: Path | None = None


def is_running() -> bool:
    return _driver is not None and _driver.poll() is None


def plan_from_settings(sweep):
    """The SweepPlan the panel describes (RigDojoError for bad seeds, variations or search)."""
    from ..agents import sweep as sw

    vary = dict(sw.parse_vary(v.strip()) for v in sweep.variations.split(";") if v.strip())
    plan = sw.SweepPlan(seeds=sw.parse_seeds(sweep.seeds), vary=vary, search=sweep.search,
                        trials=sweep.trials if sweep.search == 'random' else 0, metric=sweep.metric,
                        scene=bpy.data.filepath)
    plan.check()
    return plan


def start_sweep(context) -> Path:
    """Check the settings, save the spec, start the driver process; returns the sweep folder."""
    global _driver, _log_path
    from ..agents import sweep as sw
    from ..envs.families import family_of
    from ..headless import default_run_dir, resolve_run_dir
    from ..props import settings_to_config
    from ..scene.families import spec_for_training

    if is_running():
        raise RigDojoError("a sweep is already running; stop it first")
    sweep = context.scene.rig_dojo_sweep
    sw.import_ray()
    plan = plan_from_settings(sweep)
    config = settings_to_config(context.scene.rig_dojo)
    config.validate()
    plan.task = config.task
    sw.check_variations(config, plan.vary)
    if sweep.address:
        sw.check_address(sweep.address)
    folder = resolve_run_dir(default_run_dir(config) + "_sweep")
    spec, _check = spec_for_training(config)  # and the parity check (DESIGN.md rule 8)
    sw.prepare_sweep(folder, plan, config, spec, family_of(config.task).name)
    _log_path = folder / "sweep.log"
    extra = [deps._active_site] if deps._active_site else []
    env = {**os.environ, "PYTHONPATH": sw.package_python_path(extra)}
    with open(_log_path, "wb") as log:
        _driver = subprocess.Popen(sw.driver_command(folder, sweep.address or None, sweep.cpus or None, False),
                                   stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env)
    sweep.folder = str(folder)
    sweep.status = f"Running {sw.combinations_text(plan)}"
    if not bpy.app.timers.is_registered(poll_sweep):
        bpy.app.timers.register(poll_sweep, first_interval=POLL_SECONDS)
    return folder


def load_results(sweep) -> list[dict]:
    """Read the sweep folder's trials into the results list, best first; returns the rows."""
    from ..agents import sweep as sw

    folder = Path(bpy.path.abspath(sweep.folder)) if sweep.folder else None
    if folder is None or not (folder / "sweep_plan.json").exists():
        raise RigDojoError("pick a sweep folder (one with sweep_plan.json) or start a sweep")
    plan = sw.load_plan(folder)
    rows = sw.results_table(folder)
    order = {r["trial"]: i for i, r in enumerate(sw.rank(rows, plan.metric))}
    rows.sort(key=lambda r: (order.get(r["trial"], 10**6), r["trial"]))
    sweep.results.clear()
    for row in rows:
        item = sweep.results.add()
        item.name, item.status, item.policy = row["trial"], row["status"], row["policy"]
        item.success = row["success_rate"] if row.get("success_rate") is not None else -1.0
        item.error = row["final_error"] if row.get("final_error") is not None else -1.0
        item.rank = order.get(row["trial"], -1) + 1
    sweep.active = min(sweep.active, max(0, len(rows) - 1))
    return rows


def poll_sweep() -> float | None:
    """Timer: refresh the results list while the driver runs (tests call it themselves)."""
    scene = bpy.context.scene
    sweep = getattr(scene, "rig_dojo_sweep", None)
    if sweep is None:
        return None
    try:
        if sweep.folder:
            load_results(sweep)
    except (RigDojoError, OSError, ValueError):
        pass  # files being written: next time
    if _driver is not None and _driver.poll() is not None:
        code = _driver.returncode
        sweep.status = {0: "Finished", 130: "Stopped: start again to resume"}.get(
            code, f"The sweep failed (exit {code}); see {_log_path}")
        _tag_redraw()
        return None
    _tag_redraw()
    return POLL_SECONDS


def stop_sweep() -> None:
    """Interrupt the driver like Ctrl-C: Ray Tune saves its state; finished trials are kept."""
    if is_running():
        _driver.send_signal(signal.SIGINT)


def _tag_redraw() -> None:
    for window in getattr(bpy.context.window_manager, "windows", []):
        for area in window.screen.areas:
            if area.type == 'VIEW_3D':
                area.tag_redraw()


# -- preview of a trial's policy ----------------------------------------------------------------------
class TakePreview:
    """Plays one deterministic episode of a policy on its rig (or camera) once, then restores it."""

    def __init__(self, policy_path: str):
        from ..agents.algorithms import task_actions
        from ..agents.policy_file import load_policy
        from ..agents.session import preview_rollout
        from ..envs.families import env_factory, family_of
        from ..scene.families import spec_from_config

        policy = load_policy(policy_path)
        config = policy.config
        spec = spec_from_config(config)
        env = env_factory(spec, config)(config, 1, config.algo.seed + 7919)
        policy.check_compatible(env)
        self.frames = preview_rollout(env, lambda obs: task_actions(policy.predict(obs, deterministic=True)[0],
                                                                    env.action_space))
        self.target = family_of(config.task).edge_hooks().Preview(config, spec)
        self.frame = 0

    def tick(self) -> float | None:
        obj = bpy.data.objects.get(self.target.object_name)
        if obj is None or self.frame >= len(self.frames) or not self.target.show(obj, self.frames[self.frame]):
            if obj is not None:
                self.target.restore(obj)
            return None
        self.frame += 1
        _tag_redraw()
        return PREVIEW_SECONDS


_preview: TakePreview | None = None


def _preview_tick() -> float | None:
    global _preview
    if _preview is None:
        return None
    try:
        interval = _preview.tick()
    except Exception:  # never a timer firing forever
        traceback.print_exc()
        interval = None
    if interval is None:
        _preview = None
    return interval


def selected_trial(context) -> RigDojoSweepTrial | None:
    sweep = context.scene.rig_dojo_sweep
    if 0 <= sweep.active < len(sweep.results):
        return sweep.results[sweep.active]
    return None


def _trial_poll(cls, context) -> bool:
    trial = selected_trial(context)
    if trial is None:
        cls.poll_message_set("Pick a trial in the results list")
        return False
    if not Path(trial.policy).is_file():
        cls.poll_message_set("This trial has no policy yet (it has not finished)")
        return False
    return True


# -- operators ----------------------------------------------------------------------------------------
class RIGDOJO_OT_sweep_start(bpy.types.Operator):
    """Train every seed and variation at once on Ray (this machine's cores, or the cluster at Address), with the
    Dojo tab's settings; each trial is a normal run folder"""

    bl_idname = "rig_dojo.sweep_start"
    bl_label = "Start Sweep"

    @classmethod
    def poll(cls, context):
        if is_running():
            cls.poll_message_set("A sweep is running")
            return False
        if deps.missing(["ray"]):
            cls.poll_message_set("Install Ray first (Preferences > Add-ons > Rig Dojo > Install Ray)")
            return False
        return True

    def execute(self, context):
        try:
            folder = start_sweep(context)
        except RigDojoError as exc:
            self.report({'ERROR'}, str(exc))
            return {'CANCELLED'}
        self.report({'INFO'}, f"Sweep started; its folder is {folder}")
        return {'FINISHED'}


class RIGDOJO_OT_sweep_stop(bpy.types.Operator):
    """Stop the sweep (finished trials are kept; start it again from its folder with the command line's
    --resume)"""

    bl_idname = "rig_dojo.sweep_stop"
    bl_label = "Stop Sweep"

    @classmethod
    def poll(cls, context):
        if not is_running():
            cls.poll_message_set("No sweep is running")
            return False
        return True

    def execute(self, context):
        stop_sweep()
        return {'FINISHED'}


class RIGDOJO_OT_sweep_refresh(bpy.types.Operator):
    """Read the results of the sweep folder again"""

    bl_idname = "rig_dojo.sweep_refresh"
    bl_label = "Refresh Results"

    def execute(self, context):
        try:
            rows = load_results(context.scene.rig_dojo_sweep)
        except RigDojoError as exc:
            self.report({'ERROR'}, str(exc))
            return {'CANCELLED'}
        self.report({'INFO'}, f"{len(rows)} trial(s)")
        return {'FINISHED'}


class RIGDOJO_OT_sweep_preview(bpy.types.Operator):
    """Play the selected trial's policy on the rig once (nothing is keyed; the pose is restored)"""

    bl_idname = "rig_dojo.sweep_preview"
    bl_label = "Preview"

    @classmethod
    def poll(cls, context):
        return _trial_poll(cls, context)

    def execute(self, context):
        global _preview
        try:
            _preview = TakePreview(selected_trial(context).policy)
        except RigDojoError as exc:
            self.report({'ERROR'}, str(exc))
            return {'CANCELLED'}
        if not bpy.app.timers.is_registered(_preview_tick):
            bpy.app.timers.register(_preview_tick, first_interval=PREVIEW_SECONDS)
        return {'FINISHED'}


class RIGDOJO_OT_sweep_bake_take(bpy.types.Operator):
    """Bake the selected trial as a take: a new Action named after it, on its own NLA track, made the active
    Action (the previous one is kept)"""

    bl_idname = "rig_dojo.sweep_bake_take"
    bl_label = "Bake This Take"
    bl_options = {'REGISTER', 'UNDO'}

    @classmethod
    def poll(cls, context):
        return _trial_poll(cls, context)

    def execute(self, context):
        from ..scene.takes import bake_take

        trial = selected_trial(context)
        row = {"trial": trial.name, "policy": trial.policy, "success_rate": trial.success,
               "final_error": trial.error}
        try:
            take = bake_take(row, rank=max(trial.rank, 1), make_active=True)
        except RigDojoError as exc:
            self.report({'ERROR'}, str(exc))
            return {'CANCELLED'}
        self.report({'INFO'}, f"Baked {trial.name} into Action {take['action']!r} on {take['object']} "
                              f"(NLA track {take['track']!r})")
        return {'FINISHED'}


classes = (RigDojoSweepTrial, RigDojoSweepSettings, RIGDOJO_OT_sweep_start, RIGDOJO_OT_sweep_stop,
           RIGDOJO_OT_sweep_refresh, RIGDOJO_OT_sweep_preview, RIGDOJO_OT_sweep_bake_take)


def register() -> None:
    for cls in classes:
        bpy.utils.register_class(cls)
    bpy.types.Scene.rig_dojo_sweep = PointerProperty(type=RigDojoSweepSettings)  # type: ignore[attr-defined]


def unregister() -> None:
    for timer in (poll_sweep, _preview_tick):
        if bpy.app.timers.is_registered(timer):
            bpy.app.timers.unregister(timer)
    del bpy.types.Scene.rig_dojo_sweep  # type: ignore[attr-defined]
    for cls in reversed(classes):
        bpy.utils.unregister_class(cls)

