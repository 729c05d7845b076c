"""Write files with the code of commit c4dfd8e (the layout before the family registry): a .blend holding
Dojo settings for every family, policy files (SB3 PPO reach, cem camera), and spec files of each family.
Run with PYTHONPATH unset (the editable install at /work/main is that commit)."""
import os, sys, tempfile
from pathlib import Path

out = Path(sys.argv[1]).resolve()
out.mkdir(parents=True, exist_ok=True)
os.environ.setdefault("BLENDER_USER_CONFIG", tempfile.mkdtemp())
import bpy
import rig_dojo
assert rig_dojo.__file__.startswith("/work/main/"), rig_dojo.__file__
rig_dojo.register()
from rig_dojo.envs import scenes
from rig_dojo.envs.camera_extract import build_camera_demo_scene
from rig_dojo.envs.physics_extract import build_biped
from rig_dojo.agents.config import TrainConfig, defaults_for
from rig_dojo.props import config_to_settings, settings_to_config
from rig_dojo.envs.task_build import spec_from_config
from rig_dojo.envs.training import env_factory, make_session

scene = scenes.empty_scene()
scene.frame_start, scene.frame_end = 1, 24
arm = scenes.build_chain("Arm", (0.5, 0.4, 0.2), ("upper_arm", "forearm", "hand"), location=(0.0, 0.0, 1.0))
scenes.add_empty("Region", (0.6, 0.0, 1.2), display="CUBE", size=0.3)
objs = build_camera_demo_scene(frames=24)
biped = build_biped()

# 1. reach: PPO (SB3) policy and its task spec
config = TrainConfig()
config.task = "reach"
config.algo = defaults_for("ppo")
config.algo.total_steps, config.algo.n_envs = 2048, 8
config.rig.rig, config.rig.controls, config.rig.effector, config.rig.region = "Arm", ["upper_arm", "forearm", "hand"], "hand", "Region"
config.rig.episode_length = 16
spec = spec_from_config(config)
spec.save(out / "reach_task.npz")
s = make_session(config, env_factory(spec), out / "run_reach")
s.start(); assert s.wait() == "finished", s.error
(out / "reach_ppo.rdpolicy").write_bytes((out / "run_reach" / "final.rdpolicy").read_bytes())

# 2. camera: cem policy and its shot spec
cam = TrainConfig()
cam.task = "camera"
cam.algo = defaults_for("cem")
cam.algo.total_steps, cam.algo.n_envs = 2 * 16 * 24, 16
cam.camera.subject, cam.camera.framing = objs["subject"].name, "left_third"
cspec = spec_from_config(cam)
cspec.save(out / "camera_shot.npz")
s = make_session(cam, env_factory(cspec), out / "run_camera")
s.start(); assert s.wait() == "finished", s.error
(out / "camera_cem.rdpolicy").write_bytes((out / "run_camera" / "final.rdpolicy").read_bytes())

# 3. physics spec
ph = TrainConfig()
ph.task = "stand"
ph.rig.rig = biped.name
pspec = spec_from_config(ph)
pspec.save(out / "physics_biped.npz")

# 4. a .blend whose Dojo settings were edited (reach, rewards, algo, curriculum, camera, physics tables)
edited = TrainConfig.from_toml(config.to_toml())
edited.rewards = []
from rig_dojo.agents.config import RewardTermConfig, CurriculumStage
edited.rewards = [RewardTermConfig("distance", 2.0, True, {"shape": "exp", "scale": 0.1}), RewardTermConfig("joint_limits", 0.3)]
edited.algo.learning_rate, edited.algo.seed, edited.algo.net_arch = 5e-4, 7, [32, 32]
edited.curriculum.enabled, edited.curriculum.threshold = True, 0.7
edited.curriculum.stages = [CurriculumStage(0.25, 0.1), CurriculumStage(1.0, 0.02)]
edited.output.checkpoint_every = 5000
edited.camera.subject, edited.camera.framing, edited.camera.mode = objs["subject"].name, "right_third", "dolly"
edited.camera.frame_start, edited.camera.frame_end = 3, 20
edited.physics.density, edited.physics.obstacle_heights, edited.physics.direction = 800.0, [0.03, 0.06], [1.0, 0.0, 0.0]
edited.physics.root = "pelvis" if "pelvis" in biped.data.bones else ""
config_to_settings(edited, scene.rig_dojo)
(out / "settings.toml").write_text(settings_to_config(scene.rig_dojo).to_toml())
bpy.ops.wm.save_as_mainfile(filepath=str(out / "settings.blend"), compress=True)
import shutil
shutil.rmtree(out / "run_reach"); shutil.rmtree(out / "run_camera")
print("wrote", sorted(p.name for p in out.iterdir()))
sys.stdout.flush(); os._exit(0)
