"""``python -m rig_dojo sweep``: many trainings of one shot on Ray Tune, then the best takes baked.

The parent (this process, with Blender) reads the task from the .blend once and saves its spec;
the trials train from that file on Ray workers that need no Blender (``agents/sweep.py``). Then
the best ``--takes`` trials are baked into a copy of the scene (``takes.blend`` in the sweep
folder; the scene itself is never written) and rendered side by side (``takes.png``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .errors import RigDojoError
from .headless import open_scene, quiet_blender, stored_or_given_config


def add_sweep_parser(sub, scene_help: str) -> None:
    from .agents.sweep import METRICS

    sweep = sub.add_parser(
        "sweep", help="train many seeds and variations at once on Ray Tune, then bake the best takes",
        description="Train every combination of --seeds and --vary (or --trials drawn at random) on Ray Tune: "
                    "on this machine's cores, or on a Ray cluster with --address. Each trial writes a normal run "
                    "folder under OUT/trials/; the results table goes to the terminal, OUT/results.csv and "
                    "OUT/sweep.json; --takes K bakes the K best into OUT/takes.blend with a contact sheet.")
    sweep.add_argument("scene", nargs="?", metavar="SCENE.blend", help=scene_help)
    sweep.add_argument("--config", help="the base TOML config (default: the settings stored in the .blend)")
    sweep.add_argument("--seeds", default="0", help="seeds: START-END or a comma list (default 0)")
    sweep.add_argument("--vary", action="append", default=[], metavar="KEY=V1,V2,...",
                       help="a setting to vary, e.g. rewards.distance.weight=1,2,4 or algo.learning_rate=3e-4,1e-3 "
                            "(repeat for more)")
    sweep.add_argument("--search", choices=("grid", "random"), default="grid",
                       help="grid: every combination (default); random: --trials draws")
    sweep.add_argument("--trials", type=int, default=0, help="how many trials a random search draws")
    sweep.add_argument("--steps", type=int, help="training steps of each trial (overrides the config)")
    sweep.add_argument("--metric", choices=tuple(METRICS), default="success_rate",
                       help="what ranks the trials (deterministic evaluation; default success_rate)")
    sweep.add_argument("--takes", type=int, default=0, metavar="K", help="bake the K best trials as takes")
    sweep.add_argument("--frames", metavar="START-END", help="the takes' frame range (default: the scene's)")
    sweep.add_argument("--address", help="a Ray cluster: auto (one started with `ray start --head` here), "
                                         "HOST:6379, or ray://HOST:10001 (default: Ray on this machine's cores)")
    sweep.add_argument("--cpus", type=int, help="CPUs Ray may use on this machine (default: all)")
    sweep.add_argument("--no-early-stop", action="store_true", help="train every trial to the end (no ASHA)")
    sweep.add_argument("--retries", type=int, default=1,
                       help="times a trial whose process dies is restarted from its checkpoint (default 1)")
    sweep.add_argument("--out", help="the sweep folder (default: rig_dojo_runs/ beside the .blend)")
    sweep.add_argument("--resume", action="store_true",
                       help="continue the interrupted sweep in --out (finished trials are kept)")
    sweep.set_defaults(run=cmd_sweep)


def _base_config(args: argparse.Namespace):
    config = stored_or_given_config(args.config)
    if args.steps is not None:
        config.algo.total_steps = args.steps
    config.validate()
    return config


def _frames(text: str | None) -> tuple[int, int] | None:
    if not text:
        return None
    try:
        start, end = (int(v) for v in text.split("-", 1))
    except ValueError:
        raise RigDojoError(f"--frames {text!r}: give START-END, e.g. 1-120") from None
    if end <= start:
        raise RigDojoError(f"--frames {text}: END must be after START")
    return start, end


def cmd_sweep(args: argparse.Namespace) -> int:
    from .agents import sweep as sw
    from .envs.families import family_of
    from .headless import default_run_dir, resolve_run_dir
    from .scene.families import spec_for_training

    frames = _frames(args.frames)
    if args.takes < 0:
        raise RigDojoError("--takes K: K is 0 or more")
    sw.import_ray()  # Ray missing: one line before anything slow
    if args.address:
        sw.check_address(args.address)
    if args.resume:
        if not args.out:
            raise RigDojoError("--resume continues the sweep in --out DIR; give the folder of the sweep")
        sweep_dir = Path(args.out).resolve()
        plan = sw.load_plan(sweep_dir)
        if args.scene or args.takes:  # the trials train from the saved spec; only the takes need the scene
            open_scene(args.scene)
    else:
        vary = dict(sw.parse_vary(v) for v in args.vary)
        plan = sw.SweepPlan(seeds=sw.parse_seeds(args.seeds), vary=vary, search=args.search, trials=args.trials,
                            metric=args.metric, early_stop=not args.no_early_stop, retries=args.retries,
                            scene=str(Path(args.scene).resolve()) if args.scene else "")
        plan.check()
        open_scene(args.scene)
        config = _base_config(args)
        plan.task = config.task
        sw.check_variations(config, plan.vary)
        sweep_dir = Path(args.out).resolve() if args.out else resolve_run_dir(default_run_dir(config) + "_sweep")
        if (sweep_dir / "sweep_plan.json").exists():
            raise RigDojoError(f"{sweep_dir} already holds a sweep; continue it with --resume or choose another --out")
        # the only read of the scene (the trials train from this file), then the parity check (DESIGN.md rule 8)
        spec, _check = spec_for_training(config)
        sw.prepare_sweep(sweep_dir, plan, config, spec, family_of(config.task).name)
    where = args.address or f"this machine ({args.cpus or 'all'} CPUs)"
    print(f"sweep: {sw.combinations_text(plan)} of {plan.task} on Ray ({where}); folder {sweep_dir}", flush=True)
    try:
        rows = sw.run_sweep(plan, sweep_dir, resume=args.resume, address=args.address, cpus=args.cpus)
    except KeyboardInterrupt:
        print(f"rig_dojo: sweep stopped; finished trials are kept. Resume with:\n"
              f"  python -m rig_dojo sweep {args.scene or ''} --out {sweep_dir} --resume", file=sys.stderr)
        raise
    print(sw.format_table(rows, plan.metric))
    print(f"results: {sweep_dir / 'results.csv'}, {sweep_dir / 'sweep.json'}")
    failed = [r["trial"] for r in rows if r["status"] == "failed"]
    if failed:
        print(f"rig_dojo: {len(failed)} trial(s) failed ({', '.join(failed)}); the others' results are kept; their "
              "run folders (and Ray's logs) say why", file=sys.stderr)
    unfinished = [r["trial"] for r in rows if r["status"] in ("unfinished", "failed")]
    if any(r["status"] == "unfinished" for r in rows):
        print(f"rig_dojo: the sweep was interrupted; {len(unfinished)} trial(s) are unfinished. Resume with:\n"
              f"  python -m rig_dojo sweep {args.scene or ''} --out {sweep_dir} --resume", file=sys.stderr)
        return 130
    if args.takes:
        takes = bake_sweep_takes(sweep_dir, plan, rows, args.takes, frames)
        for take in takes:
            bake = take["bake"]
            print(f"take {take['rank']}: {take['trial']} -> Action {take['action']!r} on {take['object']} "
                  f"(NLA track {take['track']!r}); verified: {_verified(bake)}")
        print(f"takes: {sweep_dir / 'takes.blend'}, contact sheet {sweep_dir / 'takes.png'}")
    return 0


def _verified(bake: dict) -> str:
    keys = [k for k in ("rotation_error_degrees", "effector_error", "image_error", "position_error") if k in bake]
    return ", ".join(f"{k} {bake[k]:.2g}" for k in keys)


def bake_sweep_takes(sweep_dir: Path, plan, rows: list[dict], count: int, frames=None) -> list[dict]:
    """Bake the ``count`` best trials into the open scene, save it as ``takes.blend`` in the sweep folder (the
    scene's own file is never written) and render ``takes.png``; the takes are recorded in sweep.json."""
    import bpy

    from .agents import sweep as sw
    from .scene.takes import bake_takes, takes_sheet

    ranked = sw.rank(rows, plan.metric)
    takes = bake_takes(ranked, count, frames)
    with quiet_blender():  # Blender's render notes stay off stdout
        takes_sheet(sweep_dir / "takes.png", takes)
        bpy.ops.wm.save_as_mainfile(filepath=str(sweep_dir / "takes.blend"), copy=True)
    sw.write_results(sweep_dir, plan, rows, takes=takes)
    json.dumps(takes)  # every take is plain data (sweep.json holds them)
    return takes
