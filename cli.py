"""The command line: ``python -m rig_dojo SUBCOMMAND`` and ``blender -b -c rig_dojo SUBCOMMAND``.

Both entries run the same parser. Exit codes: 0 success, 1 a failed run, 2 bad
input (one line on stderr saying what to fix), 3 a twin that is not exact (or a bake
that Blender's re-evaluation does not confirm), 4 a twin that is close but not exact
(``verify``: an iterative IK solve).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import shlex
import sys
import tempfile
from pathlib import Path

from .envs.families import MAX_BAKE_FRAMES
from .errors import NotExactError, RigDojoError
from .headless import TrainingFailed, open_scene, quiet_blender


def _names(text: str) -> list[str]:
    return [n.strip() for n in text.split(",") if n.strip()]


def _collection_controls(rig: str, collection: str) -> list[str]:
    """The bones of a bone collection of ``rig``, parents first (the sidebar's "Use Bone Collection")."""
    from .errors import did_you_mean, listed
    from .operators.rig import parents_first
    from .scene.kinematic.extract import get_armature

    obj = get_armature(rig)
    found = obj.data.collections_all.get(collection)
    if found is None:
        names = [c.name for c in obj.data.collections_all]
        raise RigDojoError(f"{obj.name!r} has no bone collection named {collection!r}{did_you_mean(collection, names)}; "
                           f"its collections: {listed(names)}")
    names = parents_first(obj, [b.name for b in found.bones])
    if not names:
        raise RigDojoError(f"the bone collection {found.name!r} of {obj.name!r} has no bones")
    return names


# -- values checked where they are parsed: one line and exit 2 (argparse types) ---------------------------
def _whole(low: int, high: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is outside {low:,d}..{high:,d}")
        return value
    return parse


def _real(low: float, high: float, *, above_low: bool = False):
    import math

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not math.isfinite(value) or value > high or value < low or (above_low and value == low):
            raise argparse.ArgumentTypeError(f"{text} is outside {'(' if above_low else '['}{low:g}, {high:g}]")
        return value
    return parse



def _frames_arg(text: str) -> tuple[int, int]:
    try:
        return _frames(text)
    except RigDojoError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix(f"--frames {text!r}: ").removeprefix(
            f"--frames {text}: ")) from None


def _writable_file(flag: str, text: str, inputs: list, suffix: str | None = None) -> Path:
    """``text`` as an output file that can be written and is not one of ``inputs``; checked before any work."""
    path = Path(text)
    if path.is_dir() or text.endswith(("/", os.sep)):
        raise RigDojoError(f"{flag} {text} is a folder; give a file name")
    if suffix and path.suffix.lower() != suffix:
        raise RigDojoError(f"{flag} {text}: give a {suffix} file name")
    parent = path.resolve().parent
    if not parent.is_dir():
        raise RigDojoError(f"{flag} {text}: the folder {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise RigDojoError(f"{flag} {text}: {parent if not path.exists() else path} is not writable")
    try:  # permissions can say yes where writing fails (a read-only mount, /proc, running as root)
        fd, probe = tempfile.mkstemp(dir=parent, prefix=".rig_dojo-probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise RigDojoError(f"{flag} {text}: cannot write in {parent} ({exc.strerror or exc})") from None
    for source in inputs:
        if source and _same_file(path, Path(source)):
            raise RigDojoError(f"{flag} {text} is the input file {source}; use --save to write it in place, or "
                               "give another file name")
    return path.resolve()


def _policy_file(text: str) -> str:
    """``--policy``: a policy file, or a run folder (its ``final.rdpolicy``)."""
    path = Path(text)
    if path.is_dir():
        if (path / "final.rdpolicy").is_file():
            return str(path / "final.rdpolicy")
        raise RigDojoError(f"{text} is a folder with no final.rdpolicy; give a policy file, e.g. a run folder's "
                           "final.rdpolicy")
    return text


def _same_file(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return os.path.realpath(a) == os.path.realpath(b)


def _check_run_folder(text: str) -> None:
    """``--out``: refused before any work when it is a file, not writable, or holds a run already."""
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise RigDojoError(f"--out {text} is a file; give a folder that does not exist yet or an empty one")
    if path.is_dir() and any((path / n).exists() for n in ("checkpoint.json", "metrics.csv")):
        raise RigDojoError(f"--out {text} already holds a run; continue it with --resume {text} or choose another "
                           "folder")
    existing = path.resolve()
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise RigDojoError(f"--out {text}: {existing} is not a writable folder; choose a writable place")


def _apply_switches(rig: str, switches: list[str] | None, why: str = "") -> None:
    """``--switch 'BONE["PROP"]=VALUE'``: set the rig's switches (an IK/FK switch) before anything reads the rig;
    ``why``: said after each (switches set from a run's record rather than from the flag)."""
    if not switches:
        return
    from .scene.kinematic.switches import parse_switch, set_switch

    if not rig:
        raise RigDojoError("--switch sets a switch of the rig; this task names no rig (--rig)")
    for text in switches:
        print(f"rig_dojo: {set_switch(rig, *parse_switch(text))}{f' ({why})' if why else ''}", file=sys.stderr)


def _cmd_verify(args: argparse.Namespace) -> int:

    from .scene.kinematic.verify import verify

    if args.samples < 1:
        raise RigDojoError(f"--samples {args.samples}: compare at least 1 pose")
    if args.location_range is not None and not (args.location_range >= 0 and math.isfinite(args.location_range)):
        raise RigDojoError(f"--location-range {args.location_range}: give 0 or more chain lengths")
    controls, locations = _names(args.controls or ""), _names(args.location_controls or "")
    if not controls and not locations and not args.collection:
        raise RigDojoError("give the bones the policy moves: --controls or --collection (rotation) and/or "
                           "--location-controls")
    open_scene(args.scene)
    _apply_switches(args.rig, args.switch)
    if args.collection:
        controls = _collection_controls(args.rig, args.collection)
    report = verify(args.rig, controls, _names(args.track), samples=args.samples, seed=args.seed,
                    location_controls=locations, location_range=args.location_range)
    print(report.to_json() if args.json else report.format())
    return 0 if report.exact else 4 if report.close else 3


def _config_from_args(args: argparse.Namespace):
    """The TrainConfig: --config TOML, else the settings stored in the .blend; then the flags."""
    from .agents.config import defaults_for
    from .envs.families import family_of

    from .headless import stored_or_given_config

    config = stored_or_given_config(args.config)
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
        # an algorithm chosen for another task: each family starts from its own default (the camera's shot solver)
        seed = config.algo.seed
        config.algo = defaults_for(family_of(config.task).default_algorithm, config.task)
        config.algo.seed = seed
    _task_defaults(config, chosen=bool(args.algo))
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
    if args.controls is not None:
        sel.controls = _names(args.controls)
    if args.tracked is not None:
        sel.tracked = _names(args.tracked)
    if args.collection:
        sel.controls = _collection_controls(sel.rig, args.collection)
    if args.location_controls is not None:
        sel.location_controls = _names(args.location_controls)
    if args.location_range is not None:
        sel.location_range = args.location_range
    if args.steps is not None:
        config.algo.total_steps = args.steps
    if args.minutes is not None:
        config.algo.minutes = args.minutes
        if args.steps is None:
            config.algo.total_steps = 0  # a time budget instead of steps: the whole budget trains
    if args.seed is not None:
        config.algo.seed = args.seed
    config.validate()
    return config


def _task_defaults(config, chosen: bool = False) -> None:
    """Untouched defaults (the algorithm's, or another task's tuning) become the task's own tuned
    defaults where it has them (grasp, stand, locomotion, jump); settings anyone changed are kept.
    ``chosen``: the algorithm was named on the command line (--algo), so it stays whatever task tuning
    brought it."""
    from .agents.config import SEARCH_ALGORITHMS, defaults_for, has_task_defaults
    from .envs.families import family_of, task_names

    algo = config.algo
    if algo.name in SEARCH_ALGORITHMS:  # no per-task tuning
        return
    if dataclasses.replace(defaults_for(algo.name, config.task), seed=algo.seed) == algo:
        return  # already this task's tuning of the algorithm (sb3_ppo's locomotion row in a locomotion file, say)
    untouched = [defaults_for(algo.name)] + [defaults_for(algo.name, task) for task in task_names()]
    if any(dataclasses.replace(d, seed=algo.seed) == algo for d in untouched):
        # a task's own tuning brought its algorithm with it (sb3_ppo's locomotion row, say): another task starts
        # from its family's default instead, as the sidebar does
        brought = any(has_task_defaults(algo.name, task) and dataclasses.replace(defaults_for(algo.name, task),
                                                                                 seed=algo.seed) == algo
                      for task in task_names())
        name = family_of(config.task).default_algorithm if brought and not chosen else algo.name
        config.algo = defaults_for(name, config.task)
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

    own = family_of(config.task)
    for family in families():
        table = getattr(config, family.settings) if family.settings else None
        for f in _flag_fields(family):
            value = getattr(args, f"{family.settings}.{f.name}", None)
            if value is None:
                continue
            tasks = f.metadata["ui"].tasks or (family.task_names if family is not own else ())
            if tasks and config.task not in tasks:  # said, not silently ignored
                raise RigDojoError(f"--{f.name.replace('_', '-')} is for --task {', '.join(tasks)}; the "
                                   f"{config.task} task does not use it: leave it out, or pick one of those tasks")
            setattr(table, f.name, value)
    frames = getattr(args, "frames", None)
    if frames is not None:
        family = family_of(config.task)
        table = getattr(config, family.settings) if family.settings else None
        if not hasattr(table, "set_frames"):
            raise RigDojoError(f"--frames sets the shot of a task with its own frame range; the {config.task} task "
                               "uses the scene's frame range")
        table.set_frames(*(frames if isinstance(frames, tuple) else _frames(frames)))


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
            help_text = ui.description
            if ui.tasks and set(ui.tasks) != set(family.task_names):  # a setting other families read too
                help_text += f" [--task {', '.join(ui.tasks)}]"
            kwargs: dict = {"dest": f"{family.settings}.{f.name}", "help": help_text}
            if ui.choices:
                kwargs["choices"] = [c[0] for c in ui.choices]
            elif kind in (int, float):
                kwargs["type"] = _number(kind, f"--{f.name.replace('_', '-')}")
            elif typing.get_origin(kind) is list and typing.get_args(kind) == (str,):
                kwargs["type"], kwargs["metavar"] = _names, "A,B,..."  # a comma-separated list
            group.add_argument(f"--{f.name.replace('_', '-')}", **kwargs)
        if hasattr(settings_class(table), "set_frames"):
            group.add_argument("--frames", metavar="START-END", type=_frames_arg,
                           help="the shot (default: the scene's frame range)")


def _add_bake_flags(bake: argparse.ArgumentParser) -> None:
    """The flags generated from the families' bake options (``Family.bake_options``: the rig's ``--keys-on``)."""
    from .agents.schema import ui_of
    from .envs.families import families

    for family in families():
        if family.bake_options is None:
            continue
        fields = [f for f in dataclasses.fields(family.bake_options) if ui_of(f) is not None and ui_of(f).cli]
        if not fields:
            continue
        group = bake.add_argument_group(f"{family.name} bakes (--task {', '.join(family.task_names)})")
        defaults = family.bake_options()
        for f in fields:
            ui = ui_of(f)
            default = getattr(defaults, f.name)
            kwargs: dict = {"dest": f"bake_option.{f.name}",
                            "help": f"{ui.description} (default {default})"}
            if ui.choices:
                kwargs["choices"] = [c[0] for c in ui.choices]
            group.add_argument(f"--{f.name.replace('_', '-')}", **kwargs)


def _bake_options(args: argparse.Namespace) -> dict:
    """The bake options given on the command line, by name (``--keys-on ik`` → ``{"keys_on": "ik"}``)."""
    prefix = "bake_option."
    return {k[len(prefix):]: v for k, v in vars(args).items() if k.startswith(prefix) and v is not None}


def _number(kind: type, flag: str):
    import math

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a{'n integer' if kind is int else ' number'}") from None
        if kind is float and not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
        if kind is int and abs(value) > 2**53:
            raise argparse.ArgumentTypeError(f"{text!r} is implausibly large")
        return value
    return parse


def _cmd_train(args: argparse.Namespace) -> int:
    from .agents.config import TrainConfig
    from .envs.families import env_factory, evaluate_policy, training_report
    from .headless import default_run_dir, resolve_run_dir, run_training
    from .scene.families import record_twin_check, spec_for_training

    budget: dict = {}
    if args.zero_shot:  # a new run that trains nothing: no budget, no Blender in the loop
        given = [flag for flag in ("--resume", "--steps", "--minutes", "--blender-workers")
                 if getattr(args, flag.lstrip("-").replace("-", "_"), None) is not None]
        if given:
            raise RigDojoError(f"--zero-shot writes a new run that trains nothing; not with {', '.join(given)} "
                               "(fine-tune the zero-shot run afterwards with --resume RUN --steps N)")
    if args.resume:
        run_dir = Path(args.resume)
        if not (run_dir / "config.toml").is_file():
            raise RigDojoError(f"{args.resume} is not a run folder (no config.toml); give the folder a run wrote")
        fixed = [flag for flag in _RUN_FLAGS if getattr(args, flag.lstrip("-").replace("-", "_"), None) is not None] + \
            [f"--{dest.split('.', 1)[1].replace('_', '-')}" for dest in _family_dests() if getattr(args, dest, None)
             is not None] + (["--frames"] if getattr(args, "frames", None) is not None else [])
        if fixed:
            raise RigDojoError(f"--resume continues the run with its own settings ({run_dir / 'config.toml'}); "
                               f"{', '.join(fixed)} cannot change them. Only --steps and --minutes extend a resumed "
                               "run; for other settings start a new run (--config that file)")
        config = TrainConfig.load(run_dir / "config.toml")
        for flag, key in (("steps", "total_steps"), ("minutes", "minutes")):
            if getattr(args, flag) is not None:
                budget[key] = getattr(args, flag)
                print(f"rig_dojo: note: resuming with algo.{key} = {getattr(args, flag)} (the run had "
                      f"{getattr(config.algo, key)})", file=sys.stderr)
                setattr(config.algo, key, getattr(args, flag))
        config.validate()
        open_scene(args.scene)
    else:
        if args.out:
            _check_run_folder(args.out)
        if args.init_from:
            from .agents.library import resolve

            resolve(args.init_from)  # library:NAME or a file: one line when there is none
        open_scene(args.scene)
        config = _config_from_args(args)
        if args.init_from:
            config.algo.start_from = args.init_from  # recorded in the run's config.toml
            if args.init_from.startswith("library:") and not args.algo and config.algo.name != "ppo":
                from .agents.config import defaults_for  # the library's networks are our PPO's (as the sidebar)

                seed, config.algo = config.algo.seed, defaults_for("ppo", config.task)
                config.algo.seed, config.algo.start_from = seed, args.init_from
                print(f"rig_dojo: note: starting from {args.init_from}: algo.name = \"ppo\" (the library's networks "
                      "are our PPO's)", file=sys.stderr)
            config.validate()
        if args.zero_shot:
            from .agents.session import runs_without_training

            if not runs_without_training(config.algo.name):
                raise RigDojoError(f"--zero-shot: the {config.algo.name} search has no run without training; run it "
                                   "without --zero-shot")
            if not config.algo.start_from:
                raise RigDojoError("--zero-shot uses a start policy as it is; name one with --init-from "
                                   "library:reach (or a .rdpolicy)")
        run_dir = Path(args.out) if args.out else resolve_run_dir(default_run_dir(config))
    # the switches asked for, else those a resumed run or a --config file records
    _apply_switches(config.rig.rig, args.switch or config.rig.switches, "" if args.switch else
                    "as the run's config.toml says")
    if args.switch:
        config.rig.switches = list(args.switch)  # in the run's config.toml: a resume and the bake set them again
    if args.blender_workers is not None:
        return _train_in_loop(args, config, run_dir)
    if args.address:
        raise RigDojoError("--address is for --blender-workers (Blender in the loop on a Ray cluster); sweeps take "
                           "it too (python -m rig_dojo sweep)")
    try:  # read the scene once, then the parity check (DESIGN.md rule 8: train only what verifies)
        spec, check = spec_for_training(config, run_dir=run_dir if args.resume else None)
    except NotExactError as exc:
        from .envs.families import family_of

        if config.rig.location_controls or not hasattr(family_of(config.task).edge_hooks(), "blender_loop"):
            raise  # Blender in the loop moves rotation controls only, of the families that have the route
        raise NotExactError(f"{exc}\n{LOOP_ROUTE}") from None
    _say_check(check, spec)
    make_env = env_factory(spec, config)
    run_training(config, make_env, run_dir, resume=bool(args.resume), init_from=args.init_from,
                 report=lambda policy, cfg: training_report(policy, spec, cfg), scene_path=args.scene,
                 evaluation=lambda policy, cfg, episodes: evaluate_policy(policy, spec, cfg, make_env, episodes),
                 resume_budget=budget or None, zero_shot=args.zero_shot)
    record_twin_check(check, run_dir)
    if args.zero_shot:
        import bpy

        from .agents.run_folder import resume_command

        policy = shlex.quote(str(run_dir.resolve() / "final.rdpolicy"))
        resume = resume_command(run_dir, args.scene, bpy.data.filepath or None)
        bake = (f"python -m rig_dojo bake {shlex.quote(str(Path(args.scene).resolve()))}" if args.scene else
                f"blender -b {shlex.quote(bpy.data.filepath) if bpy.data.filepath else 'SCENE.blend'} -c rig_dojo bake")
        print(f"bake it: {bake} --policy {policy} --frames START-END --save\nfine-tune it: {resume} --steps N")
    return 0


def _say_check(check, spec) -> None:
    """The parity check's line on stdout; its notes (what the twin changed or left out) and the spec's warnings (a
    region out of reach) on stderr."""
    if check is not None:
        print(check.line, flush=True)
    for note in getattr(check, "notes", ()):
        print(f"rig_dojo: note: {note}", file=sys.stderr, flush=True)
    for warning in getattr(spec, "warnings", ()):
        print(f"rig_dojo: warning: {warning}", file=sys.stderr, flush=True)


LOOP_ROUTE = ("or train it with Blender in the loop (Blender evaluates the rig: exact, slower): add "
              "--blender-workers 2 to `train` (--address for Ray workers), then bake with `bake --blender-loop`")


def _train_in_loop(args: argparse.Namespace, config, run_dir: Path) -> int:
    """``train --blender-workers N``: the selection stepped by N Blender processes (kinematic tasks)."""
    from .envs.families import family_of
    from .headless import run_training

    edge = family_of(config.task).edge_hooks()
    if not hasattr(edge, "blender_loop"):
        raise RigDojoError(f"--blender-workers: the {config.task} task has no Blender-in-the-loop route; train it "
                           "without --blender-workers")
    make_env, _spec, close, workers = edge.blender_loop(config, args.blender_workers, args.address)
    try:
        print(f"Blender in the loop: {args.blender_workers} worker process(es)"
              f"{' on Ray at ' + args.address if args.address else ''}", flush=True)
        run_training(config, make_env, run_dir, resume=bool(args.resume), init_from=args.init_from,
                     scene_path=args.scene)
        s = workers.stats
        if s.calls:
            print(f"Blender workers: {s.envs / s.wall:,.0f} env-steps/s inside the workers' calls "
                  f"({s.wall - s.compute:.1f} s of {s.wall:.1f} s spent messaging)")
    finally:
        close()
    return 0


# flags a resumed run cannot take (its settings are in its config.toml)
_RUN_FLAGS = ("--config", "--rig", "--task", "--controls", "--collection", "--effector", "--tracked", "--target",
              "--region", "--algo", "--seed", "--out", "--init-from")


def _family_dests() -> list[str]:
    from .envs.families import families

    return [f"{family.settings}.{f.name}" for family in families() for f in _flag_fields(family)]


def _policy_and_task(args: argparse.Namespace):
    from .agents.library import refuse_unbound
    from .agents.policy_file import load_policy
    from .envs.families import env_factory
    from .scene.families import spec_from_config

    refuse_unbound(args.policy)  # a library policy names no rig: a zero-shot run binds it to one
    args.policy = _policy_file(args.policy)
    open_scene(args.scene)
    policy = load_policy(args.policy)
    config = policy.config
    spec = spec_from_config(config)
    make_env = env_factory(spec, config)
    policy.check_compatible(make_env(config, 1, 0))
    return policy, config, make_env, spec


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from .agents.files import json_text
    from .envs.families import evaluate_policy, evaluation_in_report, report_line, task_info, training_report

    policy, config, make_env, spec = _policy_and_task(args)
    result = evaluate_policy(policy, spec, config, make_env, args.episodes)
    extra = training_report(policy, spec, config)
    if args.json:
        print(json_text({**result.to_dict(), "task": config.task, **extra}))
        return 0
    if extra and evaluation_in_report(config.task):  # the report line says what success and error are
        print(f"{args.policy}:")
    else:
        units = task_info(config.task).error_units
        from .headless import has_joint_limits

        limits = (f", joint-limit violations {result.limit_violation_total:.3g}"
                  if has_joint_limits(make_env, config) else "")
        print(f"{args.policy}: over {result.episodes} deterministic episodes: success {result.success_rate:.0%}, "
              f"final error {result.final_error:.4f} {units}, mean jerk {result.mean_jerk:.3g}{limits}")
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
    if end - start + 1 > MAX_BAKE_FRAMES:
        raise RigDojoError(f"--frames {text}: {end - start + 1:,d} frames; at most {MAX_BAKE_FRAMES:,d} in one bake "
                           "(bake a long shot in parts)")
    return start, end


def _cmd_bake(args: argparse.Namespace) -> int:
    import bpy

    from .agents.files import json_text
    from .agents.library import refuse_unbound
    from .scene.families import bake_task_policy

    if not args.save and not args.output:
        raise RigDojoError("say where the baked file goes: --save (overwrite SCENE.blend) or --output NEW.blend")
    frames = args.frames if isinstance(args.frames, tuple) else _frames(args.frames)
    refuse_unbound(args.policy)  # a library policy names no rig: a zero-shot run binds it to one
    args.policy = _policy_file(args.policy)
    if not Path(args.policy).is_file():
        raise RigDojoError(f"{args.policy}: no such policy file")
    # where the result goes is checked before any work: a folder, a missing or read-only place, the input
    inputs = [args.scene] if args.scene else [bpy.data.filepath]
    target = _writable_file("--output", args.output, inputs, suffix=".blend") if args.output else None
    open_scene(args.scene)
    if args.save:
        if not bpy.data.filepath:
            raise RigDojoError("--save needs a saved .blend; use --output NEW.blend")
        if not os.access(bpy.data.filepath, os.W_OK):
            raise RigDojoError(f"--save: {bpy.data.filepath} is not writable; use --output NEW.blend")
    from .agents.policy_file import load_policy

    trained = load_policy(args.policy).config
    # the switches asked for, else those the policy was trained with (--switch at train, in its config)
    _apply_switches(trained.rig.rig, args.switch or trained.rig.switches, "" if args.switch else
                    "as the policy was trained")
    if args.blender_loop:
        from .envs.families import family_of

        edge = family_of(trained.task).edge_hooks()
        if not hasattr(edge, "bake_in_loop"):
            raise RigDojoError("--blender-loop bakes a kinematic task's policy with Blender evaluating the rig; "
                               "bake this one without it")
        if _bake_options(args):
            flags = ", ".join("--" + k.replace("_", "-") for k in _bake_options(args))
            raise RigDojoError(f"{flags}: not with --blender-loop, which keys the trained controls")
        report = edge.bake_in_loop(args.policy, frames=frames, action_name=args.action, reduce_degrees=args.reduce,
                                   seed=args.seed)
    else:
        try:
            report = bake_task_policy(args.policy, frames=frames, action_name=args.action,
                                      reduce_degrees=args.reduce, seed=args.seed, options=_bake_options(args))
        except NotExactError as exc:
            raise NotExactError(f"{exc}\nfor a policy trained with --blender-workers, bake with --blender-loop") from None
    if not getattr(report, "ok", True):  # Blender's re-evaluation misses the tolerance: nothing is saved
        print(json_text({**report.to_dict(), "file": None}) if args.json else report.format())
        print("rig_dojo: the baked motion is not what was trained; nothing was saved", file=sys.stderr)
        return 3
    target = target if target is not None else Path(bpy.data.filepath)
    try:
        with quiet_blender():
            if args.output:
                bpy.ops.wm.save_as_mainfile(filepath=str(target), copy=True)
            else:
                bpy.ops.wm.save_mainfile()
    except RuntimeError as exc:  # the disk filled or the folder went away after the checks
        raise RigDojoError(f"could not save {target} ({str(exc).strip().splitlines()[-1]}); the .blend on disk is "
                           "as it was: free space or pick another --output") from None
    if args.json:
        print(json_text({**report.to_dict(), "file": str(target)}))
    else:
        print(report.format())
        print(f"saved {target}")
    return 0


def _cmd_export_config(args: argparse.Namespace) -> int:
    import bpy

    from .props import settings_to_config

    out = _writable_file("--out", args.out, [args.scene] if args.scene else [bpy.data.filepath]) if args.out else None
    open_scene(args.scene)
    text = settings_to_config(bpy.context.scene.rig_dojo).to_toml()
    if out is not None:
        from .agents.files import write_atomic

        write_atomic(out, text.encode())
        print(f"wrote {args.out}")
    else:
        print(text, end="")
    return 0


def _cmd_pretrain(args: argparse.Namespace) -> int:
    from .agents.library import pretrain

    path = pretrain(args.name, Path(args.out) if args.out else None, report=lambda line: print(line, flush=True))
    print(f"wrote {path} and {path.with_suffix('.json').name} ({path.stat().st_size / 1024:.0f} KB)")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    run_demo(Path(args.out), quick=args.quick)
    return 0


SWITCH_HELP = ("'BONE[\"PROPERTY\"]=VALUE': set a switch of the rig first (Rigify's IK/FK: "
               "'upper_arm_parent.L[\"IK_FK\"]=1.0'), as a refusal that names one says; repeatable")


class _Parser(argparse.ArgumentParser):
    """argparse with usage errors as one line (``rig_dojo train: error: argument --seed: ...``), exit 2."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    from .agents.config import MAX_MINUTES, MAX_SEED, MAX_TOTAL_STEPS
    from .envs.families import all_algorithms, task_names

    parser = _Parser(
        prog="rig_dojo", description="Rig Dojo: teach rigs to move by reinforcement learning.",
        epilog="Exit codes: 0 success, 1 a failed run, 2 bad input, 3 a twin that is not exact (or a bake Blender "
               "does not confirm), 4 a twin that is close but not exact (verify).")
    sub = parser.add_subparsers(dest="command", required=True, metavar="SUBCOMMAND")
    scene_help = "the .blend to open (omit under `blender -b SCENE.blend -c rig_dojo`)"

    demo = sub.add_parser("demo", help="build demo scenes, train, bake and write runs/demo/")
    demo.add_argument("--out", default="runs/demo", help="output folder (default: runs/demo)")
    demo.add_argument("--quick", action="store_true", help="tiny budgets (a smoke test, not a good result)")
    demo.set_defaults(run=_cmd_demo)

    from .agents.library import ENTRIES

    pre = sub.add_parser("pretrain", help="rebuild a policy of the shipped library (./dojo pretrain NAME)",
                         description="Train a library policy as its recipe says and write it (default: the "
                                     "library/ folder of this install).")
    pre.add_argument("name", choices=sorted(ENTRIES), help="; ".join(f"{e.name}: {e.summary}" for e in ENTRIES.values()))
    pre.add_argument("--out", help="write into this folder instead of library/")
    pre.set_defaults(run=_cmd_pretrain)

    train = sub.add_parser("train", help="train a policy headless",
                           description="Train with --config run.toml or the settings stored in the .blend; "
                                       "flags override the common settings. Writes a run folder ending in "
                                       "summary.json.")
    train.add_argument("scene", nargs="?", metavar="SCENE.blend", help=scene_help)
    train.add_argument("--config", help="a TOML config (python -m rig_dojo export-config writes one)")
    train.add_argument("--rig", help="the armature object")
    train.add_argument("--task", choices=task_names())
    controls = train.add_mutually_exclusive_group()
    controls.add_argument("--controls", help="comma-separated control bones (physics: the bones to simulate; "
                                             "default every bone under the root)")
    controls.add_argument("--collection", metavar="BONE_COLLECTION",
                          help="take the controls from this bone collection of the rig (as the sidebar does)")
    train.add_argument("--location-controls", metavar="BONES",
                       help="comma-separated bones whose location the policy moves (IK targets, poles, a root)")
    train.add_argument("--location-range", type=_real(0.0, 1e6), metavar="CHAIN_LENGTHS",
                       help="how far each way a location control may move where the rig has no Limit Location "
                            "constraint (rig.location_range)")
    train.add_argument("--effector", "--track", dest="effector",
                       help="the bone that reaches / aims / grips (--track: the same, as verify calls it)")
    train.add_argument("--tracked", metavar="BONES",
                       help="comma-separated bones to track besides the effector (for grasp: the fingertips)")
    train.add_argument("--target", help="the target object (animated objects are followed frame by frame)")
    train.add_argument("--region", help="random targets inside this object's bounds")
    train.add_argument("--algo", choices=all_algorithms(),
                       help="ppo: our PPO for batched twins (the rigs' default); sb3_ppo: Stable-Baselines3's PPO; "
                            "solve: the shot solver, the camera's default; cem: cross-entropy search for a linear "
                            "camera policy (both camera only)")
    _add_family_flags(train)
    train.add_argument("--steps", type=_whole(1, MAX_TOTAL_STEPS),
                       help="total environment steps (with --resume: the new total for the resumed run)")
    train.add_argument("--minutes", type=_real(0.0, MAX_MINUTES, above_low=True),
                       help="a time budget in minutes of training instead of steps (up to a week); without "
                            "--steps the whole budget trains")
    train.add_argument("--seed", type=_whole(0, MAX_SEED), help=f"random seed, 0..{MAX_SEED}")
    train.add_argument("--out", help="run folder (default: rig_dojo_runs/ beside the .blend)")
    train.add_argument("--resume", metavar="RUN_DIR", help="continue a stopped or killed run from its checkpoint")
    train.add_argument("--init-from", metavar="POLICY", help="start from a pre-trained policy: library:reach (shipped "
                       "with Rig Dojo; any chain of 2-8 bones) or another run's .rdpolicy")
    train.add_argument("--zero-shot", action="store_true",
                       help="train nothing: write a run whose policy is the start (--init-from, or algo.start_from) "
                            "as it is, evaluated on this rig; bake or evaluate it like any run, fine-tune it later "
                            "with --resume RUN --steps N")
    train.add_argument("--switch", action="append", metavar='BONE["PROP"]=VALUE', help=SWITCH_HELP)
    train.add_argument("--blender-workers", type=int, metavar="N",
                       help="Blender in the loop: N Blender processes step the rig (for a selection the twin "
                            "refuses: exact, slower)")
    train.add_argument("--address", help="with --blender-workers: run the workers as Ray actors on this cluster "
                                         "(auto, HOST:6379 or ray://HOST:10001)")
    train.set_defaults(run=_cmd_train)

    ev = sub.add_parser("evaluate", help="evaluate a policy deterministically",
                        description="Run the policy's deterministic action in its task (rebuilt from the scene and "
                                    "the settings stored in the policy file) for a number of episodes and print "
                                    "its success rate, final error, jerk and joint-limit violations, and the "
                                    "task's own numbers.")
    ev.add_argument("scene", nargs="?", metavar="SCENE.blend", help=scene_help)
    ev.add_argument("--policy", required=True, help="a .rdpolicy file (any task)")
    ev.add_argument("--episodes", type=_whole(1, 100_000), default=16,
                    help="episodes to run side by side (default 16)")
    ev.add_argument("--json", action="store_true", help="print the results as JSON")
    ev.set_defaults(run=_cmd_evaluate)

    bake = sub.add_parser("bake", help="bake a policy to keyframes in a new Action",
                          description="Roll the policy out in its twin, key it into a new Action (the rig's "
                                      "control bones, the camera, or a creature's root motion and joints) and "
                                      "report Blender's verification of the Action. A rig bake whose effector in "
                                      "Blender is more than 0.01 chain lengths from the rollout exits 3 and saves "
                                      "nothing.")
    bake.add_argument("scene", nargs="?", metavar="SCENE.blend", help=scene_help)
    bake.add_argument("--policy", required=True, help="a .rdpolicy file")
    bake.add_argument("--frames", required=True, metavar="START-END", type=_frames_arg,
                      help=f"the frames to bake, e.g. 1-120 (at most {MAX_BAKE_FRAMES:,d}); the policy acts once "
                           "per frame from START")
    bake.add_argument("--action", help="name of the new Action")
    bake.add_argument("--reduce", type=_real(0.0, 180.0), metavar="DEGREES",
                      help="keyframe reduction tolerance (rig bakes)")
    out = bake.add_mutually_exclusive_group()
    out.add_argument("--save", action="store_true", help="save SCENE.blend in place")
    out.add_argument("--output", metavar="NEW.blend", help="save to a new file")
    bake.add_argument("--blender-loop", action="store_true",
                      help="a policy trained with --blender-workers: Blender evaluates the rollout")
    bake.add_argument("--seed", type=_whole(0, MAX_SEED), default=0,
                      help="seed of the rollout: the random point a region-trained policy reaches (recorded on the "
                           "Action; default 0)")
    bake.add_argument("--switch", action="append", metavar='BONE["PROP"]=VALUE',
                      help=SWITCH_HELP + " (the saved file keeps it)")
    bake.add_argument("--json", action="store_true")
    _add_bake_flags(bake)
    bake.set_defaults(run=_cmd_bake)

    exp = sub.add_parser("export-config", help="print (or write) the TOML of the settings stored in the .blend")
    exp.add_argument("scene", nargs="?", metavar="SCENE.blend", help=scene_help)
    exp.add_argument("--out", help="write to this file instead of printing")
    exp.set_defaults(run=_cmd_export_config)

    ver = sub.add_parser("verify", help="check that the twin reproduces Blender's pose evaluation exactly",
                         description="Pose the rig at random states in Blender and in the twin; report the worst "
                                     "error per tracked bone. Exit 0 when exact, 3 when not (the report says why), "
                                     "4 when close: an IK solve within 0.01 chain lengths and 1 degree of "
                                     "Blender's but not exact (an iterative solve stopped a step apart).")
    ver.add_argument("scene", nargs="?", metavar="SCENE.blend", help=scene_help)
    ver.add_argument("--rig", required=True, help="the armature object")
    picked = ver.add_mutually_exclusive_group()
    picked.add_argument("--controls", help="comma-separated control bones whose rotation the policy moves")
    picked.add_argument("--collection", metavar="BONE_COLLECTION", help="the controls: this bone collection's bones")
    ver.add_argument("--location-controls", metavar="BONES",
                     help="comma-separated bones whose location the policy moves (IK targets, poles, a root)")
    ver.add_argument("--location-range", type=_real(0.0, 1e6), metavar="CHAIN_LENGTHS",
                     help="how far a location control without Limit Location is posed each way (default 0.5)")
    ver.add_argument("--track", "--effector", dest="track", required=True,
                     help="comma-separated tracked bones (what rewards read; train's --effector is one of them)")
    ver.add_argument("--samples", type=_whole(1, 100_000), default=32, help="random poses to compare (default 32)")
    ver.add_argument("--seed", type=_whole(0, MAX_SEED), default=0, help="seed of the random poses")
    ver.add_argument("--switch", action="append", metavar='BONE["PROP"]=VALUE', help=SWITCH_HELP)
    ver.add_argument("--json", action="store_true", help="print the report as JSON")
    ver.set_defaults(run=_cmd_verify)

    from .sweep_cli import add_sweep_parser

    add_sweep_parser(sub, scene_help)
    from .export_cli import add_export_parser

    add_export_parser(sub)
    from .render_tune_cli import add_render_tune_parser

    add_render_tune_parser(sub, scene_help)
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
    except OSError as exc:  # a full disk, a read-only place met late: one line, not a traceback
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"rig_dojo: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
    except MemoryError:
        print("rig_dojo: error: out of memory; lower algo.n_envs, the network size or the frame range",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if register:  # python -m: the run folder is complete; skip interpreter teardown, which can abort
            sys.stdout.flush()  # here after an interrupt (a native thread of the bpy module at exit)
            sys.stderr.flush()
            os._exit(130)
        return 130


def blender_command(argv: list[str]) -> int:
    """Entry for ``bpy.utils.register_cli_command``: the .blend is already loaded by Blender."""
    return main(list(argv), register=False)
