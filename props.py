"""Property groups stored in the .blend: they mirror ``TrainConfig`` (agents/config.py).

``Scene.rig_dojo`` (:class:`RigDojoSettings`) holds one training's settings, so they
are saved with the file. :func:`settings_to_config` and :func:`config_to_settings`
turn them into the same ``TrainConfig`` (and TOML) the command line uses, and back.

What the UI stores differently from the config, and why:

- bone lists (controls, tracked) are comma-separated text: easy to type and paste;
- objects are pointers (they follow renames); the config holds their names;
- reward-term parameters are one item per parameter with a typed value slot, filled
  with every parameter of the term (defaults included), so a term's parameters are
  all visible and editable; an exported config therefore lists every parameter;
- Blender stores floats in single precision: floats are written to the config rounded
  to 7 significant digits, so 0.05 exports as 0.05, not 0.05000000074505806;
- an empty reward list means "the task's default terms", as in the config.

The camera task's settings (``settings.camera``) and the physics tasks' (``settings.physics``)
mirror the ``[camera]`` and ``[physics]`` tables the same way: an empty camera means the
scene's camera, the shot is the scene's frame range unless "Scene Frame Range" is off,
obstacle names and the obstacle course's heights are comma-separated text.

Bake and evaluation options are UI-only (they are not part of a training's config).
"""

import contextlib
import dataclasses
import json
import math

import bpy
from bpy.props import (
    BoolProperty,
    CollectionProperty,
    EnumProperty,
    FloatProperty,
    FloatVectorProperty,
    IntProperty,
    PointerProperty,
    StringProperty,
)
from bpy.types import PropertyGroup

from .agents.config import (
    ALGORITHMS,
    CAMERA_MODES,
    CAMERA_TASKS,
    CONTINUOUS_ONLY,
    DISCRETE_ONLY,
    FRAMING_POINTS,
    KINEMATIC_TASKS,
    LR_SCHEDULES,
    PHYSICS_TASKS,
    RADIUS_SOURCES,
    ROOT_MOTION,
    SEARCH_ALGORITHMS,
    AlgoConfig,
    CameraConfig,
    PhysicsConfig,
    TrainConfig,
    defaults_for,
)
from .errors import RigDojoError

TASKS = (
    ('reach', "Reach", "Move the effector bone to a target (a still or animated object, or random points in a region)"),
    ('aim', "Aim", "Point an axis of the effector bone at a target (a head looking, a gun aiming)"),
    ('grasp', "Grasp", "Bring the fingertips onto the surface of a mesh object"),
    ('camera', "Camera", "Move a camera over the shot so it keeps an animated subject framed, smooth and unobstructed"),
    ('stand', "Stand", "Physics: keep the creature upright and balanced (MuJoCo)"),
    ('locomotion', "Locomotion", "Physics: move along a direction at a target speed without falling (MuJoCo)"),
    ('jump', "Jump", "Physics: jump up and land upright (MuJoCo)"),
    ('obstacles', "Obstacles", "Physics: get over obstacles that grow as the creature succeeds (MuJoCo)"),
)
ALGORITHM_LABELS = {"ppo": "PPO", "a2c": "A2C", "sac": "SAC", "td3": "TD3", "dqn": "DQN", "qlearning": "Q-learning",
                    "cem": "CEM"}
ALGORITHM_HELP = {
    "ppo": "Proximal Policy Optimization: robust default for continuous or discrete actions",
    "a2c": "Advantage Actor-Critic: simple and fast per step, less sample-efficient",
    "sac": "Soft Actor-Critic: sample-efficient, continuous actions only",
    "td3": "Twin Delayed DDPG: sample-efficient, continuous actions only",
    "dqn": "Deep Q-Network: discrete actions only",
    "qlearning": "Tabular Q-learning: tiny discrete toy tasks only",
    "cem": "Cross-entropy search for a linear camera policy: the camera task's default, fast without a GPU",
}
FRAMING_LABELS = {"center": "Center", "left_third": "Left Third", "right_third": "Right Third",
                  "nearest_third": "Nearest Third"}
FRAMING_HELP = {
    "center": "Keep the subject at the centre of the frame",
    "left_third": "Keep the subject on the left vertical third line (rule of thirds)",
    "right_third": "Keep the subject on the right vertical third line (rule of thirds)",
    "nearest_third": "Keep the subject on whichever third line is nearer",
}
CAMERA_MODE_HELP = {"free": "The camera moves and turns", "dolly": "The camera moves only (its rotation is kept)",
                    "pan": "The camera turns only (it stays in place)"}
RADIUS_HELP = {"length": "Capsule radius proportional to the bone's length (Radius Ratio)",
               "envelope": "Capsule radius from the bone's envelope radius",
               "bbone": "Capsule radius from the bone's B-Bone display size"}
ROOT_MOTION_HELP = {"bone": "Bake the creature's travel to the root bone's location and rotation",
                    "object": "Bake the creature's travel to the armature object's location and rotation"}
# Blender 4.5+ warns about "//" in path properties unless they say they accept it; 4.2 lacks the option.
_RELATIVE_PATH = {'PATH_SUPPORTS_BLEND_RELATIVE'} \
    if "is_path_supports_blend_relative" in bpy.types.Property.bl_rna.properties else set()
PARAM_KINDS = (('float', "Float", ""), ('int', "Integer", ""), ('bool', "Boolean", ""), ('choice', "Choice", ""))

_PPO = defaults_for("ppo")
_CAMERA = CameraConfig()
_PHYSICS = PhysicsConfig()


