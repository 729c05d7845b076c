"""The command line: ``python -m rig_dojo SUBCOMMAND`` and ``blender -b -c rig_dojo SUBCOMMAND``.

Both entries run the same parser. Exit codes: 0 success, 1 a failed run, 2 bad
input (one line on stderr saying what to fix), 3 a twin that is not exact.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import sys
from pathlib import Path

from .errors import RigDojoError


def _names(text: str) -> list[str]:
    return [n.strip() for n in text.split(",") if n.strip()]


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
    import bpy

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


def _cmd_verify(args: argparse.Namespace) -> int:

    from .envs.verify import verify

    open_scene(args.scene)
    report = verify(args.rig, _names(args.controls), _names(args.track), samples=args.samples, seed=args.seed)
    print(report.to_json() if args.json else report.format())
    return 0 if report.exact else 3


def _progress(snapshot, total: int, tty: bool) -> str:
    step = snapshot.step
    sps = snapshot.steps_per_second
    eta = snapshot.eta_seconds
    eta_text = f"{int(eta // 60)}:{int(eta % 60):02d}" if eta == eta and eta != float("inf") else "--:--"
    ret = "--" if snapshot.mean_return != snapshot.mean_return else f"{snapshot.mean_return:8.2f}"
    success = "--" if snapshot.success_rate != snapshot.success_rate else f"{snapshot.success_rate:4.0%}"
    done = min(1.0, step / total) if total else 0.0
    bar = ("#" * int(done * 24)).ljust(24, "-") if tty else ""
    head = f"[{bar}] {done:4.0%}" if tty else f"step {step:,d}/{total:,d}"
    return f"{head}  {sps:9,.0f} steps/s  ETA {eta_text}  return {ret}  success while exploring {success}"


def _config_from_args(args: argparse.Namespace):
    """The TrainConfig: --config TOML, else the settings stored in the .blend; then the flags."""
    import bpy

    from .agents.config import TrainConfig, defaults_for

    if args.config:
        path = Path(args.config)
        if not path.is_file():
            raise RigDojoError(f"{args.config}: no such config file")
        config = TrainConfig.load(path)
    else:
        from .props import settings_to_config

        config = settings_to_config(bpy.context.scene.rig_dojo)
    task_changed = bool(args.task) and args.task != config.task
    if task_changed:
        from .envs.task_build import task_family

        if task_family(args.task) != task_family(config.task):
            config.rewards = []  # another family's terms cannot score this task: use the task's defaults
            if task_family(args.task) == "physics":
                config.rig.controls = []  # physics simulates every bone under the root unless --controls
        config.task = args.task
    if args.algo:
        if args.algo != config.algo.name:
            seed = config.algo.seed
            config.algo = defaults_for(args.algo, config.task)
            config.algo.seed = seed
    elif (config.algo.name == "cem") != (config.task == "camera") and (task_changed or not args.config):
        # an algorithm chosen for another task: the camera trains by policy search, everything else by PPO
        seed = config.algo.seed
        config.algo = defaults_for("cem" if config.task == "camera" else "ppo", config.task)
        config.algo.seed = seed
    _task_defaults(config)
    _camera_and_physics_flags(args, config)
    sel = config.rig
    for flag, field in (("rig", "rig"), ("effector", "effector"), ("target", "target"), ("region", "region")):
        if getattr(args, flag):
            setattr(sel, field, getattr(args, flag))
    if args.target and not args.region:
        sel.region = ""
    if args.region and not args.target:
        sel.target = ""
    if args.controls:
        sel.controls = _names(args.controls)
    if args.steps is not None:
        config.algo.total_steps = args.steps
    if args.minutes is not None:
        config.algo.minutes = args.minutes
    if args.seed is not None:
        config.algo.seed = args.seed
    config.validate()
    return config


def _task_defaults(config) -> None:
    """Untouched defaults (the algorithm's, or another task's tuning) become the task's own tuned
    defaults where it has them (locomotion); settings anyone changed are kept."""
    from .agents.config import TASKS, defaults_for

    algo = config.algo
    if algo.name == "cem":
        return
    untouched = [defaults_for(algo.name)] + [defaults_for(algo.name, task) for task in TASKS]
    if any(dataclasses.replace(d, seed=algo.seed) == algo for d in untouched):
        config.algo = defaults_for(algo.name, config.task)
        config.algo.seed = algo.seed


def _camera_and_physics_flags(args: argparse.Namespace, config) -> None:
    """The camera task's and the physics tasks' flags, into [camera] and [physics]."""
    cam, ph = config.camera, config.physics
    for flag, name in (("camera", "camera"), ("subject", "subject"), ("bone", "bone"), ("mode", "mode"),
                       ("framing", "framing")):
        value = getattr(args, flag, None)
        if value is not None:
            setattr(cam, name, value)
    frames = getattr(args, "frames", None)
    if frames is not None:
        if config.task != "camera":
            raise RigDojoError("--frames sets the shot of --task camera; the other tasks use the scene's frame range")
        cam.frame_start, cam.frame_end = _frames(frames)
    for flag in ("density", "strength", "friction", "root"):
        value = getattr(args, flag, None)
        if value is not None:
            setattr(ph, flag, value)


def _default_run_dir(config) -> Path:
    import time

    import bpy

    base = Path(bpy.path.abspath("//rig_dojo_runs")) if bpy.data.filepath else Path.cwd() / "rig_dojo_runs"
    name = (config.camera.camera or "camera") if config.task == "camera" else (config.rig.rig or "rig")
    return base / f"{name}_{config.task}_{time.strftime('%Y%m%d-%H%M%S')}"


# what "error" means in each task's evaluation (infos["error"] at an episode's last step)
_ERROR_UNITS = {"reach": "chain lengths", "aim": "radians", "grasp": "chain lengths",
                "camera": "image units from the framing point", "stand": "radians of tilt",
                "locomotion": "body sizes/s below the target speed", "jump": "body sizes below the jump height",
                "obstacles": "body sizes short of the obstacle"}


def _report_line(config, report: dict) -> str:
    """The task's own numbers, one line (camera: trained vs fixed vs track-to; physics: vs zero actions)."""
    if "shot" in report:
        shot = report["shot"]
        parts = [f"{name} {m['framing']:.3f}/{m['occlusion']:.3f}/{m['jerk']:.3g}"
                 for name, m in ((n, shot[n]) for n in ("trained", "fixed", "track_to"))]
        return f"shot ({shot['framing_point']}) framing/occlusion/jerk: " + ", ".join(parts)
    if "physics" in report:
        ph = report["physics"]
        parts = [f"{name} {m['seconds_up']:.2f} s up, {m['distance']:+.2f} sizes"
                 for name, m in ((n, ph[n]) for n in ("trained", "zero_actions"))]
        return f"over {ph['episodes']} episodes of {ph['episode_seconds']:g} s: " + ", ".join(parts)
    return ""


