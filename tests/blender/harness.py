"""Helpers the Blender tests import (the fixtures are in conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def run_python(code: str, *args: str, cwd: Path | None = None, env: dict | None = None, timeout=600):
    """Run ``code`` in a fresh interpreter of this environment (Blender user dirs redirected by conftest)."""
    return subprocess.run(
        [sys.executable, "-c", code, *args], cwd=cwd or REPO_ROOT, capture_output=True, text=True,
        env={**os.environ, **(env or {})}, timeout=timeout,
    )


def run_cli(*args, cwd: Path | None = None, env: dict | None = None, timeout=600):
    """``python -m rig_dojo ARGS`` in a fresh process of this environment (``env`` added to this one's)."""
    return subprocess.run([sys.executable, "-m", "rig_dojo", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd, env={**os.environ, **(env or {})})


def small_config(steps: int = 2048, algo: str = "ppo", checkpoint_every: int = 1024):
    """A quick reach on the demo scene's arm (``scenes.build_demo_scene``): 4 environments, 64-step rollouts."""
    from rig_dojo.agents.config import TrainConfig, defaults_for

    config = TrainConfig()
    config.task = "reach"
    config.algo = defaults_for(algo)
    config.algo.total_steps, config.algo.n_envs, config.algo.n_steps, config.algo.batch_size = steps, 4, 64, 64
    config.algo.n_epochs = 2
    config.rig.rig, config.rig.controls, config.rig.effector = "Arm", ["upper_arm", "forearm", "hand"], "hand"
    config.rig.region, config.rig.episode_length = "Region", 20
    config.output.checkpoint_every = checkpoint_every
    return config


# Panels drawn in tests (test_sidebar.draw_panels) get their layout from ``popmenu_begin__internal``; its
# other half, ``popmenu_end__internal``, crashes background Blender (no window to show the menu in), so
# each drawn layout's blocks stay allocated until exit, where the bpy module reports them as "Error: Not
# freed memory blocks". conftest.py leaves without that teardown once a test has drawn panels.
POPUP_LAYOUTS_LEFT_OPEN = [0]
