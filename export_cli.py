"""``python -m rig_dojo export RUN_OR_POLICY --onnx out.onnx``: a policy for game engines (ONNX + JSON sidecar).

The policy file (a run folder's ``final.rdpolicy``, or any ``.rdpolicy``) is read without pickle
(``agents/policy_file.py``) and written by ``agents/onnx_export.py``. Policy files record what their
observation and action mean (``BatchedTask.policy_layout``); for a file written before they did, ``--scene``
rebuilds the task from the .blend to describe it (otherwise the sidecar gives the spaces and controls only).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from .errors import RigDojoError


def add_export_parser(sub) -> None:
    from .agents.onnx_export import EXPORTABLE, INSTALL

    exp = sub.add_parser(
        "export", help="write a policy as ONNX (with a JSON sidecar) for a game engine",
        description="Write the policy's deterministic action, observation normalisation included, as an ONNX file "
                    "(opset 15: Godot, Unity Sentis, Unreal NNE, onnxruntime) and a JSON sidecar beside it (the "
                    "same name, .json): the observation and action layout, the joints with their limits, the "
                    f"action's scaling, the task and its family. Exports {', '.join(EXPORTABLE)} policies. Needs "
                    f"onnx: {INSTALL}.")
    exp.add_argument("source", metavar="RUN_OR_POLICY", help="a run folder (its final.rdpolicy) or a .rdpolicy file")
    exp.add_argument("--onnx", required=True, metavar="OUT.onnx", help="the ONNX file to write (the sidecar goes "
                                                                       "beside it as OUT.json)")
    exp.add_argument("--scene", metavar="SCENE.blend",
                     help="describe the joints from this .blend's rig (only for policy files that do not record "
                          "their layout, written before the export existed)")
    exp.set_defaults(run=cmd_export)


def policy_path(source: str) -> Path:
    """The policy file of ``source``: a run folder's final.rdpolicy, or the file itself."""
    path = Path(source)
    if path.is_dir():
        final = path / "final.rdpolicy"
        if not final.is_file():
            raise RigDojoError(f"{source} has no final.rdpolicy: the run has not ended (stop it, or let it finish), "
                               "or the folder is not a run folder")
        return final
    if not path.exists():
        raise RigDojoError(f"{source}: no such run folder or policy file")
    return path


def output_path(text: str, source: Path) -> Path:
    """``--onnx``: a writable .onnx path that is not the policy file, checked before any work."""
    path = Path(text)
    if path.is_dir() or text.endswith(("/", os.sep)):
        raise RigDojoError(f"--onnx {text} is a folder; give a file name ending in .onnx")
    if path.suffix.lower() != ".onnx":
        raise RigDojoError(f"--onnx {text}: give a file name ending in .onnx (the sidecar is written beside it as .json)")
    parent = path.resolve().parent
    if not parent.is_dir():
        raise RigDojoError(f"--onnx {text}: the folder {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise RigDojoError(f"--onnx {text}: {parent} is not writable")
    for out in (path, path.with_suffix(".json")):
        if out.resolve() == source.resolve():
            raise RigDojoError(f"--onnx {text} would overwrite the policy file {source}; choose another name")
        if out.exists() and not os.access(out, os.W_OK):
            raise RigDojoError(f"--onnx {text}: {out} exists and is not writable")
    return path.resolve()


def _layout_from_scene(policy, scene: str) -> dict:
    from .envs.families import env_factory
    from .headless import open_scene
    from .scene.families import spec_from_config

    open_scene(scene)
    config = policy.config
    env = env_factory(spec_from_config(config), config)(config, 1, 0)
    policy.check_compatible(env)
    return env.policy_layout()


def cmd_export(args: argparse.Namespace) -> int:
    from .agents.onnx_export import export_onnx, require_onnx
    from .agents.policy_file import load_policy

    source = policy_path(args.source)
    out = output_path(args.onnx, source)
    if args.scene and not Path(args.scene).is_file():
        raise RigDojoError(f"--scene {args.scene}: no such .blend file")
    require_onnx()  # missing: one line saying what to install, before any work
    policy = load_policy(source)
    layout = None
    if args.scene and not isinstance(policy.metadata.get("layout"), dict):
        layout = _layout_from_scene(policy, args.scene)
    onnx_path, json_path = export_onnx(policy, out, layout)
    described = isinstance(policy.metadata.get("layout"), dict) or layout is not None
    print(f"wrote {onnx_path} ({onnx_path.stat().st_size:,d} bytes) and {json_path}"
          + ("" if described else "; this policy file records no joint layout: the sidecar lists its controls "
                                  "and spaces only (add --scene SCENE.blend to describe the joints)"))
    return 0
