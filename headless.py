"""Running a training without the UI: the progress line, run folders, the summary (cli.py and demo.py).

- :func:`run_training`: train (or continue) in a background session, show progress, evaluate
  deterministically, write ``summary.json``;
- :func:`default_run_dir` / :func:`resolve_run_dir`: where runs go when nobody says (the sidebar uses
  the same rules): ``//rig_dojo_runs/<name>_<task>_<time>`` beside a saved .blend, else under the
  system's temporary folder; never inside the extension's own folder;
- :func:`quiet_blender` and :func:`open_scene`: Blender's own notes kept off stdout, a .blend opened
  with one clear error.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path

import bpy

from .agents.run_summary import has_joint_limits  # noqa: F401  (cli.py uses it from here)
from .errors import RigDojoError

PACKAGE_DIR = Path(__file__).resolve().parent


@contextlib.contextmanager
def quiet_blender():
    """Silence the notes Blender prints from C while it reads or writes a file (stdout and stderr), so
    stdout carries only our output (e.g. --json) and an error is one line. Failures still raise."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, devnull):
            os.close(fd)


def open_scene(path: str | None) -> None:
    """Load SCENE.blend (``python -m``); under ``blender -b scene.blend -c`` the file is already open."""
    if path is None:
        if not bpy.data.filepath and not bpy.data.objects:
            raise RigDojoError("no .blend given; pass SCENE.blend")
        return
    file = Path(path)
    if not file.is_file():
        raise RigDojoError(f"{path}: no such .blend file")
    if file.suffix != ".blend":
        raise RigDojoError(f"{path} is not a .blend file")
    try:
        with quiet_blender():
            bpy.ops.wm.open_mainfile(filepath=str(file.resolve()), load_ui=False)
    except RuntimeError as exc:
        raise RigDojoError(f"{path}: Blender could not open it ({exc})") from exc


def default_run_dir(config) -> str:
    """``//rig_dojo_runs/<name>_<task>_<time>`` beside a saved .blend, else a folder under the system's
    temporary folder (``name``: the rig, or the camera; the family says which)."""
    from .envs.families import family_of

    name = bpy.path.clean_name(family_of(config.task).edge_hooks().run_name(config) or "run")
    folder = f"{name}_{config.task}_{time.strftime('%Y%m%d-%H%M%S')}"
    if bpy.data.filepath:
        return f"//rig_dojo_runs/{folder}"
    return str(Path(tempfile.gettempdir()) / "rig_dojo_runs" / folder)


def resolve_run_dir(path: str | Path) -> Path:
    """An absolute run folder; RigDojoError for a relative path in an unsaved file or the extension's folder."""
    path = str(path)
    if path.startswith("//") and not bpy.data.filepath:
        raise RigDojoError(f"the run folder {path!r} is relative to the .blend, which is not saved yet; "
                           "save the file or choose an absolute folder")
    resolved = Path(bpy.path.abspath(path)).resolve()
    if resolved == PACKAGE_DIR or PACKAGE_DIR in resolved.parents:
        raise RigDojoError(f"the run folder {resolved} is inside the add-on's own folder, which is replaced on "
                           "upgrade; choose another folder")
    return resolved


def progress_line(snapshot, total: int, tty: bool, success_label: str = "success while exploring") -> str:
    step = snapshot.step
    sps = snapshot.steps_per_second
    eta = snapshot.eta_seconds
    eta_text = f"{int(eta // 60)}:{int(eta % 60):02d}" if eta == eta and eta != float("inf") else "--:--"
    ret = "--" if snapshot.mean_return != snapshot.mean_return else f"{snapshot.mean_return:8.2f}"
    success = "--" if snapshot.success_rate != snapshot.success_rate else f"{snapshot.success_rate:4.0%}"
    budget = snapshot.wall_time + eta if not total and eta == eta and eta != float("inf") else 0.0
    done = min(1.0, step / total) if total else (min(1.0, snapshot.wall_time / budget) if budget else 0.0)
    bar = ("#" * int(done * 24)).ljust(24, "-") if tty else ""
    # a time budget without a step limit: progress is the budget's clock
    head = f"[{bar}] {done:4.0%}" if tty else (f"step {step:,d}/{total:,d}" if total else
                                               f"step {step:,d}, {snapshot.wall_time:.0f}/{budget:.0f} s")
    rate = f"{sps:9,.0f}" if sps == sps else f"{'--':>9s}"  # NaN until the run has a rate (the first half second)
    return f"{head}  {rate} steps/s  ETA {eta_text}  return {ret}  {success_label} {success}"


