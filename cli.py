"""The command line: ``python -m rig_dojo SUBCOMMAND`` and ``blender -b -c rig_dojo SUBCOMMAND``.

Both entries run the same parser. Exit codes: 0 success, 1 a failed run, 2 bad
input (one line on stderr saying what to fix), 3 a twin that is not exact.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path

from .errors import RigDojoError


def _cmd_demo(args: argparse.Namespace) -> int:
    import bpy

    from .envs import scenes

    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    objects = scenes.build_demo_scene()
    blend = out / "demo.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    rig = objects["rig"]
    print(f"Rig Dojo demo scene written to {blend}")
    print(f"  rig    {rig.name}: bones {', '.join(b.name for b in rig.data.bones)}")
    print(f"  target {objects['target'].name}: animated over frames "
          f"{bpy.context.scene.frame_start}-{bpy.context.scene.frame_end}")
    print(f"  region {objects['region'].name}: random targets are drawn inside its bounds")
    return 0


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rig_dojo", description="Rig Dojo: teach rigs to move by reinforcement learning."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="SUBCOMMAND")
    demo = sub.add_parser("demo", help="build the demo scene, train, bake, and write runs/demo/")
    demo.add_argument("--out", default="runs/demo", help="output folder (default: runs/demo)")
    demo.set_defaults(run=_cmd_demo)

    ver = sub.add_parser("verify", help="check that the twin reproduces Blender's pose evaluation exactly",
                         description="Pose the rig at random states in Blender and in the twin; report the worst "
                                     "error per tracked bone. Exit 0 when exact, 3 when not (the report says why).")
    ver.add_argument("scene", nargs="?", metavar="SCENE.blend")
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
        print(f"rig_dojo: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("rig_dojo: interrupted", file=sys.stderr)
        return 130


def blender_command(argv: list[str]) -> int:
    """Entry for ``bpy.utils.register_cli_command``: the .blend is already loaded by Blender."""
    return main(list(argv), register=False)
