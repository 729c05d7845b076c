"""TrainConfig: the one source of truth for a training's settings (DESIGN.md, rule 4).

The UI's property groups, the command line's TOML files and the tests all read and
write this dataclass. TOML layout (every table optional; missing keys keep defaults, and missing
``[algo]`` keys are the tuned settings of the algorithm, the family's default when none is named,
for the task: what the sidebar starts from)::

    task = "reach"

    [rig]
    rig = "Armature"                 # rig object name
    controls = ["upper_arm", "forearm"]
    effector = "hand"
    tracked = []
    target = "Target"
    region = ""
    episode_length = 64
    discrete = false
    tolerance = 0.02                 # success tolerance, chain-length units
    location_controls = []           # bones whose location the policy moves (IK targets, poles, a root)
    location_range = 0.0             # chain lengths each way a location control may move where the rig has
                                     # no Limit Location (0: the rig's Limit Location constraints only)
    observation = "full"             # full | chain (rig-agnostic joint tokens: what the policy library reads)

    [[rewards]]
    name = "distance"
    weight = 1.0
    enabled = true
    params = { shape = "exp", scale = 0.05 }

    [algo]
    name = "ppo"                     # ppo | sb3_ppo | a2c | sac | td3 | dqn | qlearning
    learning_rate = 0.0003
    lr_schedule = "constant"         # constant | linear | cosine
    gamma = 0.99
    n_envs = 16
    total_steps = 200000
    minutes = 0.0                    # > 0: stop after this much training time instead
    batch_size = 256
    n_steps = 128
    n_epochs = 10
    net_arch = [64, 64]
    seed = 0
    start_from = ""                  # "" (scratch) | "library:reach" | a .rdpolicy to fine-tune from
    extra = {}                       # algorithm-specific keyword arguments

    [curriculum]
    enabled = false
    threshold = 0.8
    [[curriculum.stages]]
    region_scale = 0.25
    tolerance = 0.1

    [output]
    run_dir = ""
    checkpoint_every = 20000

    [camera]                         # task = "camera": learn a camera move over a shot
    camera = ""                      # camera object ("" = the scene's camera)
    subject = ""                     # object to keep framed (an armature with `bone`)
    bone = ""
    frame_start = 0                  # the shot; 0 and 0 = the scene's frame range
    frame_end = 0
    mode = "free"                    # free | dolly (move only) | pan (turn only)
    framing = "center"               # center | left_third | right_third | nearest_third
    use_lens = false                 # also animate the focal length
    allow_roll = false
    tolerance = 0.08                 # framing distance (image units) that counts as framed
    start_noise = 0.0                # random start offset (shot scales); 0 = the camera's pose
    occlusion = true                 # trace occlusion rays to the subject
    region = ""                      # object whose bounds the camera must stay in ("" = around the shot)

    [physics]                        # task = stand | locomotion | jump | obstacles (MuJoCo twin)
    root = ""                        # root bone ("" = the armature's only top-level bone);
                                     # rig.rig is the armature, rig.controls the bones (empty: all)
    density = 1000.0                 # kg/m^3 of every capsule
    strength = 1.0                   # servo gain multiplier
    friction = 1.0
    radius_source = "length"         # length | envelope | bbone
    radius_ratio = 0.12
    soles = true                     # feet within 40 deg of flat stand on a sole from heel to toe
    sole_width = 0.0                 # across the foot, in the foot bone's radius; 0: the task's own (4 track, 2 others)
    obstacles = []                   # obstacle boxes (empty: objects with rig_dojo_obstacle)
    platform = ""                    # an animated mesh that becomes a moving box
    root_motion = "bone"             # bake root motion to the root bone or the object
    episode_seconds = 10.0
    substeps = 8
    direction = [0.0, -1.0, 0.0]     # travel direction (locomotion, obstacles)
    target_speed = 1.0               # body sizes per second
    fall_height = 0.5
    max_tilt_degrees = 60.0
    reset_noise = 0.05
    push = 0.0
    jump_height = 0.15
    obstacle_heights = [0.02, 0.05, 0.08, 0.12]   # the obstacle course's curriculum
    obstacle_distance = 1.0
    action_scale = 0.0               # 0: the task's own (0.5 locomotion/obstacles, 1 stand/jump, 0.35 track)

    [reference]                      # pins and a style clip (reach, aim, grasp)
    pins = "ArmKeys"                 # an Action whose keyed frames on the controls become pose pins
    pin_frames = []                  # which keyed frames (empty: all in the frame range)
    pin_bones = []                   # which controls the pose pins hold (empty: all the Action keys)
    effector_pins = ["Cup@45"]       # OBJECT@FRAME (the effector) or BONE:OBJECT@FRAME
    guide = true                     # actions add to the straight way to the next keyed pose
    hard = true                      # pins decide success (false: a weighted reward only)
    soft_frames = []                 # frames whose pins are soft anyway
    pin_weight = 1.0
    angle_tolerance = 2.0            # degrees per pinned bone
    position_tolerance = 0.01        # chain lengths, a pose pin's effector (effector pins: rig.tolerance)
    style = ""                       # an Action whose velocity/acceleration distribution the motion matches
    bone_map = {}                    # clip bone -> rig bone over the automatic map

``algo.name = "solve"`` (the shot solver: the camera path optimised over the known shot,
the camera task's default) and ``algo.name = "cem"`` (cross-entropy search for a linear
camera policy) train the camera task only; every SB3 algorithm trains every task.

Unknown or mistyped keys raise :class:`RigDojoError` naming the key with its table
path (``algo.lerning_rate``) and the allowed keys.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import re
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import RigDojoError
from .schema import setting

from ..envs.camera.settings import CameraConfig
from ..envs.physics.settings import PhysicsConfig
from ..envs.reference.settings import ReferenceConfig

# ppo: our own PPO for batched twins (agents/ppo.py); sb3_ppo .. dqn: Stable-Baselines3; qlearning: tabular.
# Every task of the rig family.
ALGORITHMS = ("ppo", "sb3_ppo", "a2c", "sac", "td3", "dqn", "qlearning")
# search without SB3 (the camera family's): new names go last. The sidebar stores an algorithm as a number that
# never changes (props.py, ``ALGORITHM_NUMBERS``): the order of these tuples is free, the numbers are not
SEARCH_ALGORITHMS = ("cem", "solve")
CONTINUOUS_ONLY = frozenset({"sac", "td3"})
DISCRETE_ONLY = frozenset({"dqn", "qlearning"})
LR_SCHEDULES = ("constant", "linear", "cosine")
# each family's settings table (envs/<family>/settings.py): TrainConfig field -> dataclass
SETTINGS_TABLES = {"camera": CameraConfig, "physics": PhysicsConfig, "reference": ReferenceConfig}


def settings_class(table: str) -> type:
    """The dataclass of the TrainConfig table ``table`` (a family's settings group)."""
    return SETTINGS_TABLES[table]


def __getattr__(name: str):
    if name == "TASKS":  # every task, from the family registry
        from ..envs.families import task_names

        return task_names()
    raise AttributeError(name)


@dataclass
class RigSelection:
    """Which rig, which bones the policy moves, what it reaches for."""

    rig: str = setting("", label="Rig", kind="armature", description="The armature to train; only armatures can be picked")
    controls: list[str] = setting(default_factory=list, label="Controls", kind="names",
                                  description="The bones the policy turns, comma-separated, parents first")
    effector: str = setting("", label="Effector", kind="bone",
                            description="The bone that reaches (its tail), aims (an axis) or holds the palm")
    tracked: list[str] = setting(default_factory=list, label="Tracked", kind="names",
                                 description="More bones to track, comma-separated (for grasp: the fingertips)")
    target: str = setting("", label="Target", kind="object",
                          description="The object to reach or aim at (animated objects are followed frame by frame); "
                                      "for grasp, the mesh to grip")
    region: str = setting("", label="Region", kind="object",
                          description="Targets are drawn at random inside this object's box (overrides Target for "
                                      "training reach and aim)")
    episode_length: int = setting(64, label="Episode Length", min=1, soft_max=1000,
                                  description="Steps per episode (an animated target uses its frame count)")
    discrete: bool = setting(False, label="Discrete Actions",
                             description="Each control turns by a fixed step: needed by DQN and Q-learning, refused "
                                         "by SAC and TD3")
    tolerance: float = setting(0.02, label="Success Tolerance", min=1e-6, soft_max=0.5, precision=3,
                               description="Success distance in chain lengths (aim: radians)")
    location_controls: list[str] = setting(default_factory=list, label="Location Controls", kind="names",
                                           description="Bones whose location the policy moves (IK targets, poles, "
                                                       "a root), comma-separated")
    location_range: float = setting(0.0, label="Location Range", min=0.0, soft_max=2.0, precision=2,
                                    description="How far a location control may move each way, in chain lengths, "
                                                "where the rig has no Limit Location constraint (0: only the rig's "
                                                "constraints)")
    observation: str = setting("full", label="Observation", advanced=True, choices=(
        ("full", "This Rig", "The rig's joints and the task's vectors: the quickest to learn from scratch"),
        ("chain", "Any Chain", "One token per joint in units of the chain (reach on a chain of 2-8 bones; a "
                               "physics creature's servos in body sizes for stand and jump): what the policy library "
                               "reads, so a policy transfers between rigs")),
        description="What the policy sees (starting from the library sets Any Chain)")
    # the rig's switches the command line's --switch set before training ('upper_arm_parent.L["IK_FK"]=1.0'),
    # set again by a resume and by the bake; not a sidebar setting (there Set Switch changes the rig itself)
    switches: list[str] = field(default_factory=list)


@dataclass
class RewardTermConfig:
    """One reward term: registry name, weight, on/off and the term's own parameters."""

    name: str = ""
    weight: float = 1.0
    enabled: bool = True
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class AlgoConfig:
    """Algorithm and hyperparameters. ``extra`` holds algorithm-specific keyword arguments."""

    name: str = setting("ppo", label="Algorithm", description="The learning algorithm (picking one loads its tuned "
                        "settings; Solve Shot, the camera task's default, and CEM, a policy search, are offered for "
                        "the camera task only)")
    learning_rate: float = setting(3e-4, label="Learning Rate", description="Step size of the optimiser", min=1e-7,
                                   soft_max=0.01, precision=6, step=0.001)
    lr_schedule: str = setting("constant", label="Schedule", description="How the learning rate changes over the run",
                               choices=tuple((s, s.capitalize(), "") for s in LR_SCHEDULES))
    gamma: float = setting(0.99, label="Gamma", description="Discount factor: how far ahead the policy plans",
                           min=0.0, max=1.0, precision=4)
    n_envs: int = setting(16, label="Environments", description="Environments stepped side by side", min=1,
                          soft_max=4096)
    total_steps: int = setting(200_000, label="Steps", min=0, step=1000,
                               description="Training budget in environment steps (0: no step limit)")
    minutes: float = setting(0.0, label="Minutes", min=0.0, soft_max=120.0, precision=1,
                             description="Training budget in minutes of training time (0: no time limit)")
    batch_size: int = setting(256, label="Batch Size", description="Samples per gradient step", min=1)
    n_steps: int = setting(128, label="Rollout Steps", min=1,
                           description="Steps per environment between updates (PPO, A2C) or train frequency (SAC, "
                                       "TD3, DQN)")
    n_epochs: int = setting(10, label="Epochs", min=1,
                            description="PPO epochs per update, or gradient steps for SAC, TD3, DQN")
    net_arch: list[int] = setting(default_factory=lambda: [64, 64], label="Network", kind="numbers",
                                  description="Hidden layer sizes, comma-separated (e.g. 64, 64)")
    seed: int = setting(0, label="Seed", min=0,
                        description="Random seed: the same seed and settings give the same run")
    start_from: str = setting("", label="Start From", kind="file",
                              description="Empty: train from scratch; library:NAME: a pre-trained policy shipped with "
                                          "Rig Dojo (library:reach); or a .rdpolicy file to fine-tune from")
    extra: dict[str, Any] = setting(default_factory=dict, label="Extra", kind="json",
                                    description="Algorithm-specific options as a JSON object (e.g. {\"gae_lambda\": "
                                                "0.95})")


@dataclass
class CurriculumStage:
    """A curriculum stage: targets within ``region_scale`` of the region, success within ``tolerance``."""

    region_scale: float = setting(1.0, label="Region Scale", min=0.0, max=1.0,
                                  description="Fraction of the region targets are drawn from")
    tolerance: float = setting(0.02, label="Tolerance", min=0.0, precision=3,
                               description="Success distance at this stage (chain lengths)")


@dataclass
class CurriculumConfig:
    enabled: bool = setting(False, label="Curriculum", description="Start with easy targets and advance by stages")
    threshold: float = setting(0.8, label="Advance At", min=0.0, max=1.0, subtype="FACTOR",
                               description="Success rate that advances a stage")
    stages: list[CurriculumStage] = field(default_factory=list)


@dataclass
class OutputConfig:
    run_dir: str = setting("", label="Run Folder", kind="dir",
                           description="Where the run is written (empty: //rig_dojo_runs/<rig>_<task>_<time>/ beside "
                                       "the .blend, or a temporary folder for an unsaved file)")
    checkpoint_every: int = setting(20_000, label="Checkpoint Every", min=1, description="Steps between checkpoints")


# Tuned per algorithm on reach-style tasks (a 2-3 link chain reaching random targets,
# 16-64 step episodes). agents/README.md has the table and the reasons.
_DEFAULTS: dict[str, dict[str, Any]] = {
    # our PPO, sized to the twin: tuned for wall-clock time to skill on the kinematic tasks (README)
    "ppo": dict(learning_rate=1e-3, lr_schedule="constant", gamma=0.98, n_envs=512, total_steps=3_000_000,
                batch_size=4096, n_steps=16, n_epochs=2, net_arch=[64, 64],
                extra={"gae_lambda": 0.95, "desired_kl": 0.02, "log_std_init": -1.0}),
    # Stable-Baselines3's PPO with the settings that were Rig Dojo's PPO defaults before ours
    "sb3_ppo": dict(learning_rate=3e-4, lr_schedule="linear", gamma=0.98, n_envs=16, total_steps=600_000,
                    batch_size=256, n_steps=128, n_epochs=10, net_arch=[64, 64],
                    extra={"gae_lambda": 0.95, "ent_coef": 0.0, "clip_range": 0.2}),
    "a2c": dict(learning_rate=1e-3, lr_schedule="linear", gamma=0.98, n_envs=16, total_steps=300_000,
                batch_size=16, n_steps=16, n_epochs=1, net_arch=[64, 64],
                extra={"gae_lambda": 0.95, "ent_coef": 0.0, "normalize_advantage": True}),
    "sac": dict(learning_rate=1e-3, lr_schedule="constant", gamma=0.95, n_envs=4, total_steps=50_000,
                batch_size=256, n_steps=1, n_epochs=1, net_arch=[64, 64],
                extra={"buffer_size": 100_000, "learning_starts": 1_000, "tau": 0.02}),
    "td3": dict(learning_rate=1e-3, lr_schedule="constant", gamma=0.95, n_envs=4, total_steps=50_000,
                batch_size=256, n_steps=1, n_epochs=1, net_arch=[64, 64],
                extra={"buffer_size": 100_000, "learning_starts": 1_000, "tau": 0.02, "action_noise_std": 0.2}),
    "dqn": dict(learning_rate=5e-4, lr_schedule="constant", gamma=0.95, n_envs=8, total_steps=100_000,
                batch_size=128, n_steps=4, n_epochs=1, net_arch=[64, 64],
                extra={"buffer_size": 50_000, "learning_starts": 1_000, "target_update_interval": 500,
                       "exploration_fraction": 0.3, "exploration_final_eps": 0.05}),
    "qlearning": dict(learning_rate=0.2, lr_schedule="linear", gamma=0.95, n_envs=16, total_steps=100_000,
                      batch_size=1, n_steps=1, n_epochs=1, net_arch=[],
                      extra={"bins": 8, "obs_clip": 2.0, "epsilon_start": 1.0, "epsilon_end": 0.05,
                             "exploration_fraction": 0.5}),
    # Cross-entropy search (camera only): n_envs is the population (one camera per candidate
    # policy), total_steps counts camera steps (population x shot frames per generation).
    # The camera task's tuned setting: 60 generations of 128 on a 48-frame shot.
    "cem": dict(learning_rate=1.0, lr_schedule="constant", gamma=1.0, n_envs=128, total_steps=360_000,
                batch_size=1, n_steps=1, n_epochs=1, net_arch=[],
                extra={"elite": 0.125, "sigma": 0.3}),
    # The shot solver (camera only, envs/camera/solve.py): n_envs is the population of candidate paths,
    # total_steps counts camera-frames scored (candidates x shot frames); a solve also ends when it has
    # converged. Tuned on the shot suite (scene/builders/camera_shots.py, ./dojo bench camera): about 40
    # generations on a 120-frame shot.
    "solve": dict(learning_rate=1.0, lr_schedule="constant", gamma=1.0, n_envs=64, total_steps=400_000,
                  batch_size=1, n_steps=1, n_epochs=1, net_arch=[],
                  extra={"elite": 0.125, "knots_per_second": 1.0}),
}


# Tasks whose own tuning replaces the algorithm's reach-tuned defaults: (algo, task) -> settings.
# Stable-Baselines3's PPO tuned for locomotion on the generated quadruped (scene.physics.extract.build_quadruped,
# gSDE exploration), the physics default before our PPO was measured there; asking for sb3_ppo on locomotion or
# obstacles still gets it. agents/README.md ("Physics defaults") has the tables, the reasons and the times.
_SB3_LOCOMOTION: dict[str, Any] = dict(
    learning_rate=3e-4, lr_schedule="constant", gamma=0.99, n_envs=32, total_steps=7_000_000,
    batch_size=2048, n_steps=256, n_epochs=5, net_arch=[128, 128],
    extra={"gae_lambda": 0.95, "ent_coef": 0.0, "clip_range": 0.2, "use_sde": True, "sde_sample_freq": 4,
           "policy_kwargs": {"log_std_init": -0.9, "ortho_init": False, "activation_fn": "ReLU"}},
)
# Grasp (one fixed object, 24 joints on the Rigify hand): our PPO's row with fewer environments, so more updates
# a second (agents/README.md, "Grasp and aim defaults").
_GRASP_PPO: dict[str, Any] = dict(_DEFAULTS["ppo"], n_envs=128, batch_size=1024, total_steps=1_000_000)
# Stand and locomotion: our PPO's row exploring with a third of its std (log std -2: 0.14 of a full action). With
# -1 a biped on soles never stood within 180 s (3 runs); with -2 it did in 79-173 s; quadrupeds stand either way.
# Locomotion: build_quadruped walks (>= 1 body length/s, 10 s, no fall) after 3-4 minutes instead of the sb3_ppo
# row's 18, and Rigify's quadruped metarig walks at all. Jump: 2 runs of 3 land 8 of 8 jumps within 5 minutes with
# it, 1 of 3 with -1 (agents/README.md, "Physics defaults").
_PHYSICS_PPO: dict[str, Any] = dict(_DEFAULTS["ppo"], extra={**_DEFAULTS["ppo"]["extra"], "log_std_init": -2.0})
# Track: our PPO's row with a [128, 128] network, beside the track task's action_scale 0.35 (envs/physics/tracking.py;
# 0.2 before): with [64, 64] and 0.2 the tracked walk fell to 54 of 96 shoves at 0.25 and 0.5 sizes/s over three
# seeds; with these to 4 of 96 (the trot to none), taking longer to train (README, "Tracking a clip in physics").
_TRACK_PPO: dict[str, Any] = dict(_DEFAULTS["ppo"], net_arch=[128, 128])
# Reach: our PPO's row with 256 environments, minibatches of 1,024, desired_kl 0.05 and a [32, 32] network: on an
# AVX-512 Xeon where the row took 9.7-12.9 s to 95% (seeds 0-2; ~4x SB3's defaults, not 8x), 5.4-9.7 s over six seeds
# (the bench's seed 0: 5.3-5.4 s, 9.5-9.8x), the Rigify FK arm 4.5-4.6 s against 6.9-11.4 (agents/README.md, "On a
# later machine"). Aim keeps the row (its own sweep is not done).
_REACH_PPO: dict[str, Any] = dict(_DEFAULTS["ppo"], n_envs=256, batch_size=1024, net_arch=[32, 32],
                                  extra={**_DEFAULTS["ppo"]["extra"], "desired_kl": 0.05})
_TASK_DEFAULTS: dict[tuple[str, str], dict[str, Any]] = {
    ("ppo", "reach"): _REACH_PPO,
    ("ppo", "grasp"): _GRASP_PPO,
    ("ppo", "stand"): _PHYSICS_PPO,
    ("ppo", "locomotion"): _PHYSICS_PPO,
    ("ppo", "jump"): _PHYSICS_PPO,
    ("ppo", "obstacles"): _PHYSICS_PPO,  # locomotion over a box: starts from locomotion's tuning
    ("ppo", "track"): _TRACK_PPO,
    ("sb3_ppo", "locomotion"): _SB3_LOCOMOTION,
    ("sb3_ppo", "obstacles"): _SB3_LOCOMOTION,
}


def defaults_for(algo: str, task: str | None = None) -> AlgoConfig:
    """The tuned hyperparameters of ``algo`` (documented in agents/README.md); with ``task``, that
    task's own tuning where it has one (grasp, stand, locomotion, jump, obstacles and track with our PPO; locomotion and
    obstacles with ``sb3_ppo``), else ``algo``'s."""
    if algo not in _DEFAULTS:
        raise RigDojoError(f"unknown algorithm {algo!r}; choose one of {', '.join(ALGORITHMS + SEARCH_ALGORITHMS)}")
    if task is not None:
        from ..envs.families import family_of

        family_of(task)  # RigDojoError naming the tasks for an unknown one
    values = copy.deepcopy(_TASK_DEFAULTS.get((algo, task), _DEFAULTS[algo]))
    return AlgoConfig(name=algo, **values)


def _tuned_where_unset(config: TrainConfig, given: Any) -> None:
    """Algorithm settings a file leaves out are the tuned defaults of its algorithm for its task (the family's
    default algorithm when none is named), as the sidebar and the command line start from, not the bare
    dataclass values: a TOML with only ``task`` and ``[rig]`` trains like the sidebar's defaults."""
    given = given if isinstance(given, dict) else {}
    if len(given) >= len(dataclasses.fields(AlgoConfig)):
        return  # a whole [algo] table (every file we write): nothing to fill
    from ..envs.families import family_of

    try:
        name = given.get("name") or family_of(config.task).default_algorithm
        tuned = defaults_for(name, config.task)
    except RigDojoError:
        return  # an unknown task or algorithm: validate() names the key
    for f in dataclasses.fields(AlgoConfig):
        if f.name not in given:
            setattr(config.algo, f.name, getattr(tuned, f.name))


def has_task_defaults(algo: str, task: str) -> bool:
    """Whether ``task`` has its own tuned defaults for ``algo`` (see :func:`defaults_for`)."""
    return (algo, task) in _TASK_DEFAULTS


@dataclass
class TrainConfig:
    """Everything one training needs; round-trips through TOML (see the module docstring)."""

    task: str = "reach"
    rig: RigSelection = field(default_factory=RigSelection)
    rewards: list[RewardTermConfig] = field(default_factory=list)
    algo: AlgoConfig = field(default_factory=AlgoConfig)
    curriculum: CurriculumConfig = field(default_factory=CurriculumConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    camera: CameraConfig = field(default_factory=CameraConfig)
    physics: PhysicsConfig = field(default_factory=PhysicsConfig)
    reference: ReferenceConfig = field(default_factory=ReferenceConfig)

    # -- TOML ---------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        config = _build(cls, data, "")
        _tuned_where_unset(config, data.get("algo"))
        config.validate()
        return config

    def to_toml(self) -> str:
        lines: list[str] = []
        _emit_table(self.to_dict(), [], lines)
        return "\n".join(lines).strip() + "\n"

    @classmethod
    def from_toml(cls, text: str) -> TrainConfig:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise RigDojoError(f"the configuration is not valid TOML: {exc}") from None
        return cls.from_dict(data)

    @classmethod
    def load(cls, path: str | Path) -> TrainConfig:
        path = Path(path)
        try:
            if path.stat().st_size > MAX_CONFIG_BYTES:
                raise RigDojoError(f"{path} is {path.stat().st_size:,d} bytes; a configuration is a small TOML file")
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise RigDojoError(f"cannot read the configuration {path}: {exc.strerror}") from None
        except UnicodeDecodeError as exc:
            raise RigDojoError(f"{path} is not UTF-8 text (byte {exc.start}); save the configuration as UTF-8 "
                               "TOML") from None
        try:
            return cls.from_toml(text)
        except RigDojoError as exc:
            raise RigDojoError(f"{path}: {exc}") from None

    def save(self, path: str | Path) -> None:
        from .files import write_atomic

        write_atomic(Path(path), self.to_toml().encode("utf-8"))

    # -- checks -------------------------------------------------------------------
    def validate(self) -> None:
        """Values that parse but make no sense raise RigDojoError saying which and why."""
        from ..envs.families import family_of

        algo = self.algo
        try:
            family = family_of(self.task)
        except RigDojoError as exc:
            raise RigDojoError(f"task: {exc}") from None
        every = ALGORITHMS + SEARCH_ALGORITHMS
        if algo.name not in every:
            raise RigDojoError(f"algo.name: unknown algorithm {algo.name!r}; choose one of {', '.join(every)}")
        if algo.name not in family.algorithms:
            raise RigDojoError(f"algo.name: {algo.name} cannot train the {self.task} task; pick one of "
                               f"{', '.join(family.algorithms)} ({family.default_algorithm} is the default)")
        if algo.lr_schedule not in LR_SCHEDULES:
            raise RigDojoError(f"algo.lr_schedule: {algo.lr_schedule!r} is not one of {', '.join(LR_SCHEDULES)}")
        if self.rig.discrete and not family.discrete_actions:
            raise RigDojoError(f"rig.discrete: the {self.task} task has continuous actions only; set rig.discrete = false")
        if self.rig.discrete and algo.name in CONTINUOUS_ONLY:
            raise RigDojoError(f"algo.name: {algo.name} needs continuous actions; set rig.discrete = false "
                               "or pick ppo, a2c, dqn or qlearning")
        if not self.rig.discrete and algo.name in DISCRETE_ONLY:
            raise RigDojoError(f"algo.name: {algo.name} needs discrete actions; set rig.discrete = true "
                               "or pick ppo, a2c, sac or td3")
        positive = {"algo.learning_rate": algo.learning_rate, "algo.n_envs": algo.n_envs,
                    "algo.batch_size": algo.batch_size, "algo.n_steps": algo.n_steps, "algo.n_epochs": algo.n_epochs,
                    "rig.episode_length": self.rig.episode_length, "rig.tolerance": self.rig.tolerance,
                    "output.checkpoint_every": self.output.checkpoint_every}
        for key, value in positive.items():
            if not value > 0:
                raise RigDojoError(f"{key} must be greater than 0 (found {value})")
        if not (self.rig.location_range >= 0.0 and math.isfinite(self.rig.location_range)):
            raise RigDojoError(f"rig.location_range must be 0 or more chain lengths (found {self.rig.location_range})")
        if not 0.0 < algo.gamma <= 1.0:
            raise RigDojoError(f"algo.gamma must be in (0, 1] (found {algo.gamma})")
        if algo.total_steps <= 0 and algo.minutes <= 0:
            raise RigDojoError("set algo.total_steps or algo.minutes (a time budget) to a value greater than 0")
        if algo.total_steps < 0 or algo.minutes < 0:
            raise RigDojoError("algo.total_steps and algo.minutes must not be negative")
        if self.rig.observation not in ("full", "chain"):
            raise RigDojoError(f"rig.observation: {self.rig.observation!r} is not 'full' or 'chain'")
        if algo.start_from.startswith("library:"):
            from .library import entry

            entry(algo.start_from)  # an unknown name says which the library has
        if any(n <= 0 for n in algo.net_arch):
            raise RigDojoError(f"algo.net_arch: layer sizes must be greater than 0 (found {algo.net_arch})")
        _check_bounds(self)
        if algo.name == "cem":
            from .cem import validate_extra

            validate_extra(algo)
        else:  # an algorithm a family brings checks its own settings (the camera's shot solver)
            from ..envs.families import algorithm_hooks

            hooks = algorithm_hooks(algo.name)
            if hooks is not None and hasattr(hooks, "validate_extra"):
                hooks.validate_extra(algo)
        if family.settings:
            getattr(self, family.settings).validate(self)
        # a family whose curriculum is its own (the obstacle course's heights) needs no stages
        if self.curriculum.enabled and not self.curriculum.stages \
                and self.task not in family.extra.get("own_curriculum", ()):
            raise RigDojoError("curriculum.enabled is true but curriculum.stages is empty; add [[curriculum.stages]]")
        for i, term in enumerate(self.rewards):
            if not term.name:
                raise RigDojoError(f"rewards[{i}].name is empty; give the reward term's registry name")


# -- upper bounds: values that parse but would exhaust memory, disk or time, or overflow ---------------
MAX_SEED = 2**32 - 1  # numpy's and torch's seeds
MAX_CONFIG_BYTES = 16 << 20
MAX_TOTAL_STEPS = 10**11
MAX_MINUTES = 7 * 24 * 60.0
MAX_LAYERS, MAX_LAYER_UNITS = 16, 8192  # agents/safe_read.py refuses policy files beyond these
MAX_REWARD_WEIGHT = 1e6
_UPPER = {"algo.n_envs": 65_536, "algo.batch_size": 10**7, "algo.n_steps": 10**6, "algo.n_epochs": 10_000,
          "rig.episode_length": 100_000, "output.checkpoint_every": 10**12}


def _check_bounds(config: TrainConfig) -> None:
    algo = config.algo
    if not 0 <= algo.seed <= MAX_SEED:
        raise RigDojoError(f"algo.seed must be between 0 and {MAX_SEED} (found {algo.seed})")
    if algo.total_steps > MAX_TOTAL_STEPS:
        raise RigDojoError(f"algo.total_steps: {algo.total_steps:,d} is more than {MAX_TOTAL_STEPS:,d}; "
                           "use algo.minutes for an open-ended run")
    if not math.isfinite(algo.minutes) or algo.minutes > MAX_MINUTES:
        raise RigDojoError(f"algo.minutes must be a finite number of minutes up to {MAX_MINUTES:.0f} (a week); "
                           f"found {algo.minutes}")
    for key, value in (("algo.learning_rate", algo.learning_rate), ("rig.tolerance", config.rig.tolerance)):
        if not math.isfinite(value) or value > 1e6:
            raise RigDojoError(f"{key} must be a finite number of a plausible size (found {value})")
    if len(algo.net_arch) > MAX_LAYERS or any(n > MAX_LAYER_UNITS for n in algo.net_arch):
        raise RigDojoError(f"algo.net_arch: at most {MAX_LAYERS} layers of at most {MAX_LAYER_UNITS} units "
                           f"(found {algo.net_arch[:MAX_LAYERS + 1]})")
    values = {"algo.n_envs": algo.n_envs, "algo.batch_size": algo.batch_size, "algo.n_steps": algo.n_steps,
              "algo.n_epochs": algo.n_epochs, "rig.episode_length": config.rig.episode_length,
              "output.checkpoint_every": config.output.checkpoint_every}
    for key, value in values.items():
        if value > _UPPER[key]:
            raise RigDojoError(f"{key} must be at most {_UPPER[key]:,d} (found {value:,d})")
    for i, term in enumerate(config.rewards):
        weight = term.weight
        if not math.isfinite(weight) or abs(weight) > MAX_REWARD_WEIGHT:
            raise RigDojoError(f"rewards[{i}] ({term.name}): weight {weight!r} must be a finite number up to "
                               f"{MAX_REWARD_WEIGHT:g}; scale the other terms down instead")


# -- reading: dataclass from plain data, with errors that name the key ------------------
_TYPE_NAMES = {str: "string", int: "integer", float: "float", bool: "boolean", list: "list", dict: "table"}


def _type_name(value: Any) -> str:
    return _TYPE_NAMES.get(type(value), type(value).__name__)


def _build(cls: type, data: Any, path: str) -> Any:
    where = path or "the top level"
    if not isinstance(data, dict):
        raise RigDojoError(f"{where}: expected a table, found {_type_name(data)}")
    hints = typing.get_type_hints(cls)
    allowed = [f.name for f in dataclasses.fields(cls)]
    values = {}
    for key, value in data.items():
        full = f"{path}.{key}" if path else key
        if key not in allowed:
            raise RigDojoError(f"unknown key {full!r}; allowed keys{' in [' + path + ']' if path else ''}: "
                               f"{', '.join(allowed)}")
        values[key] = _convert(hints[key], value, full)
    return cls(**values)


def _convert(hint: Any, value: Any, path: str) -> Any:
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, path)
    if origin is list:
        (item,) = typing.get_args(hint)
        if not isinstance(value, list):
            raise RigDojoError(f"{path}: expected a list, found {_type_name(value)} ({value!r})")
        return [_convert(item, v, f"{path}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise RigDojoError(f"{path}: expected a table, found {_type_name(value)} ({value!r})")
        return dict(value)
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise RigDojoError(f"{path}: expected float, found {_type_name(value)} ({value!r})")
        return float(value)
    if hint in (int, str, bool):
        if type(value) is not hint:
            raise RigDojoError(f"{path}: expected {_TYPE_NAMES[hint]}, found {_type_name(value)} ({value!r})")
        return value
    raise TypeError(f"TrainConfig field {path} has an unsupported type {hint!r}")  # a bug in this module


# -- writing: a small TOML emitter for the values a TrainConfig holds ---------------------
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _key(key: str) -> str:
    return key if _BARE_KEY.match(key) else _string(key)


def _string(text: str) -> str:
    out = ['"']
    for ch in text:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)  # shortest repr round-trips exactly; always has '.', 'e' or is inf/nan
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_key(str(k))} = {_value(v)}" for k, v in value.items()) + "}"
    raise RigDojoError(f"cannot write {type(value).__name__} value {value!r} to TOML")


def _is_table_array(value: Any) -> bool:
    return isinstance(value, list) and len(value) > 0 and all(isinstance(v, dict) for v in value)


def _emit_table(table: dict[str, Any], path: list[str], lines: list[str]) -> None:
    # Plain values first (they belong to the current header), then sub-tables, then arrays
    # of tables. Dicts that hold only plain values and live in arrays are written inline.
    def nested(v: Any) -> bool:
        return (isinstance(v, dict) and len(v) > 0) or _is_table_array(v)

    for key, value in table.items():
        if not nested(value):
            lines.append(f"{_key(key)} = {_value(value)}")
    for key, value in table.items():
        if isinstance(value, dict) and value:
            sub = path + [_key(key)]
            lines += ["", f"[{'.'.join(sub)}]"]
            _emit_table(value, sub, lines)
    for key, value in table.items():
        if _is_table_array(value):
            sub = path + [_key(key)]
            for item in value:
                lines += ["", f"[[{'.'.join(sub)}]]"]
                _emit_table(item, sub, lines)
