"""The command line: ``python -m rig_dojo SUBCOMMAND`` and ``blender -b -c rig_dojo SUBCOMMAND``.

Both entries run the same parser. Exit codes: 0 success, 1 a failed run, 2 bad
input (one line on stderr saying what to fix), 3 a twin that is not exact.
"""

from __future__ import annotations

import argparse
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rig_dojo", description="Rig Dojo: teach rigs to move by reinforcement learning."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="SUBCOMMAND")
    demo = sub.add_parser("demo", help="build the demo scene, train, bake, and write runs/demo/")
    demo.add_argument("--out", default="runs/demo", help="output folder (default: runs/demo)")
    demo.set_defaults(run=_cmd_demo)
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