def run_training(config, make_env, run_dir: Path | None, resume: bool = False, init_from: str | None = None,
                 quiet: bool = False, episodes: int = 64, report=None, scene_path: str | None = None,
                 evaluation=None, resume_budget: dict | None = None, zero_shot: bool = False) -> dict:
    """Train (or continue) in a background session, show progress, evaluate, write summary.json.

    ``report(policy, config) -> dict``: the task's own numbers, merged into summary.json (the
    camera's shot metrics against its baselines, a creature's time upright against zero actions).
    ``evaluation(policy, config, episodes) -> Evaluation``: how the policy is evaluated (default
    ``agents.evaluate.evaluate`` over ``make_env``; the command line passes
    ``envs.families.evaluate_policy``, which asks the family).
    ``resume_budget``: ``{"total_steps": N, "minutes": M}`` replacing a resumed run's budget (saved to its
    config.toml once the run folder is locked). ``scene_path``: the .blend, for the printed resume command.
    ``zero_shot``: train nothing; the start policy as it is becomes the run's final.rdpolicy, evaluated on the task
    (``TrainingSession(zero_shot=True)``).
    """
    import time

    from .agents.run_summary import write_run_summary
    from .agents.session import make_session
    from .envs.families import algorithm_hooks, evaluation_in_report, report_line, task_info

    if resume:
        session = make_session(None, make_env, run_dir, resume=True)
        for key, value in (resume_budget or {}).items():
            setattr(session.config.algo, key, value)
        session.config.validate()
        config = session.config
    else:
        session = make_session(config, make_env, run_dir, init_from=init_from,
                               **({"zero_shot": True} if zero_shot else {}))
    run_dir = session.run_dir
    tty = sys.stdout.isatty() and not quiet
    began = time.monotonic()
    session.start()  # refused (RigDojoError) while another training holds the folder
    for note in getattr(session, "resume_notes", ()):
        print(f"rig_dojo: note: {note}", file=sys.stderr)
    last_line = 0.0
    hooks = algorithm_hooks(config.algo.name)  # an algorithm a family brings may name its numbers its own way
    label = getattr(hooks, "SUCCESS_LABEL", "success while exploring")
    try:
        while session.wait(0.25) in ("running", "paused", "stopping", "idle"):
            snapshot = session.latest()
            if snapshot is None or quiet:
                continue
            if tty:
                print("\r" + progress_line(snapshot, config.algo.total_steps, True, label), end="", flush=True)
            elif time.monotonic() - last_line >= 10.0:
                print(progress_line(snapshot, config.algo.total_steps, False, label), flush=True)
                last_line = time.monotonic()
    except KeyboardInterrupt:
        _stop_on_interrupt(session, run_dir, scene_path, tty)
        raise
    if tty:
        print()
    if session.state == "error":
        raise_failure(session.error or "training failed", run_dir)
    wall = time.monotonic() - began
    snapshot = session.latest()
    steps = snapshot.step if snapshot else config.algo.total_steps
    end_note = getattr(session, "end_note", None)  # a search that converged before its budget says so
    fields = {"ended_early": end_note} if end_note else {}
    if zero_shot:
        fields["zero_shot"] = config.algo.start_from or str(init_from)
    if not quiet:  # a large creature's evaluation takes a while: say what is running
        print("evaluating the policy...", flush=True)
    summary, result, extra = write_run_summary(config, make_env, run_dir, steps=int(steps), wall=wall,
                                               episodes=episodes, report=report, evaluation=evaluation,
                                               resumed_from_step=int(getattr(session, "resumed_from_step", 0)),
                                               extra_fields=fields or None)
    episodes = result.episodes  # a family that evaluates its one deterministic move says 1
    if not quiet:
        verb = getattr(hooks, "DONE_VERB", "trained")
        done = f"{verb} {steps:,d} steps in {wall:.1f} s" if not zero_shot else \
            f"zero-shot: {fields['zero_shot']} as it is, no training"
        if extra and evaluation_in_report(config.task):  # the report line says what success and error are
            print(done)
        else:
            units = task_info(config.task).error_units
            print(f"{done}; deterministic evaluation over {episodes} episodes: "
                  f"success {result.success_rate:.0%}, final error {result.final_error:.4f} {units}")
        line = report_line(config.task, extra)
        if line:
            print(line)
        if end_note:
            print(f"note: {end_note}")
        resumed = int(getattr(session, "resumed_from_step", 0))
        if not zero_shot and 0 < resumed and int(steps) <= resumed:  # a resumed run keeps what it had learnt
            print(f"note: nothing more was trained: the run already had {resumed:,d} steps; give a larger --steps "
                  "or more --minutes to train on")
        elif not zero_shot and int(steps) <= 0:
            print("note: the budget ran out before the first update, so this policy is the untrained start; give "
                  "more --minutes or --steps")
        print(f"run folder: {run_dir}")
    return summary


