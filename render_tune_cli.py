"""``python -m rig_dojo render-tune``: per-frame Cycles settings that reach a quality in the least render time.

Renders a few frames of the shot with Cycles (CPU, small size) against high-sample references,
learns which settings reach ``--target-ssim`` in the least time (``envs/rendering``), chooses them
for every frame and keys them on the scene (``scene/render_tune.py``). Writes ``OUT/report.json``
and ``OUT/tuned.blend`` (a copy with the keys; the input .blend is never written) and prints the
per-frame table (or the report as JSON).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from .errors import RigDojoError
from .headless import open_scene, quiet_blender


def add_render_tune_parser(sub, scene_help: str) -> None:
    from .agents.config import MAX_MINUTES
    from .cli import _frames_arg, _real, _whole

    rt = sub.add_parser(
        "render-tune", help="learn per-frame Cycles settings that reach a quality in the least render time",
        description="Render a few frames of the shot with Cycles (CPU, small size) against high-sample references, "
                    "learn which settings reach --target-ssim in the least time, choose them for every frame and "
                    "key them on the scene. Writes OUT/report.json and OUT/tuned.blend (a copy; SCENE.blend is not "
                    "changed).")
    rt.add_argument("scene", nargs="?", metavar="SCENE.blend", help=scene_help)
    rt.add_argument("--frames", metavar="START-END", type=_frames_arg,
                    help="the shot (default: the scene's frame range)")
    rt.add_argument("--target-ssim", type=float, default=0.98,
                    help="SSIM against the reference every frame must reach, in (0, 1) (default 0.98)")
    rt.add_argument("--minutes", type=_real(0.0, MAX_MINUTES, above_low=True),
                    help="stop learning after this many minutes (after one round over the sampled frames)")
    rt.add_argument("--sampled", type=_sampled_arg, default=None, metavar="N|all",
                    help="frames rendered against references while learning (default all: every frame is measured, "
                         "which saves the most render time; N picks the N frames that differ most and predicts "
                         "the others with a margin, a shorter tune for a long shot)")
    rt.add_argument("--verify", action="store_true",
                    help="also render every frame against its reference: the report measures all of them")
    rt.add_argument("--threads", type=_whole(0, 1024), default=2, help="Cycles threads (default 2; 0: all cores)")
    rt.add_argument("--reference-samples", type=_whole(1, 65536), default=256,
                    help="samples of a reference render (default 256)")
    rt.add_argument("--out", help="output folder (default: rig_dojo_runs/ beside the .blend)")
    rt.add_argument("--json", action="store_true", help="print the report as JSON")
    rt.set_defaults(run=cmd_render_tune)


def _sampled_arg(text: str) -> int | None:
    """``--sampled``: ``all`` (None: every frame) or a count of frames."""
    from .cli import _whole

    if text.strip().lower() == "all":
        return None
    try:
        return _whole(1, 64)(text)
    except argparse.ArgumentTypeError as exc:
        raise argparse.ArgumentTypeError(f"{exc}; or all (every frame)") from None


def cmd_render_tune(args: argparse.Namespace) -> int:
    import bpy

    from .envs.rendering.tune import check_target
    from .scene.render_tune import check_cycles, tune_scene

    check_target(args.target_ssim)
    if args.out and Path(args.out).exists() and not Path(args.out).is_dir():
        raise RigDojoError(f"--out {args.out} is a file; give a folder")
    open_scene(args.scene)
    check_cycles()
    scene = bpy.context.scene
    assert scene is not None  # open_scene loaded one
    frames = args.frames or (scene.frame_start, scene.frame_end)
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
