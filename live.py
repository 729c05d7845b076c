"""The sidebar's running training: one TrainingSession and one main-thread timer (DESIGN.md, rule 3).

The training thread never touches bpy; it publishes snapshots. :func:`tick`, a
``bpy.app.timers`` callback on the main thread, reads the newest one each tick and,
in a few milliseconds: keeps the progress numbers for the Run panel, redraws the
curve image when the curve has grown (pixels written in bulk), plays the newest
preview rollout, one frame per tick, in a loop, and tags the 3D views for redraw.
What the preview moves is the task family's business: its edge module's ``Preview``
(the control bones of a rig, the camera, a creature's joints) puts one frame on the
object and restores it afterwards.
Module-mode Blender (the ``bpy`` wheel) has no event loop, so tests call :func:`tick`
themselves.

Stopping, the run ending, loading another file (``load_pre``), quitting (``atexit``)
and disabling the add-on (:func:`unregister`) all end the same way: the session is
stopped (its thread joined, the policy saved), the timer removed and what the preview
moved restored.

Results the panels show (the last verify, evaluation and bake) are kept here too:
they describe the open file and are dropped when another file loads.
"""

from __future__ import annotations

import atexit
import math
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bpy
import numpy as np
from bpy.app.handlers import persistent

from .errors import RigDojoError

TICK_SECONDS = 1.0 / 24.0  # the preview plays at about 24 frames per second
CURVE_IMAGE = ".RigDojo Reward Curve"  # a leading dot keeps it out of image pickers
CURVE_SIZE = (256, 128)  # width, height in pixels
CURVE_MAX_POINTS = 256  # longer curves are subsampled (one point per pixel column) before drawing
ACTIVE_STATES = ("running", "paused", "stopping")
PACKAGE_DIR = Path(__file__).resolve().parent


@dataclass
class LiveRun:
    """What the main thread knows about one training (the current or the last one)."""

    session: Any  # agents.session.TrainingSession or agents.cem.CemSession
    preview_target: Any  # the family's edge Preview: object_name, bones, show(obj, frame), restore(obj)
    run_dir: Path
    kind: str = "kinematic"  # the task family (what the preview moves is its Preview's business)
    snapshot: Any = None  # the newest Snapshot the timer has seen
    # (T, k, 3): one row per step of what the family previews (``BatchedTask.preview_frame``)
    preview: np.ndarray | None = None
    preview_step: int = -1
    frame: int = 0
    history_len: int = 0
    curve_numbers: tuple | None = None  # (first step, last step, lowest, highest, latest return) beside the image
    state: str = "running"  # the session's state as of the last tick
    error: str | None = None  # plain words (the traceback goes to the console)
    ended: bool = False
    began: float = field(default_factory=time.monotonic)

    @property
    def active(self) -> bool:
        return not self.ended and self.session.state in ACTIVE_STATES

    @property
    def rig_name(self) -> str:
        """The object the preview moves: the rig, or the camera."""
        return self.preview_target.object_name

    @property
    def bones(self) -> tuple[str, ...]:
        return tuple(self.preview_target.bones)


_run: LiveRun | None = None
results: dict[str, Any] = {}  # "verify": (rig, text, exact), "evaluation": (policy path, Evaluation), "bake": text


def current() -> LiveRun | None:
    """The current or last training of this file (None before the first)."""
    return _run


def is_training() -> bool:
    return _run is not None and _run.active


# -- where runs go (the same rules as the command line: headless.py) ---------------------------

def default_run_dir(config) -> str:
    from .headless import default_run_dir as rule

    return rule(config)


def resolve_run_dir(path: str) -> Path:
    from .headless import resolve_run_dir as rule

    return rule(path)


def policy_path(settings) -> Path | None:
    """The policy the Bake and Evaluate panels use: the picked file, else the last run's final policy."""
    if settings.bake.policy_path:
        picked = Path(bpy.path.abspath(settings.bake.policy_path))
        return picked / "final.rdpolicy" if picked.is_dir() else picked  # a run folder: its final policy
    if _run is not None:
        return _run.run_dir / "final.rdpolicy"
    if settings.last_run_dir:
        return Path(bpy.path.abspath(settings.last_run_dir)) / "final.rdpolicy"
    return None