def task_family(task: str) -> str:
    """``'kinematic'`` (reach, aim, grasp), ``'camera'`` or ``'physics'`` (stand, locomotion, jump, obstacles)."""
    if task in CAMERA_TASKS:
        return 'camera'
    if task in PHYSICS_TASKS:
        return 'physics'
    return 'kinematic'


def task_default_terms(task: str, framing: str = "center") -> list:
    """The reward terms ``task`` starts with (the camera's depend on its framing point)."""
    family = task_family(task)
    if family == 'camera':
        from .envs.camera.task import default_camera_terms

        return default_camera_terms(framing)
    if family == 'physics':
        from .envs.physics.task import DEFAULT_TERMS

        return list(DEFAULT_TERMS[task])
    from .envs.kinematic.task_spec import default_terms

    return default_terms(task)


def settings_default_terms(settings) -> list:
    """The default reward terms of the task ``settings`` (a :class:`RigDojoSettings`) describe."""
    return task_default_terms(settings.task, settings.camera.framing)

# Update callbacks (task → default terms, algorithm → its tuned hyperparameters) are
# for the user's clicks; config_to_settings writes every field itself.
_suspended = 0


@contextlib.contextmanager
def updates_suspended():
    global _suspended
    _suspended += 1
    try:
        yield
    finally:
        _suspended -= 1


def _f(value: float) -> float:
    """A single-precision property value as the number the user typed (7 significant digits)."""
    value = float(value)
    return float(f"{value:.7g}") if math.isfinite(value) else value


def split_names(text: str) -> list[str]:
    """``"upper_arm, forearm"`` → ``["upper_arm", "forearm"]`` (blanks and duplicates dropped)."""
    return list(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))


def join_names(names) -> str:
    return ", ".join(names)


# -- reward terms ---------------------------------------------------------------------------

_choice_cache: dict[str, list[tuple[str, str, str]]] = {}  # Blender needs the item strings kept alive


def _param_choice_items(self, _context):
    key = self.choices
    if key not in _choice_cache:
        _choice_cache[key] = [(c, c, "") for c in key.split(",") if c] or [('NONE', "(none)", "")]
    return _choice_cache[key]


def _clamp_float(self, _context):
    value = self.float_value
    if self.has_min and value < self.min_value:
        self.float_value = self.min_value
    elif self.has_max and value > self.max_value:
        self.float_value = self.max_value


def _clamp_int(self, _context):
    value = self.int_value
    if self.has_min and value < math.ceil(self.min_value):
        self.int_value = math.ceil(self.min_value)
    elif self.has_max and value > math.floor(self.max_value):
        self.int_value = math.floor(self.max_value)


class RigDojoRewardParam(PropertyGroup):
    """One parameter of a reward term: its name (``name``), kind and a value slot per kind."""

    kind: EnumProperty(name="Kind", items=PARAM_KINDS, default='float')
    float_value: FloatProperty(name="Value", precision=4, update=_clamp_float)
    int_value: IntProperty(name="Value", update=_clamp_int)
    bool_value: BoolProperty(name="Value")
    choice_value: EnumProperty(name="Value", items=_param_choice_items)
    choices: StringProperty(name="Choices", description="The allowed values of a choice parameter, comma-separated")
    has_min: BoolProperty()
    has_max: BoolProperty()
    min_value: FloatProperty()
    max_value: FloatProperty()

    def value(self):
        if self.kind == 'float':
            return _f(self.float_value)
        if self.kind == 'int':
            return int(self.int_value)
        if self.kind == 'bool':
            return bool(self.bool_value)
        return self.choice_value

    def set_value(self, value) -> None:
        if self.kind == 'float':
            self.float_value = float(value)
        elif self.kind == 'int':
            self.int_value = int(value)
        elif self.kind == 'bool':
            self.bool_value = bool(value)
        else:
            self.choice_value = str(value)


class RigDojoRewardTerm(PropertyGroup):
    """A reward term: ``name`` is the registry name (rewards/registry.py)."""

    enabled: BoolProperty(name="Enabled", description="Use this term in the reward", default=True)
    weight: FloatProperty(name="Weight", description="How much this term counts in the reward", default=1.0,
                          precision=3, soft_min=0.0, soft_max=10.0)
    params: CollectionProperty(type=RigDojoRewardParam)

    def param_values(self) -> dict:
        return {p.name: p.value() for p in self.params}


def fill_term(item: RigDojoRewardTerm, name: str, weight: float = 1.0, enabled: bool = True,
              params: dict | None = None) -> None:
    """Set ``item`` to the registry term ``name`` with every parameter (defaults filled in).

    Raises RigDojoError for an unknown term or a bad parameter (before changing ``item``).
    """
    from .rewards import get_term, validate_params

    term = get_term(name)
    values = validate_params(name, params)
    item.name = name
    item.weight = float(weight)
    item.enabled = bool(enabled)
    item.params.clear()
    for p in term.params:
        slot = item.params.add()
        slot.name = p.name
        slot.kind = p.kind
        slot.choices = ",".join(p.choices)
        slot.has_min, slot.has_max = p.min is not None, p.max is not None
        slot.min_value = p.min if p.min is not None else 0.0
        slot.max_value = p.max if p.max is not None else 0.0
        slot.set_value(values[p.name])


