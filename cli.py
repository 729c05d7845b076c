"""The command line: ``python -m rig_dojo SUBCOMMAND`` and ``blender -b -c rig_dojo SUBCOMMAND``.

Both entries run the same parser. Exit codes: 0 success, 1 a failed run, 2 bad
input (one line on stderr saying what to fix), 3 a twin that is not exact.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path

from .errors import RigDojoError
from .headless import TrainingFailed, open_scene, quiet_blender


def _names(text: str) -> list[str]:
    return [n.strip() for n in text.split(",") if n.strip()]


def _cmd_verify(args: argparse.Namespace) -> int:

    from .scene.kinematic.verify import verify

    open_scene(args.scene)
    report = verify(args.rig, _names(args.controls), _names(args.track), samples=args.samples, seed=args.seed)
    print(report.to_json() if args.json else report.format())
    return 0 if report.exact else 3


def _config_from_args(args: argparse.Namespace):
    """The TrainConfig: --config TOML, else the settings stored in the .blend; then the flags."""
    import bpy

    from .agents.config import TrainConfig, defaults_for
    from .envs.families import family_of

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
        if family_of(args.task) is not family_of(config.task):
            config.rewards = []  # another family's terms cannot score this task: use the task's defaults
            if family_of(args.task).extra.get("controls_mean_simulated_bones"):
                config.rig.controls = []  # physics simulates every bone under the root unless --controls
        config.task = args.task
    if args.algo:
        if args.algo != config.algo.name:
            seed = config.algo.seed
            config.algo = defaults_for(args.algo, config.task)
            config.algo.seed = seed
    elif _algorithm_of_another_task(config) and (task_changed or not args.config):
        # an algorithm chosen for another task: each family starts from its own default (the camera's cem)
        seed = config.algo.seed
        config.algo = defaults_for(family_of(config.task).default_algorithm, config.task)
        config.algo.seed = seed
    _task_defaults(config)
    defaults_before = _terms_are_defaults(config)
    _family_flags(args, config)
    if defaults_before:  # unedited default terms follow the flags (pins, a style clip, the camera's framing)
        config.rewards = []
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
    from .agents.config import defaults_for
    from .envs.families import task_names

    algo = config.algo
    if algo.name == "cem":
        return
    untouched = [defaults_for(algo.name)] + [defaults_for(algo.name, task) for task in task_names()]
    if any(dataclasses.replace(d, seed=algo.seed) == algo for d in untouched):
        config.algo = defaults_for(algo.name, config.task)
        config.algo.seed = algo.seed


def _terms_are_defaults(config) -> bool:
    """Whether ``config.rewards`` is empty or its task's default terms for the settings as they are now."""
    from .envs.families import default_terms
    from .rewards import validate_params

    def rows(terms) -> list:
        try:
            return [(t.name, round(float(t.weight), 6), bool(t.enabled), validate_params(t.name, t.params))
                    for t in terms]
        except RigDojoError:
            return [None]  # a term list that does not validate is nobody's default

    return not config.rewards or rows(config.rewards) == rows(default_terms(config.task, config))


def _algorithm_of_another_task(config) -> bool:
    """Whether ``config.algo`` cannot train the task, or is another family's default (cem for a rig)."""
    from .envs.families import families, family_of

    family = family_of(config.task)
    other_defaults = {f.default_algorithm for f in families()} - {family.default_algorithm}
    return config.algo.name not in family.algorithms or config.algo.name in other_defaults


def _family_flags(args: argparse.Namespace, config) -> None:
    """The flags generated from the families' settings tables (``--camera``, ``--density`` ...) and ``--frames``."""
    from .envs.families import families, family_of

    for family in families():
        table = getattr(config, family.settings) if family.settings else None
        for f in _flag_fields(family):
            value = getattr(args, f"{family.settings}.{f.name}", None)
            if value is not None:
                setattr(table, f.name, value)
    frames = getattr(args, "frames", None)
    if frames is not None:
        family = family_of(config.task)
        table = getattr(config, family.settings) if family.settings else None
        if not hasattr(table, "set_frames"):
            raise RigDojoError(f"--frames sets the shot of a task with its own frame range; the {config.task} task "
                               "uses the scene's frame range")
        table.set_frames(*_frames(frames))


def _flag_fields(family) -> list:
    from .agents.config import settings_class

    table = family.settings
    if not table:
        return []
    return [f for f in dataclasses.fields(settings_class(table)) if f.metadata.get("ui") and
            f.metadata["ui"].cli]