def run_training(config, make_env, run_dir: Path | None, resume: bool = False, init_from: str | None = None,
                 quiet: bool = False, episodes: int = 64, report=None) -> dict:
    """Train (or continue) in a background session, show progress, evaluate, write summary.json.

    ``report(policy, config) -> dict``: the task's own numbers, merged into summary.json (the
    camera's shot metrics against its baselines, a creature's time upright against zero actions).
    """
    import json
    import time

    from .agents.evaluate import evaluate
    from .envs.training import load_task_policy, make_session

    if resume:
        session = make_session(None, make_env, run_dir, resume=True)
        config = session.config
    else:
        session = make_session(config, make_env, run_dir, init_from=init_from)
    run_dir = session.run_dir
    tty = sys.stdout.isatty() and not quiet
    began = time.monotonic()
    session.start()
    last_line = 0.0
    try:
        while session.wait(0.25) in ("running", "paused", "stopping", "idle"):
            snapshot = session.latest()
            if snapshot is None or quiet:
                continue
            if tty:
                print("\r" + _progress(snapshot, config.algo.total_steps, True), end="", flush=True)
            elif time.monotonic() - last_line >= 10.0:
                print(_progress(snapshot, config.algo.total_steps, False), flush=True)
                last_line = time.monotonic()
    except KeyboardInterrupt:
        session.stop()
        if tty:
            print()
        scene = f" {sys.argv[2]}" if len(sys.argv) > 2 else ""
        print(f"rig_dojo: stopped; the last checkpoint is in {run_dir}. Resume with:\n"
              f"  python -m rig_dojo train{scene} --resume {run_dir}", file=sys.stderr)
        raise
    if tty:
        print()
    if session.state == "error":
        raise TrainingFailed(session.error or "training failed")
    wall = time.monotonic() - began
    policy_path = run_dir / "final.rdpolicy"
    policy = load_task_policy(policy_path)
    result = evaluate(policy, make_env, config, episodes=episodes)
    snapshot = session.latest()
    steps = snapshot.step if snapshot else config.algo.total_steps
    summary = {
        "success_rate": result.success_rate, "final_error": result.final_error, "steps": int(steps),
        "wall_seconds": wall, "steps_per_second": steps / wall if wall > 0 else 0.0,
        "mean_jerk": result.mean_jerk, "limit_violations": result.limit_violation_total,
        "episodes": episodes, "policy": str(policy_path), "policy_sha256": policy.sha256,
        "task": config.task, "rig": config.rig.rig, "algo": config.algo.name, "seed": config.algo.seed,
    }
    extra = report(policy, config) if report is not None else {}
    if "shot" in extra:
        trained = extra["shot"]["trained"]
        summary.update(camera=extra["shot"]["camera"], subject=extra["shot"]["subject"], framing_error=trained["framing"],
                       occlusion=trained["occlusion"], jerk=trained["jerk"])
    summary.update(extra)
    from .agents.files import write_atomic

    write_atomic(run_dir / "summary.json", json.dumps(summary, indent=2).encode())
    if not quiet:
        units = _ERROR_UNITS.get(config.task, "")
        print(f"trained {steps:,d} steps in {wall:.1f} s; deterministic evaluation over {episodes} episodes: "
              f"success {result.success_rate:.0%}, final error {result.final_error:.4f} {units}")
        line = _report_line(config, extra)
        if line:
            print(line)
        print(f"run folder: {run_dir}")
    return summary


