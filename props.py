"""Property groups stored in the .blend, generated from ``TrainConfig`` (agents/config.py).

``Scene.rig_dojo`` (:class:`RigDojoSettings`) holds one training's settings, so they are saved
with the file. Every TrainConfig setting is generated into a property by ``props_config.py``
from its dataclass field (label, tooltip, range, how a name or a list is edited): the rig
selection, the algorithm's hyperparameters, the curriculum and output settings are properties
of ``RigDojoSettings`` itself (flattened, as earlier versions stored them: ``settings.controls``,
``settings.curriculum_threshold`` ...), each family's settings table is a group of its own
(``settings.camera``, ``settings.physics``). :func:`settings_to_config` and
:func:`config_to_settings` turn them into the same ``TrainConfig`` (and TOML) the command line
uses, and back.

What the UI keeps besides the config, and why:

- reward-term parameters are one item per parameter with a typed value slot, filled with every
  parameter of the term (defaults included), so a term's parameters are all visible and editable;
- pickers that only add to a list (``tracked_pick``, a family's extras such as ``obstacle_pick``),
  a bone collection to take controls from, the last run folder;
- a family's own extras (the camera's "Scene Frame Range" switch) come from its edge module;
- an empty reward list means "the task's default terms", as in the config;
- bake and evaluation options (:class:`RigDojoBakeSettings`) are not part of a training's config; a
  family's own bake options (``Family.bake_options``) are generated into it.
"""

import contextlib
import dataclasses
import itertools
import json
import math
from types import SimpleNamespace

import bpy
from bpy.props import (
    BoolProperty,
    CollectionProperty,
    EnumProperty,
    FloatProperty,
    IntProperty,
    PointerProperty,
    StringProperty,
)
from bpy.types import PropertyGroup

from .agents.config import (
    ALGORITHMS,
    CONTINUOUS_ONLY,
    DISCRETE_ONLY,
    SEARCH_ALGORITHMS,
    SETTINGS_TABLES,
    AlgoConfig,
    CurriculumConfig,
    CurriculumStage,
    OutputConfig,
    RigSelection,
    TrainConfig,
    defaults_for,
    has_task_defaults,
)
from .agents.schema import choice_values
from .envs.families import families, family_of, tasks
from .errors import RigDojoError
from .props_config import (
    RELATIVE_PATH,
    add_to_list,
    annotations_for,
    check_objects,
    f7,
    group_class,
    join_names,
    json_object,
    read_table,
    split_names,
    write_table,
)

_f = f7  # kept for callers of earlier versions
__all__ = ["split_names", "join_names"]

TASKS = tuple((t.name, t.label, t.description) for t in tasks())
ALGORITHM_LABELS = {"ppo": "PPO", "sb3_ppo": "PPO (Stable-Baselines3)", "a2c": "A2C", "sac": "SAC", "td3": "TD3",
                    "dqn": "DQN", "qlearning": "Q-learning", "cem": "CEM", "solve": "Solve Shot"}
ALGORITHM_HELP = {
    "ppo": "Proximal Policy Optimization sized to the twin (thousands of environments): the fast default",
    "sb3_ppo": "Stable-Baselines3's PPO (a few environments, small batches; for locomotion, its own tuning)",
    "a2c": "Advantage Actor-Critic: simple and fast per step, less sample-efficient",
    "sac": "Soft Actor-Critic: sample-efficient, continuous actions only",
    "td3": "Twin Delayed DDPG: sample-efficient, continuous actions only",
    "dqn": "Deep Q-Network: discrete actions only",
    "qlearning": "Tabular Q-learning: tiny discrete toy tasks only",
    "cem": "Cross-entropy search for a linear camera policy that reacts to the shot, fast without a GPU",
    "solve": "Solve the camera move over the known shot (path, aim, lens): the camera task's default",
}

PARAM_KINDS = (('float', "Float", ""), ('int', "Integer", ""), ('bool', "Boolean", ""), ('choice', "Choice", ""))
_PPO = defaults_for("ppo", "reach")  # the new scene's task is reach


def task_default_terms(task: str, **follow) -> list:
    """The reward terms ``task`` starts with; ``follow``: the family settings its defaults follow (the
    camera's framing point), e.g. ``task_default_terms("camera", framing="left_third")``."""
    family = family_of(task)
    config = None
    if family.settings:
        table = SETTINGS_TABLES[family.settings]()
        for key, value in follow.items():
            setattr(table, key, value)
        config = SimpleNamespace(**{family.settings: table})
    return family.default_terms(task, config)


def settings_default_terms(settings) -> list:
    """The default reward terms of the task ``settings`` (a :class:`RigDojoSettings`) describe."""
    family = family_of(settings.task)
    follow = {}
    if family.settings:
        group = getattr(settings, family.settings)
        follow = {k: getattr(group, k) for k in family.extra.get("default_terms_follow", ())}
    return task_default_terms(settings.task, **follow)


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