def _add_family_flags(train: argparse.ArgumentParser) -> None:
    import typing

    from .agents.config import settings_class
    from .envs.families import families

    for family in families():
        fields = _flag_fields(family)
        if not fields:
            continue
        group = train.add_argument_group(f"{family.name} tasks (--task {', '.join(family.task_names)})")
        table = family.settings
        assert table is not None  # a family with flags has a settings table
        hints = typing.get_type_hints(settings_class(table))
        for f in fields:
            ui = f.metadata["ui"]
            kind = hints[f.name]
            kwargs: dict = {"dest": f"{family.settings}.{f.name}", "help": ui.description}
            if ui.choices:
                kwargs["choices"] = [c[0] for c in ui.choices]
            elif kind in (int, float):
                kwargs["type"] = _number(kind, f"--{f.name.replace('_', '-')}")
            elif typing.get_origin(kind) is list and typing.get_args(kind) == (str,):
                kwargs["type"], kwargs["metavar"] = _names, "A,B,..."  # a comma-separated list
            group.add_argument(f"--{f.name.replace('_', '-')}", **kwargs)
        if hasattr(settings_class(table), "set_frames"):
            group.add_argument("--frames", metavar="START-END", help="the shot (default: the scene's frame range)")


def _number(kind: type, flag: str):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a{'n integer' if kind is int else ' number'}") from None
        return value
    return parse


def _cmd_train(args: argparse.Namespace) -> int:
    from .agents.config import TrainConfig
    from .envs.families import env_factory, training_report
    from .headless import default_run_dir, resolve_run_dir, run_training
    from .scene.families import spec_from_config

    open_scene(args.scene)
    if args.resume:
        run_dir = Path(args.resume)
        if not (run_dir / "config.toml").is_file():
            raise RigDojoError(f"{args.resume} is not a run folder (no config.toml); give the folder a run wrote")
        config = TrainConfig.load(run_dir / "config.toml")
    else:
        config = _config_from_args(args)
        run_dir = Path(args.out) if args.out else resolve_run_dir(default_run_dir(config))
    if args.init_from and not Path(args.init_from).is_file():
        raise RigDojoError(f"{args.init_from}: no such policy file")
    spec = spec_from_config(config)
    make_env = env_factory(spec, config)
    run_training(config, make_env, run_dir, resume=bool(args.resume), init_from=args.init_from,
                 report=lambda policy, cfg: training_report(policy, spec, cfg), scene_path=args.scene)
    return 0


def _policy_and_task(args: argparse.Namespace):
    from .agents.policy_file import load_policy
    from .envs.families import env_factory
    from .scene.families import spec_from_config

    open_scene(args.scene)
    policy = load_policy(args.policy)
    config = policy.config
    spec = spec_from_config(config)
    make_env = env_factory(spec, config)
    policy.check_compatible(make_env(config, 1, 0))
    return policy, config, make_env, spec


def _cmd_evaluate(args: argparse.Namespace) -> int:
    import json

    from .agents.evaluate import evaluate
    from .envs.families import report_line, task_info, training_report

    policy, config, make_env, spec = _policy_and_task(args)
    result = evaluate(policy, make_env, config, episodes=args.episodes)
    extra = training_report(policy, spec, config)
    if args.json:
        print(json.dumps({**result.to_dict(), "task": config.task, **extra}, indent=2))
    else:
        units = task_info(config.task).error_units
        print(f"{args.policy}: over {args.episodes} deterministic episodes: success {result.success_rate:.0%}, "
              f"final error {result.final_error:.4f} {units}, mean jerk {result.mean_jerk:.3g}, "
              f"joint-limit violations {result.limit_violation_total:.3g}")
        line = report_line(config.task, extra)
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

    from .scene.families import bake_task_policy

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


def build_parser() -> argparse.ArgumentParser:
    from .envs.families import all_algorithms, task_names

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
    train.add_argument("--task", choices=task_names())
    train.add_argument("--controls", help="comma-separated control bones (physics: the bones to simulate; "
                                          "default every bone under the root)")
    train.add_argument("--effector", help="the bone that reaches / aims / grips")
    train.add_argument("--target", help="the target object (animated objects are followed frame by frame)")
    train.add_argument("--region", help="random targets inside this object's bounds")
    train.add_argument("--algo", choices=all_algorithms(),
                       help="cem: cross-entropy policy search, the camera's default (camera only)")
    _add_family_flags(train)
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