class TrainingFailed(Exception):
    """A run that started and then failed (exit code 1)."""


def _cmd_train(args: argparse.Namespace) -> int:
    from .agents.config import TrainConfig
    from .envs.task_build import spec_from_config, training_report
    from .envs.training import env_factory

    open_scene(args.scene)
    if args.resume:
        run_dir = Path(args.resume)
        if not (run_dir / "config.toml").is_file():
            raise RigDojoError(f"{args.resume} is not a run folder (no config.toml); give the folder a run wrote")
        config = TrainConfig.load(run_dir / "config.toml")
    else:
        config = _config_from_args(args)
        run_dir = Path(args.out) if args.out else _default_run_dir(config)
    if args.init_from and not Path(args.init_from).is_file():
        raise RigDojoError(f"{args.init_from}: no such policy file")
    spec = spec_from_config(config)
    make_env = env_factory(spec)
    run_training(config, make_env, run_dir, resume=bool(args.resume), init_from=args.init_from,
                 report=lambda policy, cfg: training_report(policy, spec, cfg))
    return 0


def _policy_and_task(args: argparse.Namespace):
    from .envs.task_build import spec_from_config
    from .envs.training import env_factory, load_task_policy

    open_scene(args.scene)
    policy = load_task_policy(args.policy)
    config = policy.config
    spec = spec_from_config(config)
    make_env = env_factory(spec)
    policy.check_compatible(make_env(config, 1, 0))
    return policy, config, make_env, spec


def _cmd_evaluate(args: argparse.Namespace) -> int:
    import json

    from .agents.evaluate import evaluate
    from .envs.task_build import training_report

    policy, config, make_env, spec = _policy_and_task(args)
    result = evaluate(policy, make_env, config, episodes=args.episodes)
    extra = training_report(policy, spec, config)
    if args.json:
        print(json.dumps({**result.to_dict(), "task": config.task, **extra}, indent=2))
    else:
        units = _ERROR_UNITS.get(config.task, "")
        print(f"{args.policy}: over {args.episodes} deterministic episodes: success {result.success_rate:.0%}, "
              f"final error {result.final_error:.4f} {units}, mean jerk {result.mean_jerk:.3g}, "
              f"joint-limit violations {result.limit_violation_total:.3g}")
        line = _report_line(config, extra)
        if line:
            print(line)
    return 0