def set_terms(settings, terms) -> None:
    """Replace the reward list with ``terms`` (RewardTermConfig or TermConfig), all checked first."""
    from .rewards import validate_params

    for i, t in enumerate(terms):
        try:
            validate_params(t.name, t.params)
        except RigDojoError as exc:
            raise RigDojoError(f"rewards[{i}]: {exc}") from None
    settings.rewards.clear()
    for t in terms:
        fill_term(settings.rewards.add(), t.name, t.weight, t.enabled, t.params)
    settings.reward_index = 0


def _same_terms(settings, terms) -> bool:
    from .rewards import validate_params

    if len(settings.rewards) != len(terms):
        return False
    for item, t in zip(settings.rewards, terms):
        if (item.name != t.name or item.enabled != t.enabled or abs(item.weight - t.weight) > 1e-6
                or item.param_values() != validate_params(t.name, t.params)):
            return False
    return True


def terms_are_task_defaults(settings) -> bool:
    """True if the reward list is empty or some task's default terms, unedited."""
    if len(settings.rewards) == 0:
        return True
    defaults = [task_default_terms(kind) for kind, _, _ in TASKS if kind not in CAMERA_TASKS]
    defaults += [task_default_terms(CAMERA_TASKS[0], point) for point in FRAMING_POINTS]
    return any(_same_terms(settings, terms) for terms in defaults)


def algorithms_for(task: str) -> tuple[str, ...]:
    """The algorithms that can train ``task``: every SB3 one for the rig tasks; the continuous ones and
    cem for the camera; the continuous ones for physics (camera and physics actions are continuous)."""
    if task in KINEMATIC_TASKS:
        return ALGORITHMS
    continuous = tuple(a for a in ALGORITHMS if a not in DISCRETE_ONLY)
    return continuous + SEARCH_ALGORITHMS if task in CAMERA_TASKS else continuous


def default_algorithm(task: str) -> str:
    return "cem" if task in CAMERA_TASKS else "ppo"


def tuned_algo(name: str, task: str) -> AlgoConfig:
    """The tuned hyperparameters of the algorithm ``name`` for ``task``: what picking the algorithm (or
    the task, while the hyperparameters are untouched) loads. The one place the sidebar asks for them."""
    return defaults_for(name, task)


def _algo_is_default(algo) -> bool:
    """True if the hyperparameters are the tuned ones of the chosen algorithm for some task (unedited)."""
    try:
        config = _algo_config(algo)
    except RigDojoError:
        return False
    return any(config == tuned_algo(algo.name, task) for task, _, _ in TASKS)


def _task_changed(self, _context):
    if _suspended:
        return
    # a new task starts with its own default terms, unless the user has edited the list
    if terms_are_task_defaults(self):
        set_terms(self, settings_default_terms(self))
    # and with an algorithm that can train it: the task's default, unless the user tuned one that still fits
    with _every_algorithm():  # the stored choice may be one the new task does not offer (cem): read it quietly
        current = self.algo.name
        untouched = _algo_is_default(self.algo)
    wanted = default_algorithm(self.task)
    if current not in algorithms_for(self.task) or (untouched and current in ("ppo", "cem") and current != wanted):
        self.algo.name = wanted  # loads its tuned settings for this task
    elif untouched:
        apply_algo(self.algo, tuned_algo(current, self.task))  # the same algorithm, tuned for this task
    if self.task not in KINEMATIC_TASKS:
        self.discrete = False  # camera and physics actions are continuous


def _framing_changed(self, _context):
    # the camera's default terms aim at the framing point: keep them in step while they are unedited
    settings = getattr(self.id_data, "rig_dojo", None)
    if _suspended or settings is None or settings.task not in CAMERA_TASKS or not terms_are_task_defaults(settings):
        return
    set_terms(settings, task_default_terms(settings.task, self.framing))


# -- algorithm ------------------------------------------------------------------------------

def _algo_changed(self, _context):
    # each algorithm starts from its tuned hyperparameters (agents/README.md: the defaults are the product)
    if _suspended:
        return
    settings = getattr(self.id_data, "rig_dojo", None)
    apply_algo(self, tuned_algo(self.name, settings.task if settings is not None else "reach"))
    if settings is not None:
        if self.name in DISCRETE_ONLY:
            settings.discrete = True
        elif self.name in CONTINUOUS_ONLY:
            settings.discrete = False


def apply_algo(group, algo: AlgoConfig) -> None:
    with updates_suspended():
        group.name = algo.name
        group.learning_rate = algo.learning_rate
        group.lr_schedule = algo.lr_schedule
        group.gamma = algo.gamma
        group.n_envs = algo.n_envs
        group.total_steps = algo.total_steps
        group.minutes = algo.minutes
        group.batch_size = algo.batch_size
        group.n_steps = algo.n_steps
        group.n_epochs = algo.n_epochs
        group.net_arch = ", ".join(str(n) for n in algo.net_arch)
        group.seed = algo.seed
        group.extra = json.dumps(algo.extra)


# Fixed numbers keep the stored value stable whichever items a task shows (a .blend stores the number).
_ALGORITHM_ITEMS = {a: (a, ALGORITHM_LABELS[a], ALGORITHM_HELP[a], i)
                    for i, a in enumerate(ALGORITHMS + SEARCH_ALGORITHMS)}
_algorithm_items_cache: dict[tuple[str, ...], list] = {}  # Blender needs the item strings kept alive


_offer_all = 0


@contextlib.contextmanager
def _every_algorithm():
    global _offer_all
    _offer_all += 1
    try:
        yield
    finally:
        _offer_all -= 1