# -- starting and stopping ------------------------------------------------------------------

def begin(session, preview, *, family: str = "kinematic") -> LiveRun:
    """Watch a started ``session``: register the timer; ``preview`` (the family's edge ``Preview``) has
    already backed up what it moves."""
    global _run
    if is_training():
        raise RigDojoError("a training is already running; stop it first")
    _run = LiveRun(session=session, preview_target=preview, run_dir=Path(session.run_dir), kind=family)
    update_curve(())  # the last run's curve must not pass for this one's
    if not bpy.app.timers.is_registered(tick):
        bpy.app.timers.register(tick, first_interval=TICK_SECONDS)
    return _run


def stop() -> None:
    """Stop the current training (waits for its thread, which saves the policy), restore the pose."""
    run = _run
    if run is None or run.ended:
        return
    run.session.stop()
    _update(run, play=False)
    _end(run)


def shutdown() -> None:
    """Stop everything and forget this file's runs and results (another file loads, the add-on goes)."""
    global _run
    if bpy.app.timers.is_registered(tick):
        bpy.app.timers.unregister(tick)
    run = _run
    if run is not None and not run.ended:
        try:
            run.session.stop()
        finally:
            _end(run)
    _run = None
    results.clear()


# -- the timer ------------------------------------------------------------------------------

def tick() -> float | None:
    """The timer callback: update from the newest snapshot, play one preview frame, redraw.

    Returns the seconds until the next tick, or None (the timer ends) once the run is over.
    """
    run = _run
    if run is None or run.ended:
        return None
    try:
        _update(run, play=True)
    except Exception:  # a bug here must not leave a timer firing forever, nor the training running
        traceback.print_exc()
        run.error = "The live preview failed (details in the console); the training was stopped"
        run.session.stop()
        _end(run)
        return None
    if run.state not in ACTIVE_STATES:
        _end(run)
        return None
    return TICK_SECONDS


def _update(run: LiveRun, play: bool) -> None:
    session = run.session
    run.state = session.wait(0)  # the state now; once it has ended, with its last snapshot published
    snapshot = session.latest()
    if snapshot is not None and snapshot is not run.snapshot:  # a new snapshot (one per 0.5 s or so)
        run.snapshot = snapshot
        history = session.history
        if len(history) != run.history_len:
            run.history_len = len(history)
            update_curve(history)
            run.curve_numbers = curve_numbers(history)
        if snapshot.preview is not None and snapshot.preview_step != run.preview_step:
            run.preview, run.preview_step, run.frame = snapshot.preview, snapshot.preview_step, 0
    if play and run.preview is not None and len(run.preview) and run.state in ("running", "paused"):
        obj = bpy.data.objects.get(run.rig_name)  # by name: undo replaces the data
        # a rig or camera deleted or a bone renamed meanwhile: no preview, the training goes on
        if obj is not None and show_preview_frame(run, obj, run.preview[run.frame % len(run.preview)]):
            run.frame += 1
    if run.state == "error" and run.error is None:
        text = session.error or "unknown error"
        print(f"Rig Dojo: the training failed\n{text}")  # the traceback, for the console
        run.error = plain_error(text)
    tag_redraw()


def show_preview_frame(run: LiveRun, obj, frame: np.ndarray) -> bool:
    """Put one preview frame on ``obj`` (the run's rig or camera); False if it no longer fits."""
    return bool(run.preview_target.show(obj, frame))


def _end(run: LiveRun) -> None:
    run.ended = True
    run.state = run.session.state
    if bpy.app.timers.is_registered(tick):
        bpy.app.timers.unregister(tick)
    if run.state == "error" and run.error is None:
        print(f"Rig Dojo: the training failed\n{run.session.error}")
        run.error = plain_error(run.session.error or "unknown error")
    restore_pose(run)
    tag_redraw()


def restore_pose(run: LiveRun) -> None:
    """Put back what the preview moved (the object is looked up again: undo, reloads)."""
    try:
        obj = bpy.data.objects.get(run.rig_name)
    except (ReferenceError, AttributeError):  # during file loading or shutdown
        return
    if obj is not None:
        run.preview_target.restore(obj)