def _frames(text: str) -> tuple[int, int]:
    try:
        start, end = (int(v) for v in text.split("-", 1))
    except ValueError:
        raise RigDojoError(f"--frames {text!r}: give START-END, e.g. 1-120") from None
    if end <= start:
        raise RigDojoError(f"--frames {text}: END must be after START")
    return start, end


def _cmd_bake(args: argparse.Namespace) -> int:
    import json

    import bpy

    from .envs.task_build import bake_task_policy

    if not args.save and not args.output:
        raise RigDojoError("say where the baked file goes: --save (overwrite SCENE.blend) or --output NEW.blend")
    frames = _frames(args.frames)
    open_scene(args.scene)
    if args.save and not bpy.data.filepath:
        raise RigDojoError("--save needs a saved .blend; use --output NEW.blend")
    if not Path(args.policy).is_file():
        raise RigDojoError(f"{args.policy}: no such policy file")
    report = bake_task_policy(args.policy, frames=frames, action_name=args.action, reduce_degrees=args.reduce)
    target = Path(args.output).resolve() if args.output else Path(bpy.data.filepath)
    with quiet_blender():
        if args.output:
            bpy.ops.wm.save_as_mainfile(filepath=str(target), copy=True)
        else:
            bpy.ops.wm.save_mainfile()
    if args.json:
        print(json.dumps({**report.to_dict(), "file": str(target)}, indent=2))
    else:
        print(report.format())
        print(f"saved {target}")
    return 0


def _cmd_export_config(args: argparse.Namespace) -> int:
    import bpy

    from .props import settings_to_config

    open_scene(args.scene)
    text = settings_to_config(bpy.context.scene.rig_dojo).to_toml()
    if args.out:
        from .agents.files import write_atomic

        write_atomic(Path(args.out), text.encode())
        print(f"wrote {args.out}")
    else:
        print(text, end="")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    run_demo(Path(args.out), quick=args.quick)
    return 0