def _algorithm_items(self, _context):
    settings = getattr(self.id_data, "rig_dojo", None) if self is not None else None
    names = algorithms_for(settings.task) if settings is not None and not _offer_all \
        else ALGORITHMS + SEARCH_ALGORITHMS
    if names not in _algorithm_items_cache:
        _algorithm_items_cache[names] = [_ALGORITHM_ITEMS[a] for a in names]
    return _algorithm_items_cache[names]


class RigDojoAlgoSettings(PropertyGroup):
    """Mirrors ``AlgoConfig``; defaults are PPO's tuned ones."""

    name: EnumProperty(
        name="Algorithm", description="The learning algorithm (picking one loads its tuned settings; CEM, a policy "
        "search, is offered for the camera task only, where it is the default)",
        items=_algorithm_items, default=_ALGORITHM_ITEMS[_PPO.name][3], update=_algo_changed)
    learning_rate: FloatProperty(name="Learning Rate", description="Step size of the optimiser",
                                 default=_PPO.learning_rate, min=1e-7, soft_max=0.01, precision=6, step=0.001)
    lr_schedule: EnumProperty(name="Schedule", description="How the learning rate changes over the run",
                              items=[(s, s.capitalize(), "") for s in LR_SCHEDULES], default=_PPO.lr_schedule)
    gamma: FloatProperty(name="Gamma", description="Discount factor: how far ahead the policy plans",
                         default=_PPO.gamma, min=0.0, max=1.0, precision=4)
    n_envs: IntProperty(name="Environments", description="Environments stepped side by side",
                        default=_PPO.n_envs, min=1, soft_max=256)
    total_steps: IntProperty(name="Steps", description="Training budget in environment steps (0: no step limit)",
                             default=_PPO.total_steps, min=0, step=1000)
    minutes: FloatProperty(name="Minutes", description="Training budget in minutes of training time (0: no time limit)",
                           default=_PPO.minutes, min=0.0, soft_max=120.0, precision=1)
    batch_size: IntProperty(name="Batch Size", description="Samples per gradient step",
                            default=_PPO.batch_size, min=1)
    n_steps: IntProperty(name="Rollout Steps",
                         description="Steps per environment between updates (PPO, A2C) or train frequency (SAC, TD3, DQN)",
                         default=_PPO.n_steps, min=1)
    n_epochs: IntProperty(name="Epochs", description="PPO epochs per update, or gradient steps for SAC, TD3, DQN",
                          default=_PPO.n_epochs, min=1)
    net_arch: StringProperty(name="Network", description="Hidden layer sizes, comma-separated (e.g. 64, 64)",
                             default=", ".join(str(n) for n in _PPO.net_arch))
    seed: IntProperty(name="Seed", description="Random seed: the same seed and settings give the same run",
                      default=_PPO.seed, min=0)
    extra: StringProperty(name="Extra", description="Algorithm-specific options as a JSON object "
                          "(e.g. {\"gae_lambda\": 0.95})", default=json.dumps(_PPO.extra))


class RigDojoCurriculumStage(PropertyGroup):
    region_scale: FloatProperty(name="Region Scale", description="Fraction of the region targets are drawn from",
                                default=1.0, min=0.0, max=1.0)
    tolerance: FloatProperty(name="Tolerance", description="Success distance at this stage (chain lengths)",
                             default=0.02, min=0.0, precision=3)


class RigDojoBakeSettings(PropertyGroup):
    """Bake and evaluation options (UI-only: not part of a training's config)."""

    policy_path: StringProperty(name="Policy", subtype='FILE_PATH', options=_RELATIVE_PATH,
                                description="A .rdpolicy file to use; empty: the last run's final policy")
    use_scene_range: BoolProperty(name="Scene Frame Range", default=True,
                                  description="Bake the scene's frame range")
    frame_start: IntProperty(name="Start", default=1)
    frame_end: IntProperty(name="End", default=120)
    action_name: StringProperty(name="Action Name", description="Name of the new Action (empty: a name from the rig)")
    use_reduce: BoolProperty(name="Reduce Keys", description="Keep as few keys as the tolerance allows")
    reduce_degrees: FloatProperty(name="Tolerance", description="Largest rotation error of the reduced keys (degrees)",
                                  default=0.5, min=0.001, soft_max=5.0, precision=3)
    use_replace: BoolProperty(name="Replace an Action", description="Write into an existing Action instead of a new "
                              "one (its other curves are kept)")
    replace_action: StringProperty(name="Action", description="The Action to replace the rotation curves of")
    use_scene_settings: BoolProperty(
        name="Use Current Settings",
        description="Roll out on the rig and target set in Rig & Task now instead of those the policy was trained "
                    "with (the policy must still fit)")
    seed: IntProperty(name="Seed", description="Seed of the rollout (random targets)", default=0, min=0)
    eval_episodes: IntProperty(name="Episodes", description="Episodes to evaluate the policy on", default=16,
                               min=1, soft_max=256)


def _is_armature(_self, obj) -> bool:
    return obj.type == 'ARMATURE'


def _add_tracked(self, _context):
    name = self.tracked_pick
    if name:
        names = split_names(self.tracked)
        if name not in names:
            self.tracked = join_names([*names, name])
        self.tracked_pick = ""


def _is_camera(_self, obj) -> bool:
    return obj.type == 'CAMERA'


def _add_obstacle(self, _context):
    name = self.obstacle_pick
    if name:
        names = split_names(self.obstacles)
        if name not in names:
            self.obstacles = join_names([*names, name])
        self.obstacle_pick = ""


