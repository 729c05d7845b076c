"""Grasp with the defaults learns on a Rigify-generated human's FK hand (issue 12), through the command line.

The scene is built with bpy (``scene/builders/grasp.py``: the Rigify human, a 4 cm ball beside its left
hand); the config names only the selection and takes the task's defaults, as a new user's would.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import bpy

from rig_dojo.agents.config import TrainConfig, defaults_for
from rig_dojo.envs.families import default_terms
from rig_dojo.envs.kinematic.tasks import make_task
from rig_dojo.scene.builders.grasp import RIGIFY_HAND, grasp_selection
from rig_dojo.scene.families import spec_from_config

pytestmark = pytest.mark.slow  # generates a Rigify rig and trains for a minute in a subprocess


@pytest.fixture(scope="module")
def grasp_scene(tmp_path_factory, dojo_registered):
    folder = tmp_path_factory.mktemp("grasp")
    scene = folder / "grasp.blend"
    # built in a fresh interpreter, as tests/blender/rigs.py does: Rigify enabled in this process leaves its
    # load_post handler behind the factory reset of later tests, which then prints a traceback on every load
    code = ("import bpy, sys; from rig_dojo.scene.builders import scenes, grasp; scenes.empty_scene(); "
            "grasp.build_rigify_grasp(); bpy.ops.wm.save_as_mainfile(filepath=sys.argv[1]); "
            "import os; sys.stdout.flush(); os._exit(0)")
    proc = subprocess.run([sys.executable, "-c", code, str(scene)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0 and scene.exists(), proc.stderr[-3000:]
    bpy.ops.wm.open_mainfile(filepath=str(scene))
    config = TrainConfig()
    grasp_selection(config)
    config.algo = defaults_for("ppo")  # untouched defaults, as a new user's: the command line takes grasp's own
    return {"folder": folder, "scene": scene, "config": config}


def test_the_ball_starts_beside_the_hand_not_in_it(grasp_scene):
    """The rest pose does not succeed: the fingertips start about 5 cm from the ball."""
    config = grasp_scene["config"]
    task = make_task(spec_from_config(config), n_envs=2, seed=0)
    task.reset()
    _, _, _, infos = task.step(np.zeros((2, task.n_joints)))
    assert not infos[0]["success"] and 0.05 < infos[0]["error"] < 0.2  # chain lengths
    assert task.n_joints == 24 and task.spec.fingertips == RIGIFY_HAND["fingertips"]


def test_grasp_with_the_defaults_learns_on_the_rigify_hand(grasp_scene):
    """One minute of training (the issue's bar: 90% within two) reaches 90%; on a loaded 2-core machine (load 4-7)
    the defaults reached it in 51-61 k env-steps, 3.7-10.2 s (``RIG_DOJO_BENCH_TASKS=grasp ./dojo bench train``)."""
    folder = grasp_scene["folder"]
    toml = folder / "grasp.toml"
    toml.write_text(grasp_scene["config"].to_toml())
    run = folder / "run"
    proc = subprocess.run([sys.executable, "-m", "rig_dojo", "train", str(grasp_scene["scene"]), "--config",
                           str(toml), "--minutes", "1", "--out", str(run)], capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    saved = TrainConfig.load(run / "config.toml")
    tuned = defaults_for("ppo", "grasp")
    assert (saved.algo.n_envs, saved.algo.batch_size) == (tuned.n_envs, tuned.batch_size) == (128, 1024)
    assert [t.name for t in saved.rewards] in ([], [t.name for t in default_terms("grasp")])
    summary = json.loads((run / "summary.json").read_text())
    assert summary["success_rate"] >= 0.9, summary
    assert summary["final_error"] < saved.rig.tolerance, summary