def _cmd_render_tune(args: argparse.Namespace) -> int:
    import json
    import time

    import bpy

    from .envs.render_tune_scene import check_cycles, tune_scene
    from .envs.rendering.tune import check_target

    check_target(args.target_ssim)
    frames = _frames(args.frames) if args.frames else None
    if args.minutes is not None and args.minutes <= 0:
        raise RigDojoError(f"--minutes {args.minutes}: give a positive time budget")
    open_scene(args.scene)
    check_cycles()
    scene = bpy.context.scene
    frames = frames or (scene.frame_start, scene.frame_end)
    if args.out:
        out = Path(args.out)
    else:
        base = Path(bpy.path.abspath("//rig_dojo_runs")) if bpy.data.filepath else Path.cwd() / "rig_dojo_runs"
        out = base / f"render_tune_{time.strftime('%Y%m%d-%H%M%S')}"
    err = os.fdopen(os.dup(2), "w")  # progress goes to the terminal while Blender's own notes are silenced
    tty = err.isatty() and not args.json

    def progress(line: str) -> None:
        if tty:
            print(f"\r{line[:100]:<100}", end="", file=err, flush=True)

    try:
        with quiet_blender():
            report = tune_scene(scene, frames, args.target_ssim, minutes=args.minutes, sampled=args.sampled,
                                verify=args.verify, threads=args.threads, reference_samples=args.reference_samples,
                                progress=progress)
            out.mkdir(parents=True, exist_ok=True)
            bpy.ops.wm.save_as_mainfile(filepath=str((out / "tuned.blend").resolve()), copy=True)
    finally:
        if tty:
            print(file=err, flush=True)
        err.close()
    from .agents.files import write_atomic

    write_atomic(out / "report.json", report.to_json().encode())
    if args.json:
        print(json.dumps({**report.to_dict(), "out": str(out)}, indent=2))
    else:
        print(report.format())
        print(f"wrote {out / 'report.json'} and {out / 'tuned.blend'} (the settings keyed per frame)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rig_dojo", description="Rig Dojo: teach rigs to move by reinforcement learning.",
        epilog="Exit codes: 0 success, 1 a failed run, 2 bad input, 3 a twin that is not exact.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="SUBCOMMAND")
    scene_help = "the .blend to open (omit under `blender -b SCENE.blend -c rig_dojo`)"

    demo = sub.add_parser("demo", help="build demo scenes, train, bake and write runs/demo/")
    demo.add_argument("--out", default="runs/demo", help="output folder (default: runs/demo)")
    demo.add_argument("--quick", action="store_true", help="tiny budgets (a smoke test, not a good result)")
    demo.set_defaults(run=_cmd_demo)

    train = sub.add_parser("train", help="train a policy headless",
                           description="Train with --config run.toml or the settings stored in the .blend; "
                                       "flags override the common settings. Writes a run folder ending in "
                                       "summary.json.")
    train.add_argument("scene", nargs="?", metavar="SCENE.blend", help=scene_help)
    train.add_argument("--config", help="a TOML config (python -m rig_dojo export-config writes one)")
    train.add_argument("--rig", help="the armature object")
    train.add_argument("--task", choices=("reach", "aim", "grasp", "camera", "stand", "locomotion", "jump",
                                          "obstacles"))
    train.add_argument("--controls", help="comma-separated control bones (physics: the bones to simulate; "
                                          "default every bone under the root)")
    train.add_argument("--effector", help="the bone that reaches / aims / grips")
    train.add_argument("--target", help="the target object (animated objects are followed frame by frame)")
    train.add_argument("--region", help="random targets inside this object's bounds")
    train.add_argument("--algo", choices=("ppo", "a2c", "sac", "td3", "dqn", "qlearning", "cem"),
                       help="cem: cross-entropy policy search, the camera's default (camera only)")
    cam = train.add_argument_group("camera task (--task camera)")
    cam.add_argument("--camera", help="the camera object (default: the scene's camera)")
    cam.add_argument("--subject", help="the animated object to keep in frame")
    cam.add_argument("--bone", help="follow this bone of an armature subject")
    cam.add_argument("--frames", metavar="START-END", help="the shot (default: the scene's frame range)")
    cam.add_argument("--mode", choices=("free", "dolly", "pan"), help="free, dolly (move only) or pan (turn only)")
    cam.add_argument("--framing", choices=("center", "left_third", "right_third", "nearest_third"),
                     help="where the subject should sit in the frame")
    phys = train.add_argument_group("physics tasks (--task stand, locomotion, jump or obstacles; --rig)")
    phys.add_argument("--root", help="the root bone (default: the armature's only top-level bone)")
    phys.add_argument("--density", type=float, help="kg/m³ of every bone's capsule (default 1000)")
    phys.add_argument("--strength", type=float, help="servo strength multiplier (default 1)")
    phys.add_argument("--friction", type=float, help="sliding friction (default 1)")
    train.add_argument("--steps", type=int, help="total environment steps")
    train.add_argument("--minutes", type=float, help="a time budget instead of steps")
    train.add_argument("--seed", type=int)
    train.add_argument("--out", help="run folder (default: rig_dojo_runs/ beside the .blend)")
    train.add_argument("--resume", metavar="RUN_DIR", help="continue a stopped or killed run from its checkpoint")
    train.add_argument("--init-from", metavar="POLICY", help="fine-tune from another run's .rdpolicy")
    train.set_defaults(run=_cmd_train)

    ev = sub.add_parser("evaluate", help="evaluate a policy deterministically")
    ev.add_argument("scene", nargs="?", metavar="SCENE.blend", help=scene_help)
    ev.add_argument("--policy", required=True, help="a .rdpolicy file (any task)")
    ev.add_argument("--episodes", type=int, default=16)
    ev.add_argument("--json", action="store_true")
    ev.set_defaults(run=_cmd_evaluate)

    bake = sub.add_parser("bake", help="bake a policy to keyframes in a new Action",
                          description="Roll the policy out in its twin, key it into a new Action (the rig's "
                                      "control bones, the camera, or a creature's root motion and joints) and "
                                      "report Blender's verification of the Action.")
    bake.add_argument("scene", nargs="?", metavar="SCENE.blend", help=scene_help)
    bake.add_argument("--policy", required=True, help="a .rdpolicy file")
    bake.add_argument("--frames", required=True, metavar="START-END")
    bake.add_argument("--action", help="name of the new Action")
    bake.add_argument("--reduce", type=float, metavar="DEGREES", help="keyframe reduction tolerance (rig bakes)")
    out = bake.add_mutually_exclusive_group()
    out.add_argument("--save", action="store_true", help="save SCENE.blend in place")
    out.add_argument("--output", metavar="NEW.blend", help="save to a new file")
    bake.add_argument("--json", action="store_true")
    bake.set_defaults(run=_cmd_bake)

    rt = sub.add_parser("render-tune", help="learn per-frame Cycles settings that reach a quality in the least time",
                        description="Render a few frames of the shot with Cycles (CPU, small size) against high-sample "
                                    "references, learn which settings reach --target-ssim in the least time, choose "
                                    "them for every frame, and key them on the scene. Writes OUT/report.json and "
                                    "OUT/tuned.blend (a copy; SCENE.blend is not changed).")
    rt.add_argument("scene", nargs="?", metavar="SCENE.blend", help=scene_help)
    rt.add_argument("--frames", metavar="START-END", help="the shot (default: the scene's frame range)")
    rt.add_argument("--target-ssim", type=float, default=0.98, help="SSIM against the reference each frame must "
                                                                    "reach, in (0, 1) (default 0.98)")
    rt.add_argument("--minutes", type=float, help="stop training after this many minutes (after one round)")
    rt.add_argument("--sampled", type=int, default=6, help="frames rendered against references (default 6)")
    rt.add_argument("--verify", action="store_true", help="also render every frame against its reference and "
                                                          "report the measured quality of all of them")
    rt.add_argument("--threads", type=int, default=2, help="Cycles threads (default 2; 0: all cores)")
    rt.add_argument("--reference-samples", type=int, default=256, help="samples of a reference (default 256)")
    rt.add_argument("--out", help="output folder (default: rig_dojo_runs/ beside the .blend)")
    rt.add_argument("--json", action="store_true", help="print the report as JSON")
    rt.set_defaults(run=_cmd_render_tune)

    exp = sub.add_parser("export-config", help="print (or write) the TOML of the settings stored in the .blend")
    exp.add_argument("scene", nargs="?", metavar="SCENE.blend", help=scene_help)
    exp.add_argument("--out", help="write to this file instead of printing")
    exp.set_defaults(run=_cmd_export_config)

    ver = sub.add_parser("verify", help="check that the twin reproduces Blender's pose evaluation exactly",
                         description="Pose the rig at random states in Blender and in the twin; report the worst "
                                     "error per tracked bone. Exit 0 when exact, 3 when not (the report says why).")
    ver.add_argument("scene", nargs="?", metavar="SCENE.blend", help=scene_help)
    ver.add_argument("--rig", required=True, help="the armature object")
    ver.add_argument("--controls", required=True, help="comma-separated control bones (what the policy moves)")
    ver.add_argument("--track", required=True, help="comma-separated tracked bones (what rewards read)")
    ver.add_argument("--samples", type=int, default=32, help="random poses to compare (default 32)")
    ver.add_argument("--seed", type=int, default=0)
    ver.add_argument("--json", action="store_true", help="print the report as JSON")
    ver.set_defaults(run=_cmd_verify)
    return parser


def _ensure_registered() -> None:
    """``python -m rig_dojo``: register the add-on so the .blend's settings are readable."""
    import bpy

    if not hasattr(bpy.types.Scene, "rig_dojo"):
        from . import register

        register()


def main(argv: list[str] | None = None, *, register: bool = True) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help is 0, a usage error is 2
        return int(exc.code or 0)
    try:
        if register:
            _ensure_registered()
        return args.run(args)
    except RigDojoError as exc:
        print(f"rig_dojo: error: {' '.join(str(exc).split())}" if exc.exit_code == 2 else f"rig_dojo: {exc}",
              file=sys.stderr)
        return exc.exit_code
    except TrainingFailed as exc:
        print(f"rig_dojo: the run failed:\n{exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        if register:  # python -m: the run folder is complete; skip interpreter teardown, which can abort
            sys.stdout.flush()  # here after an interrupt (a native thread of the bpy module at exit)
            sys.stderr.flush()
            os._exit(130)
        return 130


def blender_command(argv: list[str]) -> int:
    """Entry for ``bpy.utils.register_cli_command``: the .blend is already loaded by Blender."""
    return main(list(argv), register=False)