def _follow_values(field) -> tuple:
    """The values of a setting the default terms follow that can give different terms: its choices, or for
    a name, a list or a switch whether it is set at all (the terms follow only that)."""
    values = choice_values(field)
    if values:
        return values
    default = field.default if field.default is not dataclasses.MISSING else field.default_factory()
    return (default, True if isinstance(default, bool) else "set")


def _every_default_term_list():
    for family in families():
        follow = family.extra.get("default_terms_follow", ())
        for task in family.task_names:
            if not follow:
                yield task_default_terms(task)
                continue
            cls = SETTINGS_TABLES[str(family.settings)]
            fields = {f.name: f for f in dataclasses.fields(cls)}
            for values in itertools.product(*(_follow_values(fields[name]) for name in follow)):
                yield task_default_terms(task, **dict(zip(follow, values)))


def terms_are_task_defaults(settings) -> bool:
    """True if the reward list is empty or some task's default terms, unedited."""
    if len(settings.rewards) == 0:
        return True
    return any(_same_terms(settings, terms) for terms in _every_default_term_list())


def algorithms_for(task: str) -> tuple[str, ...]:
    """The algorithms that can train ``task`` (its family says)."""
    return family_of(task).algorithms


def default_algorithm(task: str) -> str:
    return family_of(task).default_algorithm


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


def _algo_is_task_tuned(algo) -> bool:
    """True if the hyperparameters are a task's own tuning (``has_task_defaults``), unedited."""
    try:
        config = _algo_config(algo)
    except RigDojoError:
        return False
    return any(has_task_defaults(config.name, task) and config == tuned_algo(config.name, task)
               for task, _, _ in TASKS)


def _task_changed(self, _context):
    if _suspended:
        return
    # a new task starts with its own default terms, unless the user has edited the list
    if terms_are_task_defaults(self):
        set_terms(self, settings_default_terms(self))
    # and with an algorithm that can train it: the task's default, unless the user tuned one that still fits
    family = family_of(self.task)
    defaults = {f.default_algorithm for f in families()}
    with _every_algorithm():  # the stored choice may be one the new task does not offer (cem): read it quietly
        current = self.algo.name
        untouched = _algo_is_default(self.algo)
        # the algorithm a task brought with it (a family's default, or one with the task's tuning) goes with it
        brought = current in defaults or _algo_is_task_tuned(self.algo)
    wanted = family.default_algorithm
    if current not in family.algorithms or (untouched and brought and current != wanted):
        self.algo.name = wanted  # loads its tuned settings for this task
    elif untouched:
        apply_algo(self.algo, tuned_algo(current, self.task))  # the same algorithm, tuned for this task
    if not family.discrete_actions:
        self.discrete = False  # camera and physics actions are continuous


def _terms_follow_changed(self, _context):
    # a family whose default terms follow one of its settings (the camera's framing point) keeps them in step
    # while they are unedited
    settings = getattr(self.id_data, "rig_dojo", None)
    if _suspended or settings is None or not terms_are_task_defaults(settings):
        return
    if getattr(settings, family_of(settings.task).settings or "", None) != self:
        return
    set_terms(settings, settings_default_terms(settings))


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
        write_table(group, algo, AlgoConfig, skip=("name", "start_from"))  # where a run starts is not a tuning


# Fixed numbers keep the stored value stable whichever items a task shows (a .blend stores the number): an
# algorithm keeps its number forever, so a new one is appended here (sb3_ppo came after cem and solve); one
# missing here (a family's new search algorithm) gets the next free number in ALGORITHMS + SEARCH_ALGORITHMS order
ALGORITHM_NUMBERS = {a: i for i, a in enumerate(("ppo", "a2c", "sac", "td3", "dqn", "qlearning", "cem", "solve",
                                                  "sb3_ppo"))}
for _name in ALGORITHMS + SEARCH_ALGORITHMS:
    ALGORITHM_NUMBERS.setdefault(_name, len(ALGORITHM_NUMBERS))
_ALGORITHM_ITEMS = {a: (a, ALGORITHM_LABELS[a], ALGORITHM_HELP[a], ALGORITHM_NUMBERS[a])
                    for a in ALGORITHMS + SEARCH_ALGORITHMS}
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


_NAME_FIELD = next(f for f in dataclasses.fields(AlgoConfig) if f.name == "name")
RigDojoAlgoSettings = group_class(
    "RigDojoAlgoSettings", AlgoConfig, "Mirrors ``AlgoConfig``; defaults are PPO's tuned ones.",
    defaults=_PPO, skip=("name",),
    extra={"name": EnumProperty(name=_NAME_FIELD.metadata["ui"].label, description=_NAME_FIELD.metadata["ui"].description,
                                items=_algorithm_items, default=_ALGORITHM_ITEMS[_PPO.name][3], update=_algo_changed)})