class RigDojoCameraSettings(PropertyGroup):
    """Mirrors ``CameraConfig`` (the ``[camera]`` table): the camera task's shot and how the camera may move."""

    camera: PointerProperty(name="Camera", type=bpy.types.Object, poll=_is_camera,
                            description="The camera to move (empty: the scene's camera); only cameras can be picked")
    subject: PointerProperty(name="Subject", type=bpy.types.Object,
                             description="The animated object the camera keeps framed (an armature: pick a bone too)")
    bone: StringProperty(name="Bone", description="The subject armature's bone to frame (empty: the object's origin)")
    use_scene_range: BoolProperty(name="Scene Frame Range", default=True,
                                  description="The shot is the scene's frame range; turn off to give Start and End")
    frame_start: IntProperty(name="Start", description="First frame of the shot", default=1)
    frame_end: IntProperty(name="End", description="Last frame of the shot (after Start)", default=120)
    mode: EnumProperty(name="Mode", description="How the camera may move",
                       items=[(m, m.capitalize(), CAMERA_MODE_HELP[m]) for m in CAMERA_MODES], default=_CAMERA.mode)
    framing: EnumProperty(name="Framing", description="Where in the frame the subject is kept",
                          items=[(f, FRAMING_LABELS[f], FRAMING_HELP[f]) for f in FRAMING_POINTS],
                          default=_CAMERA.framing, update=_framing_changed)
    use_lens: BoolProperty(name="Animate Lens", default=_CAMERA.use_lens,
                           description="Let the policy change the focal length too (keyed on the camera data)")
    allow_roll: BoolProperty(name="Allow Roll", default=_CAMERA.allow_roll,
                             description="Let the camera roll about its view axis (off: the horizon stays level)")
    region: PointerProperty(name="Region", type=bpy.types.Object,
                            description="The camera stays inside this object's bounds (empty: a box around the shot)")
    tolerance: FloatProperty(name="Framing Tolerance", default=_CAMERA.tolerance, min=1e-6, soft_max=0.5,
                             precision=3, description="Distance from the framing point (image units) that counts "
                                                      "as framed")
    start_noise: FloatProperty(name="Start Noise", default=_CAMERA.start_noise, min=0.0, soft_max=0.5, precision=3,
                               description="Random start offset while training (in shot sizes; 0: always start "
                                           "from the camera's pose)")
    occlusion: BoolProperty(name="Occlusion", default=_CAMERA.occlusion,
                            description="Trace rays to the subject to find when something hides it")


class RigDojoPhysicsSettings(PropertyGroup):
    """Mirrors ``PhysicsConfig`` (the ``[physics]`` table): the creature's physical parameters and the task's."""

    root: StringProperty(name="Root Bone", description="The bone that floats free (empty: the armature's only "
                                                        "top-level bone)")
    density: FloatProperty(name="Density", description="Mass per volume of every bone's capsule (kg/m³; water "
                           "is 1000)", default=_PHYSICS.density, min=1e-3, soft_max=5000.0, precision=1)
    strength: FloatProperty(name="Strength", description="Multiplier of every joint motor's strength",
                            default=_PHYSICS.strength, min=0.0, soft_max=10.0, precision=3)
    friction: FloatProperty(name="Friction", description="Friction of the feet on the ground and the obstacles",
                            default=_PHYSICS.friction, min=0.0, soft_max=3.0, precision=3)
    radius_source: EnumProperty(name="Radius From", description="Where each capsule's radius comes from (a bone's "
                                "rig_dojo_radius custom property overrides it)",
                                items=[(r, r.capitalize() if r != "bbone" else "B-Bone Size", RADIUS_HELP[r])
                                       for r in RADIUS_SOURCES], default=_PHYSICS.radius_source)
    radius_ratio: FloatProperty(name="Radius Ratio", description="Capsule radius as a fraction of the bone's length "
                                "(Radius From: Length)", default=_PHYSICS.radius_ratio, min=1e-4, soft_max=0.5,
                                precision=3)
    root_motion: EnumProperty(name="Root Motion", description="Where the bake writes the creature's travel",
                              items=[(r, "Root Bone" if r == "bone" else "Object", ROOT_MOTION_HELP[r])
                                     for r in ROOT_MOTION], default=_PHYSICS.root_motion)
    obstacles: StringProperty(name="Obstacles", description="Objects that become obstacle boxes, comma-separated "
                              "(empty: the objects with a rig_dojo_obstacle custom property)")
    obstacle_pick: StringProperty(name="Add Obstacle", description="Pick an object to add to the obstacles",
                                  update=_add_obstacle)
    platform: PointerProperty(name="Platform", type=bpy.types.Object,
                              description="An animated mesh that becomes a moving box the creature stands on")
    episode_seconds: FloatProperty(name="Episode Seconds", description="Length of a training episode in seconds",
                                   default=_PHYSICS.episode_seconds, min=1e-3, soft_max=60.0, precision=2)
    substeps: IntProperty(name="Substeps", description="Physics steps per frame", default=_PHYSICS.substeps, min=1,
                          soft_max=64)
    direction: FloatVectorProperty(name="Direction", description="Direction to travel in (horizontal; locomotion "
                                   "and obstacles)", size=3, default=tuple(_PHYSICS.direction), subtype='XYZ')
    target_speed: FloatProperty(name="Target Speed", description="Wanted forward speed in body sizes per second",
                                default=_PHYSICS.target_speed, min=1e-3, soft_max=10.0, precision=2)
    fall_height: FloatProperty(name="Fall Height", description="An episode ends when the root drops below this "
                               "fraction of its rest height", default=_PHYSICS.fall_height, min=1e-3, max=1.0,
                               precision=2)
    max_tilt_degrees: FloatProperty(name="Max Tilt", description="An episode ends when the creature tilts more "
                                    "than this many degrees from upright", default=_PHYSICS.max_tilt_degrees,
                                    min=1e-3, max=180.0, precision=1)
    reset_noise: FloatProperty(name="Reset Noise", description="Random joint angles at the start of an episode "
                               "(radians)", default=_PHYSICS.reset_noise, min=0.0, soft_max=0.5, precision=3)
    push: FloatProperty(name="Push", description="Random spin of the root at the start of an episode (rad/s, "
                        "standard deviation; 0: none)", default=_PHYSICS.push, min=0.0, soft_max=5.0, precision=3)
    jump_height: FloatProperty(name="Jump Height", description="Rise of the centre of mass (body sizes) that counts "
                               "as a jump", default=_PHYSICS.jump_height, min=1e-3, soft_max=2.0, precision=3)
    obstacle_heights: StringProperty(name="Obstacle Heights", description="The obstacle course's stages: the "
                                     "obstacle's height at each (body sizes), comma-separated, growing",
                                     default=", ".join(repr(h) for h in _PHYSICS.obstacle_heights))
    obstacle_distance: FloatProperty(name="Obstacle Distance", description="How far ahead the obstacle stands "
                                     "(body sizes)", default=_PHYSICS.obstacle_distance, min=1e-3, soft_max=10.0,
                                     precision=2)
    action_scale: FloatProperty(name="Action Scale", description="How far from rest toward a joint limit a full "
                                "action asks the servo to go; 0 uses the task's default (0.5 for walking)",
                                default=_PHYSICS.action_scale, min=0.0, max=1.0, precision=2)


