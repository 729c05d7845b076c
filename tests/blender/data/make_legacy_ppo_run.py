"""Writes ``legacy_ppo_run/``: a run folder of Rig Dojo before it had its own PPO (``ppo`` = SB3's PPO).

It was generated with the tree at commit c4dfd8e, the flat layout (run with that checkout as ``rig_dojo``;
the modules it imports no longer exist)::

    python tests/blender/data/make_legacy_ppo_run.py tests/blender/data/legacy_ppo_run

The run: the demo scene's 3-bone arm (``envs.scenes.build_demo_scene``) reaching random targets in
``Region``, SB3's PPO with a tiny network for 512 steps, stopped there (a checkpoint in SB3's own zip,
checkpoint.json, config.toml, metrics.csv and final.rdpolicy). tests/blender/test_ppo.py loads, bakes,
fine-tunes and resumes it with today's code.
"""

import sys
from pathlib import Path

import torch

from rig_dojo.agents.config import TrainConfig, defaults_for
from rig_dojo.agents.session import TrainingSession
from rig_dojo.envs import scenes
from rig_dojo.envs.task_extract import task_from_config
from rig_dojo.envs.training import env_factory

torch.set_num_threads(1)
out = Path(sys.argv[1])
scenes.build_demo_scene()
config = TrainConfig()
config.task = "reach"
config.algo = defaults_for("ppo")
config.algo.total_steps, config.algo.n_envs, config.algo.n_steps, config.algo.batch_size = 512, 4, 64, 64
config.algo.n_epochs, config.algo.net_arch = 1, [8, 8]
config.rig.rig, config.rig.controls, config.rig.effector = "Arm", ["upper_arm", "forearm", "hand"], "hand"
config.rig.region, config.rig.episode_length = "Region", 20
config.output.checkpoint_every = 256
session = TrainingSession(config, env_factory(task_from_config(config)), out, snapshot_interval=0.05)
session.start()
assert session.wait(300) == "finished", session.error
print(sorted(p.name for p in out.iterdir()), sorted(p.name for p in (out / "checkpoints").iterdir()))