def _stop_on_interrupt(session, run_dir: Path, scene_path: str | None, tty: bool) -> None:
    """Ctrl-C: stop the trainer and wait until it has written its checkpoint and final.rdpolicy at the step
    it stopped at; a second Ctrl-C leaves at once (the last periodic checkpoint stays)."""
    from .agents.run_folder import resume_command

    if tty:
        print()
    print("rig_dojo: stopping; saving a checkpoint and final.rdpolicy (Ctrl-C again to quit without saving) ...",
          file=sys.stderr, flush=True)
    command = resume_command(run_dir, scene_path, bpy.data.filepath or None)
    try:
        session.stop()
    except KeyboardInterrupt:
        print(f"rig_dojo: quit without saving the stop point; the last periodic checkpoint (if any) is in "
              f"{run_dir}. Resume with:\n  {command}", file=sys.stderr, flush=True)
        raise
    snapshot = session.latest()
    at = f" at step {snapshot.step:,d}" if snapshot is not None else ""
    saved = (f"stopped{at}; saved a checkpoint and final.rdpolicy" if session.state == "stopped"
             else f"the run is {session.state}")
    print(f"rig_dojo: {saved} in {run_dir}. Resume with:\n  {command}", file=sys.stderr, flush=True)


def raise_failure(error: str, run_dir: Path) -> None:
    """A session that ended in error: bad input (a RigDojoError the thread raised) and a full disk are one
    line and exit 2; anything else is a failed run (exit 1) with its traceback."""
    first = error.strip().splitlines()[0] if error.strip() else ""
    kind, _, message = first.partition(": ")
    if kind.endswith("RigDojoError"):
        raise RigDojoError(message)
    if kind in ("OSError", "PermissionError") and ("[Errno 28]" in message or "[Errno 122]" in message
                                                     or "[Errno 30]" in message or "[Errno 13]" in message):
        reason = message.split("] ", 1)[-1]
        raise RigDojoError(f"the run could not write to {run_dir} ({reason}); free space or fix permissions, then "
                           "resume it (--resume)")
    raise TrainingFailed(error or "training failed")


class TrainingFailed(Exception):
    """A run that started and then failed (exit code 1)."""


def stored_or_given_config(config_path: str | None):
    """The TrainConfig of ``--config`` (a TOML file), else the settings stored in the open .blend."""
    from .agents.config import TrainConfig

    if config_path:
        path = Path(config_path)
        if not path.is_file():
            raise RigDojoError(f"{config_path}: no such config file")
        return TrainConfig.load(path)
    from .props import settings_to_config

    return settings_to_config(bpy.context.scene.rig_dojo)