class RigDojoSettings(PropertyGroup):
    """One training's settings, saved in the .blend (``Scene.rig_dojo``)."""

    rig: PointerProperty(
        name="Rig",
        description="The armature to train; only armatures can be picked",
        type=bpy.types.Object,
        poll=_is_armature,
    )
    task: EnumProperty(name="Task", items=TASKS, default='reach', update=_task_changed,
                       description="What the rig learns to do (changing it loads the task's default reward terms "
                                   "unless you edited them)")
    controls: StringProperty(name="Controls",
                             description="The bones the policy turns, comma-separated, parents first")
    control_collection: StringProperty(name="Bone Collection",
                                       description="A bone collection whose bones become the controls")
    effector: StringProperty(name="Effector",
                             description="The bone that reaches (its tail), aims (an axis) or holds the palm")
    tracked: StringProperty(name="Tracked",
                            description="More bones to track, comma-separated (for grasp: the fingertips)")
    tracked_pick: StringProperty(name="Add Tracked Bone", description="Pick a bone to add to the tracked bones",
                                 update=_add_tracked)
    target: PointerProperty(name="Target", type=bpy.types.Object,
                            description="The object to reach or aim at (animated objects are followed frame by "
                                        "frame); for grasp, the mesh to grip")
    region: PointerProperty(name="Region", type=bpy.types.Object,
                            description="Targets are drawn at random inside this object's box (overrides Target "
                                        "for training reach and aim)")
    episode_length: IntProperty(name="Episode Length", description="Steps per episode (an animated target uses its "
                                "frame count)", default=64, min=1, soft_max=1000)
    discrete: BoolProperty(name="Discrete Actions", description="Each control turns by a fixed step: needed by DQN "
                           "and Q-learning, refused by SAC and TD3")
    tolerance: FloatProperty(name="Success Tolerance", description="Success distance in chain lengths (aim: radians)",
                             default=0.02, min=1e-6, soft_max=0.5, precision=3)
    rewards: CollectionProperty(type=RigDojoRewardTerm)
    reward_index: IntProperty(name="Active Term", default=0, min=0)
    algo: PointerProperty(type=RigDojoAlgoSettings)
    curriculum_enabled: BoolProperty(name="Curriculum", description="Start with easy targets and advance by stages")
    curriculum_threshold: FloatProperty(name="Advance At", description="Success rate that advances a stage",
                                        default=0.8, min=0.0, max=1.0, subtype='FACTOR')
    curriculum_stages: CollectionProperty(type=RigDojoCurriculumStage)
    run_dir: StringProperty(name="Run Folder", subtype='DIR_PATH', options=_RELATIVE_PATH,
                            description="Where the run is written (empty: //rig_dojo_runs/<rig>_<time>/ beside the "
                                        ".blend, or a temporary folder for an unsaved file)")
    checkpoint_every: IntProperty(name="Checkpoint Every", description="Steps between checkpoints",
                                  default=20_000, min=1)
    last_run_dir: StringProperty(name="Last Run", subtype='DIR_PATH', options=_RELATIVE_PATH,
                                 description="The run folder of the last training started from this scene")
    bake: PointerProperty(type=RigDojoBakeSettings)
    camera: PointerProperty(type=RigDojoCameraSettings)
    physics: PointerProperty(type=RigDojoPhysicsSettings)
    other_sections: StringProperty(
        name="Other Settings", description="Configuration tables the sidebar does not edit (JSON), kept so an "
        "imported configuration exports unchanged (none today: kept for tables a later version adds)")


classes = (RigDojoRewardParam, RigDojoRewardTerm, RigDojoAlgoSettings, RigDojoCurriculumStage, RigDojoBakeSettings,
           RigDojoCameraSettings, RigDojoPhysicsSettings, RigDojoSettings)


# -- settings ↔ TrainConfig -------------------------------------------------------------------