RigDojoCurriculumStage = group_class("RigDojoCurriculumStage", CurriculumStage, "A curriculum stage.")


class RigDojoBakeSettings(PropertyGroup):
    """Bake and evaluation options (UI-only: not part of a training's config)."""

    policy_path: StringProperty(name="Policy", subtype='FILE_PATH', options=RELATIVE_PATH,
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


def _bake_option_annotations() -> dict:
    """Each family's own bake options (``Family.bake_options``: the rig's "Keys On"), generated from its dataclass."""
    out: dict = {}
    for family in families():
        if family.bake_options is not None:
            generated = annotations_for(family.bake_options)
            assert not set(generated) & set(out), f"{family.name}'s bake options clash with another family's"
            out.update(generated)
    return out


RigDojoBakeSettings.__annotations__.update(_bake_option_annotations())


def _family_group(family) -> type:
    """The property group of a family's settings table: generated from its dataclass, plus its edge's extras."""
    assert family.settings is not None
    cls = SETTINGS_TABLES[family.settings]
    edge = family.edge_hooks()
    name = f"RigDojo{family.settings.title().replace('_', '')}Settings"
    follow = family.extra.get("default_terms_follow", ())
    defaults = cls()
    for key, value in getattr(edge, "SETTINGS_DEFAULTS", {}).items():
        setattr(defaults, key, value)
    group = group_class(name, cls, f"Mirrors ``{cls.__name__}`` (the ``[{family.settings}]`` table).",
                        defaults=defaults, extra=dict(getattr(edge, "SETTINGS_EXTRAS", {})),
                        updates={k: _terms_follow_changed for k in follow})
    return group


FAMILY_GROUPS = {family.settings: _family_group(family) for family in families() if family.settings}
RigDojoCameraSettings = FAMILY_GROUPS.get("camera")  # the names earlier versions exported
RigDojoPhysicsSettings = FAMILY_GROUPS.get("physics")

_settings_annotations = {
    **annotations_for(RigSelection),
    "task": EnumProperty(name="Task", items=TASKS, default='reach', update=_task_changed,
                         description="What the rig learns to do (changing it loads the task's default reward terms "
                                     "unless you edited them)"),
    "control_collection": StringProperty(name="Bone Collection",
                                         description="A bone collection whose bones become the controls"),
    "tracked_pick": StringProperty(name="Add Tracked Bone", description="Pick a bone to add to the tracked bones",
                                   update=add_to_list("tracked", "tracked_pick")),
    "rewards": CollectionProperty(type=RigDojoRewardTerm),
    "reward_index": IntProperty(name="Active Term", default=0, min=0),
    "algo": PointerProperty(type=RigDojoAlgoSettings),
    **annotations_for(CurriculumConfig, prefix="curriculum_"),
    "curriculum_stages": CollectionProperty(type=RigDojoCurriculumStage),
    **annotations_for(OutputConfig),
    "last_run_dir": StringProperty(name="Last Run", subtype='DIR_PATH', options=RELATIVE_PATH,
                                   description="The run folder of the last training started from this scene"),
    "bake": PointerProperty(type=RigDojoBakeSettings),
    **{table: PointerProperty(type=group) for table, group in FAMILY_GROUPS.items()},
    "other_sections": StringProperty(
        name="Other Settings", description="Configuration tables the sidebar does not edit (JSON), kept so an "
        "imported configuration exports unchanged (none today: kept for tables a later version adds)"),
}
RigDojoSettings = type("RigDojoSettings", (PropertyGroup,), {
    "__annotations__": _settings_annotations,
    "__doc__": "One training's settings, saved in the .blend (``Scene.rig_dojo``).",
})

classes = (RigDojoRewardParam, RigDojoRewardTerm, RigDojoAlgoSettings, RigDojoCurriculumStage, RigDojoBakeSettings,
           *FAMILY_GROUPS.values(), RigDojoSettings)


# -- settings ↔ TrainConfig -------------------------------------------------------------------

# The TrainConfig tables the sidebar edits (all of them today); a table a later version adds
# is kept verbatim in ``other_sections`` so a config passes through the .blend without loss.
EDITED_SECTIONS = ("task", "rig", "rewards", "algo", "curriculum", "output", *FAMILY_GROUPS)
SIDEBAR_TASKS = tuple(t[0] for t in TASKS)


def _algo_config(algo) -> AlgoConfig:
    """The ``AlgoConfig`` of a :class:`RigDojoAlgoSettings` (RigDojoError naming a bad field)."""
    table = read_table(algo, AlgoConfig, skip=("name",), path="algo")
    return AlgoConfig(name=algo.name, **table)


def _family_table(settings, family) -> dict:
    group = getattr(settings, family.settings)
    cls = SETTINGS_TABLES[family.settings]
    edge = family.edge_hooks()
    table = read_table(group, cls, path=family.settings)
    if hasattr(edge, "settings_to_table"):
        edge.settings_to_table(group, table)
    return table


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
        rewards.append({"name": item.name, "weight": f7(item.weight), "enabled": bool(item.enabled),
                        "params": params})
    rig = read_table(settings, RigSelection, path="rig")
    # actions of a family without discrete ones are continuous (a hidden leftover must not make the config invalid)
    rig["discrete"] = bool(rig["discrete"]) and family_of(settings.task).discrete_actions
    curriculum = read_table(settings, CurriculumConfig, prefix="curriculum_")
    curriculum["stages"] = [read_table(st, CurriculumStage) for st in settings.curriculum_stages]
    data = {
        "task": settings.task,
        "rig": rig,
        "rewards": rewards,
        "algo": dataclasses.asdict(_algo_config(settings.algo)),
        "curriculum": curriculum,
        "output": read_table(settings, OutputConfig),
        **{f.settings: _family_table(settings, f) for f in families() if f.settings},
    }
    others = json_object(settings.other_sections, "other_sections", "{}")
    data.update({k: v for k, v in others.items() if k not in EDITED_SECTIONS})
    return TrainConfig.from_dict(data)  # type-checks every key and validates


def config_to_settings(config: TrainConfig, settings) -> None:
    """Write ``config`` into ``settings`` (a :class:`RigDojoSettings`, e.g. ``scene.rig_dojo``).

    Everything is checked first (objects named in the config must exist in the open file, reward
    terms and parameters must be known and valid), so on RigDojoError the settings are left as they were.
    """
    from .rewards import validate_params

    config.validate()
    if config.task not in SIDEBAR_TASKS:
        raise RigDojoError(f"task: the sidebar trains {', '.join(SIDEBAR_TASKS)}; train {config.task!r} from the "
                           "command line (rig_dojo train --config FILE)")
    default = TrainConfig()
    others = {f.name: dataclasses.asdict(getattr(config, f.name)) for f in dataclasses.fields(config)
              if f.name not in EDITED_SECTIONS and getattr(config, f.name) != getattr(default, f.name)}
    rig_objects = check_objects(config.rig, RigSelection, "rig")
    family_objects = {table: check_objects(getattr(config, table), SETTINGS_TABLES[table], table)
                      for table in FAMILY_GROUPS}
    for table in FAMILY_GROUPS:  # every name in a list of objects (the physics obstacles) must exist too
        _check_object_lists(getattr(config, table), SETTINGS_TABLES[table], table)
    for i, t in enumerate(config.rewards):
        try:
            validate_params(t.name, t.params)
        except RigDojoError as exc:
            raise RigDojoError(f"rewards[{i}]: {exc}") from None
    with updates_suspended():
        settings.task = config.task
        write_table(settings, config.rig, RigSelection, objects=rig_objects)
        set_terms(settings, config.rewards)
        apply_algo(settings.algo, config.algo)
        write_table(settings, config.curriculum, CurriculumConfig, prefix="curriculum_")
        settings.curriculum_stages.clear()
        for stage in config.curriculum.stages:
            write_table(settings.curriculum_stages.add(), stage, CurriculumStage)
        write_table(settings, config.output, OutputConfig)
        for family in families():
            if not family.settings:
                continue
            group, table, edge = getattr(settings, family.settings), getattr(config, family.settings), \
                family.edge_hooks()
            write_table(group, table, SETTINGS_TABLES[family.settings], objects=family_objects[family.settings],
                        skip=getattr(edge, "SETTINGS_WRITE_SKIP", ()))
            if hasattr(edge, "settings_from_table"):
                edge.settings_from_table(group, table)
        settings.other_sections = json.dumps(others)


def _check_object_lists(table, cls, path: str) -> None:
    from .agents.schema import ui_of
    from .props_config import object_named, settings_fields

    for f in settings_fields(cls):
        if ui_of(f).kind == "objects":
            for i, name in enumerate(getattr(table, f.name)):
                object_named(name, f"{path}.{f.name}[{i}]")


def register() -> None:
    for cls in classes:
        bpy.utils.register_class(cls)
    bpy.types.Scene.rig_dojo = PointerProperty(type=RigDojoSettings)  # type: ignore[attr-defined]


def unregister() -> None:
    del bpy.types.Scene.rig_dojo  # type: ignore[attr-defined]
    for cls in reversed(classes):
        bpy.utils.unregister_class(cls)