def plain_error(text: str) -> str:
    """The first line of a session error ("TypeError: ..." → the message), for the panel."""
    first = text.strip().splitlines()[0] if text.strip() else "unknown error"
    kind, _, message = first.partition(": ")
    if kind == "RigDojoError" or kind.endswith(".RigDojoError"):
        return message
    return first


def update_curve(history) -> bpy.types.Image:
    """Draw the mean-return curve into the curve image (and its preview) with one bulk write each."""
    from .agents.curve import render_curve

    n = len(history)
    pick = range(n) if n <= CURVE_MAX_POINTS else np.unique(np.linspace(0, n - 1, CURVE_MAX_POINTS).round().astype(int))
    steps = np.array([history[i].step for i in pick], dtype=np.float64)
    values = np.array([history[i].mean_return for i in pick], dtype=np.float64)
    width, height = CURVE_SIZE
    pixels = render_curve(values, width, height, x=steps).ravel()
    image = curve_image(create=True)
    assert image is not None
    image.pixels.foreach_set(pixels)  # type: ignore[attr-defined]
    # The panel shows the image through its preview icon, which Blender does not
    # regenerate when pixels change: give the preview the same pixels.
    preview = image.preview_ensure()
    preview.image_size = (width, height)
    preview.image_pixels_float.foreach_set(pixels)  # type: ignore[attr-defined]
    return image


def curve_numbers(history) -> tuple | None:
    """(first step, last step, lowest, highest, latest mean return) of the curve, for the Curve panel."""
    values = [p.mean_return for p in history if math.isfinite(p.mean_return)]
    if not history or not values:
        return None
    return history[0].step, history[-1].step, min(values), max(values), values[-1]


def curve_image(create: bool = False) -> bpy.types.Image | None:
    image = bpy.data.images.get(CURVE_IMAGE)
    width, height = CURVE_SIZE
    if image is not None and tuple(image.size) != (width, height):
        image.scale(width, height)
    if image is None and create:
        image = bpy.data.images.new(CURVE_IMAGE, width, height, alpha=True)
    return image


def tag_redraw() -> None:
    wm = bpy.context.window_manager
    for window in getattr(wm, "windows", ()):  # none in some headless sessions
        screen = window.screen
        if screen is None:
            continue
        for area in screen.areas:
            if area.type == 'VIEW_3D':
                area.tag_redraw()


# -- formatting for the panels ----------------------------------------------------------------

def format_seconds(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "--"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def progress(run: LiveRun) -> tuple[float, str]:
    """(factor 0..1, text) for the progress bar."""
    snap = run.snapshot
    if snap is None:
        return 0.0, "Starting..."
    algo = run.session.config.algo
    factors = []
    if snap.total_steps > 0:
        factors.append(snap.step / snap.total_steps)
    if algo.minutes > 0:
        factors.append(snap.wall_time / (algo.minutes * 60.0))
    factor = min(1.0, max(factors)) if factors else 0.0
    if run.state in ("finished", "stopped"):
        factor = 1.0 if run.state == "finished" else factor
    sps = f"{snap.steps_per_second:,.0f} steps/s" if math.isfinite(snap.steps_per_second) else "-- steps/s"
    text = f"{snap.step:,d} steps · {sps}"
    if run.state in ("running", "paused"):
        text += f" · ETA {format_seconds(snap.eta_seconds)}"
    return factor, text


# -- handlers -------------------------------------------------------------------------------

@persistent
def _on_load_pre(*_args) -> None:
    shutdown()


def _on_exit() -> None:
    # Blender is quitting: end the thread cleanly so the run folder holds a checkpoint and the policy.
    run = _run
    if run is not None and not run.ended:
        try:
            run.session.stop()
        except Exception:
            traceback.print_exc()


def register() -> None:
    if _on_load_pre not in bpy.app.handlers.load_pre:
        bpy.app.handlers.load_pre.append(_on_load_pre)
    atexit.register(_on_exit)


def unregister() -> None:
    shutdown()
    if _on_load_pre in bpy.app.handlers.load_pre:
        bpy.app.handlers.load_pre.remove(_on_load_pre)
    atexit.unregister(_on_exit)