# The TrainConfig tables the sidebar edits (all of them today); a table a later version adds
# is kept verbatim in ``other_sections`` so a config passes through the .blend without loss.
EDITED_SECTIONS = ("task", "rig", "rewards", "algo", "curriculum", "output", "camera", "physics")
SIDEBAR_TASKS = tuple(t[0] for t in TASKS)


def _algo_config(algo) -> AlgoConfig:
    """The ``AlgoConfig`` of a :class:`RigDojoAlgoSettings` (RigDojoError naming a bad field)."""
    try:
        net_arch = [int(n) for n in algo.net_arch.replace(",", " ").split()]
    except ValueError:
        raise RigDojoError(f"algo.net_arch: {algo.net_arch!r} is not a comma-separated list of layer sizes "
                           "(e.g. 64, 64)") from None
    extra = _json_object(algo.extra, "algo.extra", "{\"gae_lambda\": 0.95}")
    return AlgoConfig(name=algo.name, learning_rate=_f(algo.learning_rate), lr_schedule=algo.lr_schedule,
                      gamma=_f(algo.gamma), n_envs=int(algo.n_envs), total_steps=int(algo.total_steps),
                      minutes=_f(algo.minutes), batch_size=int(algo.batch_size), n_steps=int(algo.n_steps),
                      n_epochs=int(algo.n_epochs), net_arch=net_arch, seed=int(algo.seed), extra=extra)


def _numbers(text: str, what: str, example: str) -> list[float]:
    try:
        return [float(part) for part in text.replace(",", " ").split()]
    except ValueError:
        raise RigDojoError(f"{what}: {text!r} is not a comma-separated list of numbers (e.g. {example})") from None


def _camera_table(cam) -> dict:
    start, end = (0, 0) if cam.use_scene_range else (int(cam.frame_start), int(cam.frame_end))
    return {
        "camera": cam.camera.name if cam.camera else "", "subject": cam.subject.name if cam.subject else "",
        "bone": cam.bone.strip() if cam.subject is not None and cam.subject.type == 'ARMATURE' else "",
        "frame_start": start, "frame_end": end, "mode": cam.mode, "framing": cam.framing,
        "use_lens": bool(cam.use_lens), "allow_roll": bool(cam.allow_roll), "tolerance": _f(cam.tolerance),
        "start_noise": _f(cam.start_noise), "occlusion": bool(cam.occlusion),
        "region": cam.region.name if cam.region else "",
    }


def _physics_table(ph) -> dict:
    return {
        "root": ph.root.strip(), "density": _f(ph.density), "strength": _f(ph.strength), "friction": _f(ph.friction),
        "radius_source": ph.radius_source, "radius_ratio": _f(ph.radius_ratio), "obstacles": split_names(ph.obstacles),
        "platform": ph.platform.name if ph.platform else "", "root_motion": ph.root_motion,
        "episode_seconds": _f(ph.episode_seconds), "substeps": int(ph.substeps),
        "direction": [_f(v) for v in ph.direction], "target_speed": _f(ph.target_speed),
        "fall_height": _f(ph.fall_height), "max_tilt_degrees": _f(ph.max_tilt_degrees),
        "reset_noise": _f(ph.reset_noise), "push": _f(ph.push), "jump_height": _f(ph.jump_height),
        "obstacle_heights": _numbers(ph.obstacle_heights, "physics.obstacle_heights", "0.02, 0.05, 0.08"),
        "obstacle_distance": _f(ph.obstacle_distance), "action_scale": _f(ph.action_scale),
    }


def settings_to_config(settings) -> TrainConfig:
    """The ``TrainConfig`` that ``settings`` (a :class:`RigDojoSettings`, e.g. ``scene.rig_dojo``) describe.

    Raises RigDojoError, naming the field, for settings the config refuses (bad JSON in
    ``extra``, a bad network size, a reward parameter out of range, ...).
    """
    from .rewards import validate_params

    rewards = []
    for i, item in enumerate(settings.rewards):
        try:
            params = validate_params(item.name, item.param_values())
        except RigDojoError as exc:
            raise RigDojoError(f"rewards[{i}]: {exc}") from None
        rewards.append({"name": item.name, "weight": _f(item.weight), "enabled": bool(item.enabled),
                        "params": params})
    data = {
        "task": settings.task,
        "rig": {
            "rig": settings.rig.name if settings.rig else "",
            "controls": split_names(settings.controls),
            "effector": settings.effector.strip(),
            "tracked": split_names(settings.tracked),
            "target": settings.target.name if settings.target else "",
            "region": settings.region.name if settings.region else "",
            "episode_length": int(settings.episode_length),
            # camera and physics actions are continuous (a hidden leftover must not make the config invalid)
            "discrete": bool(settings.discrete) and settings.task in KINEMATIC_TASKS,
            "tolerance": _f(settings.tolerance),
        },
        "rewards": rewards,
        "algo": dataclasses.asdict(_algo_config(settings.algo)),
        "curriculum": {
            "enabled": bool(settings.curriculum_enabled), "threshold": _f(settings.curriculum_threshold),
            "stages": [{"region_scale": _f(st.region_scale), "tolerance": _f(st.tolerance)}
                       for st in settings.curriculum_stages],
        },
        "output": {"run_dir": settings.run_dir, "checkpoint_every": int(settings.checkpoint_every)},
        "camera": _camera_table(settings.camera),
        "physics": _physics_table(settings.physics),
    }
    others = _json_object(settings.other_sections, "other_sections", "{}")
    data.update({k: v for k, v in others.items() if k not in EDITED_SECTIONS})
    return TrainConfig.from_dict(data)  # type-checks every key and validates


