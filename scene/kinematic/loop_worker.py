"""A Blender-in-the-loop worker: one process holding the .blend, posing the rig for a batch of environments.

Runs in its own process (started by ``envs.kinematic.blender_loop``: a local process or a Ray
actor). For every pose of its share it sets the control bones' rotations, lets the depsgraph
evaluate the rig (constraints, drivers, IK: everything the twin refuses) and reads the world
matrices of the tracked bones, exactly as ``verify`` reads Blender's side.
"""

from __future__ import annotations

import json
import time
import traceback
from types import SimpleNamespace
from typing import Any, cast

import bpy
import numpy as np

from .verify import set_control_rotations


class RigEvaluator:
    """The rig ``rig`` of the open (or given) .blend, posed and evaluated on request."""

    def __init__(self, blend: str | None, rig: str, controls: list[str], control_modes: list[str],
                 tracked: list[str], nodes: list[str], frame: int | None = None):
        if blend:
            bpy.ops.wm.open_mainfile(filepath=blend, load_ui=False)
        self.obj = bpy.data.objects[rig]
        if frame is not None:
            bpy.context.scene.frame_set(frame)
        self.spec = SimpleNamespace(controls=list(controls), control_modes=list(control_modes))
        self.names = {False: list(tracked), True: list(nodes)}

    def evaluate(self, rot3: np.ndarray, all_nodes: bool = False) -> tuple[np.ndarray, float]:
        """``(n, K, 4, 4)`` world matrices of the tracked bones (or every node) for ``n`` control poses
        ``(n, C, 3, 3)``, and the seconds it took."""
        began = time.perf_counter()
        names = self.names[bool(all_nodes)]
        obj = self.obj
        out = np.empty((rot3.shape[0], len(names), 4, 4))
        layer = bpy.context.view_layer
        for k in range(rot3.shape[0]):
            set_control_rotations(obj, cast(Any, self.spec), rot3[k])  # reads .controls and .control_modes
            layer.update()
            ev = obj.evaluated_get(bpy.context.evaluated_depsgraph_get())
            world = np.array(ev.matrix_world)
            bones = ev.pose.bones
            for t, name in enumerate(names):
                out[k, t] = world @ np.array(bones[name].matrix)
        return out, time.perf_counter() - began


def serve(conn, setup_json: str) -> None:
    """Answer ``("evaluate", rot3, all_nodes)`` with ``("ok", matrices, seconds)`` until ``("close",)``."""
    try:
        evaluator = RigEvaluator(**json.loads(setup_json))
    except Exception as exc:
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("ready", None))
    while True:
        try:
            message = conn.recv()
        except EOFError:  # the parent went away
            return
        if message[0] == "close":
            return
        try:
            mats, seconds = evaluator.evaluate(message[1], message[2])
            conn.send(("ok", mats, seconds))
        except Exception as exc:
            conn.send(("error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"))