def _json_object(text: str, what: str, example: str) -> dict:
    try:
        value = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as exc:
        raise RigDojoError(f"{what} is not valid JSON ({exc.msg}); write an object like {example}") from None
    if not isinstance(value, dict):
        raise RigDojoError(f"{what} must be a JSON object like {example}")
    return value


def _object_for(name: str, what: str, armature: bool = False, kind: str | None = None):
    if not name:
        return None
    obj = bpy.data.objects.get(name)
    if obj is None:
        raise RigDojoError(f"{what}: the object {name!r} is not in this file; open the .blend it was made for "
                           "or change the name in the configuration")
    if armature and obj.type != 'ARMATURE':
        raise RigDojoError(f"{what}: {name!r} is a {obj.type.lower()}, not an armature")
    if kind is not None and obj.type != kind:
        raise RigDojoError(f"{what}: {name!r} is a {obj.type.lower()}, not a {kind.lower()}")
    return obj


def config_to_settings(config: TrainConfig, settings) -> None:
    """Write ``config`` into ``settings`` (a :class:`RigDojoSettings`, e.g. ``scene.rig_dojo``).

    Everything is checked first (objects named in ``config.rig``, ``config.camera`` and
    ``config.physics`` must exist in the open file, reward terms and parameters must be
    known and valid), so on RigDojoError the settings are left as they were.
    """
    from .rewards import validate_params

    config.validate()
    if config.task not in SIDEBAR_TASKS:
        raise RigDojoError(f"task: the sidebar trains {', '.join(SIDEBAR_TASKS)}; train {config.task!r} from the "
                           "command line (rig_dojo train --config FILE)")
    default = TrainConfig()
    others = {f.name: dataclasses.asdict(getattr(config, f.name)) for f in dataclasses.fields(config)
              if f.name not in EDITED_SECTIONS and getattr(config, f.name) != getattr(default, f.name)}
    sel, cam, ph = config.rig, config.camera, config.physics
    rig = _object_for(sel.rig, "rig.rig", armature=True)
    target = _object_for(sel.target, "rig.target")
    region = _object_for(sel.region, "rig.region")
    camera = _object_for(cam.camera, "camera.camera", kind='CAMERA')
    subject = _object_for(cam.subject, "camera.subject")
    camera_region = _object_for(cam.region, "camera.region")
    platform = _object_for(ph.platform, "physics.platform")
    for i, name in enumerate(ph.obstacles):
        _object_for(name, f"physics.obstacles[{i}]")
    for i, t in enumerate(config.rewards):
        try:
            validate_params(t.name, t.params)
        except RigDojoError as exc:
            raise RigDojoError(f"rewards[{i}]: {exc}") from None
    with updates_suspended():
        settings.task = config.task
        settings.rig = rig
        settings.controls = join_names(sel.controls)
        settings.effector = sel.effector
        settings.tracked = join_names(sel.tracked)
        settings.target = target
        settings.region = region
        settings.episode_length = sel.episode_length
        settings.discrete = sel.discrete
        settings.tolerance = sel.tolerance
        set_terms(settings, config.rewards)
        apply_algo(settings.algo, config.algo)
        settings.curriculum_enabled = config.curriculum.enabled
        settings.curriculum_threshold = config.curriculum.threshold
        settings.curriculum_stages.clear()
        for stage in config.curriculum.stages:
            item = settings.curriculum_stages.add()
            item.region_scale, item.tolerance = stage.region_scale, stage.tolerance
        settings.run_dir = config.output.run_dir
        settings.checkpoint_every = config.output.checkpoint_every
        c = settings.camera
        c.camera, c.subject, c.bone, c.region = camera, subject, cam.bone, camera_region
        c.use_scene_range = not (cam.frame_start or cam.frame_end)
        if not c.use_scene_range:
            c.frame_start, c.frame_end = cam.frame_start, cam.frame_end
        c.mode, c.framing, c.use_lens, c.allow_roll = cam.mode, cam.framing, cam.use_lens, cam.allow_roll
        c.tolerance, c.start_noise, c.occlusion = cam.tolerance, cam.start_noise, cam.occlusion
        p = settings.physics
        p.root, p.density, p.strength, p.friction = ph.root, ph.density, ph.strength, ph.friction
        p.radius_source, p.radius_ratio, p.root_motion = ph.radius_source, ph.radius_ratio, ph.root_motion
        p.obstacles, p.platform = join_names(ph.obstacles), platform
        p.episode_seconds, p.substeps, p.direction = ph.episode_seconds, ph.substeps, ph.direction
        p.target_speed, p.fall_height, p.max_tilt_degrees = ph.target_speed, ph.fall_height, ph.max_tilt_degrees
        p.reset_noise, p.push, p.jump_height = ph.reset_noise, ph.push, ph.jump_height
        p.obstacle_heights = ", ".join(repr(float(h)) for h in ph.obstacle_heights)
        p.obstacle_distance = ph.obstacle_distance
        p.action_scale = ph.action_scale
        settings.other_sections = json.dumps(others)


def register() -> None:
    for cls in classes:
        bpy.utils.register_class(cls)
    bpy.types.Scene.rig_dojo = PointerProperty(type=RigDojoSettings)  # type: ignore[attr-defined]


def unregister() -> None:
    del bpy.types.Scene.rig_dojo  # type: ignore[attr-defined]
    for cls in reversed(classes):
        bpy.utils.unregister_class(cls)
