"""The policy library: pre-trained starting points shipped with Rig Dojo, and how each is made (no bpy).

``algo.start_from = "library:reach"`` (``--init-from library:reach``, the sidebar's *Start From*) starts a run
from a shipped policy instead of random weights. A library policy reads rig-agnostic observations
(``envs/kinematic/chains.py``: one token per joint in units of the chain), so it drives rigs it never saw; the
run's task is observed the same way (``rig.observation = "chain"``, set when the run starts from it).

Each entry is a weights-only ``.rdpolicy`` (the safe policy format: a zip of metadata.json and weights.npz, never
unpickled) in ``library/`` beside this package, with a JSON recipe beside it: what it was trained on, how,
for how many steps, from which seed. ``./dojo pretrain NAME`` (``python -m rig_dojo pretrain NAME``) rebuilds it.

How ``reach`` and ``aim`` are made (:func:`pretrain_chains`; ``grasp`` the same way on random hands,
``agents/library_grasp.py``): behaviour cloning with DAgger on random chains. Every joint
token carries the joint's share of a damped-least-squares IK step to the target (``step``); the network is
taught to act as that step, clipped to a full action, on the states its own actions lead to (the first rounds
follow the teacher, later rounds the network, each labelled by the teacher). Supervised, so it takes a minute,
where PPO on the same random chains needed millions of steps and still transferred to under half of unseen
chains (``agents/README.md``, "Rig-agnostic reach"). Fine-tuning on the user's rig with our PPO then adds what
IK does not know: the task's other reward terms.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..errors import RigDojoError

PREFIX = "library:"
LIBRARY_DIR = Path(__file__).resolve().parent.parent / "library"


@dataclass(frozen=True)
class LibraryEntry:
    name: str
    task: str  # the task a run must have to start from it
    observation: str  # the run's rig.observation
    summary: str  # one line for the sidebar and --help
    make: Callable[..., tuple[Any, dict]]  # its recipe: ``make(report=...) -> (network, record)``
    # the config and task its file records (``layout(record) -> (TrainConfig, env)``); None: a joint-token chain's
    layout: Callable[[dict], tuple[Any, Any]] | None = None
    # the flags that bind it to the user's scene in a run without training (``refuse_unbound`` shows them)
    bind_flags: str = "--rig RIG --controls BONES --effector BONE --target OBJECT"
    # a random task it drives, ``sample(rng) -> TaskSpec`` (its file records that task's token layout); None: a
    # random chain of its task (envs.kinematic.chains.random_chain_spec)
    sample: Callable[[np.random.Generator], Any] | None = None

    @property
    def path(self) -> Path:
        return LIBRARY_DIR / f"{self.name}.rdpolicy"

    @property
    def recipe_path(self) -> Path:
        return LIBRARY_DIR / f"{self.name}.json"


def entry(source: str) -> LibraryEntry:
    """The entry ``library:NAME`` names; RigDojoError listing the library when it has no such entry."""
    name = source[len(PREFIX):] if source.startswith(PREFIX) else source
    try:
        return ENTRIES[name]
    except KeyError:
        raise RigDojoError(f"{source!r} is not in the policy library; it has "
                           f"{', '.join(PREFIX + n for n in ENTRIES)}") from None


def resolve(source: str | Path) -> Path:
    """The policy file a start names: ``library:NAME`` or a path (RigDojoError when there is no such file)."""
    text = str(source)
    if text.startswith(PREFIX):
        item = entry(text)
        if not item.path.is_file():
            raise RigDojoError(f"the library file {item.path.name} is missing from this install; rebuild it with "
                               f"./dojo pretrain {item.name}")
        return item.path
    path = Path(text).expanduser()
    if not path.is_file():
        raise RigDojoError(f"{text}: no such policy file (start from scratch, {PREFIX}NAME or a .rdpolicy)")
    return path


def open_start(source: str | Path, config: Any) -> Any:
    """Load the policy a run starts from and fit ``config`` to it: a rig-agnostic policy makes the run observe
    joint tokens (``config.rig.observation = "chain"``). Returns the loaded ``PolicyFile``."""
    from .policy_file import is_rig_agnostic, load_policy

    text = str(source)
    if text.startswith(PREFIX):
        item = entry(text)
        if config.task != item.task:
            raise RigDojoError(f"{text} starts {item.task} tasks; this run's task is {config.task}")
    policy = load_policy(resolve(source))
    if is_rig_agnostic(policy.metadata):
        config.rig.observation = "chain"
    elif config.rig.observation == "chain":
        raise RigDojoError(f"{Path(text).name} reads this rig's own observation; set rig.observation = \"full\" "
                           "to fine-tune it")
    return policy


def refuse_unbound(source: str | Path) -> None:
    """RigDojoError when ``source`` (a bake's or an evaluation's ``--policy``) is a library entry or another
    rig-agnostic policy that names no rig: it has no task to act in until a run binds it to one (a run without
    training: ``train --init-from library:reach --zero-shot``)."""
    from .policy_file import is_rig_agnostic, load_policy

    text = str(source)
    if not text.startswith(PREFIX):
        path = Path(text).expanduser()
        if not path.is_file():
            return  # the caller says there is no such file
        policy = load_policy(path)
        if not is_rig_agnostic(policy.metadata) or policy.config.rig.rig:
            return
    name = text if text.startswith(PREFIX) else Path(text).name
    start = text if text.startswith(PREFIX) else str(Path(text).expanduser().resolve())
    start = next((PREFIX + e.name for e in ENTRIES.values() if e.path.resolve() == Path(start).resolve()), start)
    item = ENTRIES.get(start[len(PREFIX):]) if start.startswith(PREFIX) else None
    flags = item.bind_flags if item is not None else LibraryEntry.bind_flags
    raise RigDojoError(f"{name} is not bound to a rig (a library policy has no scene of its own); make a run of it on "
                       f"yours without training, then bake or evaluate that run's final.rdpolicy: python -m "
                       f"rig_dojo train SCENE.blend --init-from {start} --zero-shot {flags}")


# ---- pretraining -------------------------------------------------------------------------------------------
@dataclass
class ChainRecipe:
    """How a joint-token entry (``library:reach``, ``library:aim``) is trained (recorded beside the file;
    ``./dojo pretrain NAME`` repeats it)."""

    task: str = "reach"  # the random chains' task (envs.kinematic.chains.random_chain_spec)
    seed: int = 0
    chains: int = 32  # random chains of 2-8 bones (envs.kinematic.chains.random_chain_spec)
    envs_per_chain: int = 32
    rounds: int = 5  # DAgger rounds: each rolls every chain for one episode and trains on all data so far
    teacher_rounds: int = 1  # the first rounds act as the teacher; the rest as the network (labelled by the teacher)
    action_noise: float = 0.1  # added to the acting policy's actions, so states off the teacher's path are seen
    updates_per_round: int = 300
    minibatch: int = 2048
    learning_rate: float = 1e-3
    max_samples: int = 1_500_000  # the newest samples kept
    log_std: float = -1.6  # the stored policy's exploration (std 0.2 of a full action) for fine-tuning


def teacher_actions(obs: np.ndarray) -> np.ndarray:
    """The IK teacher: each token's ``step`` feature clipped to a full action (padding stays 0)."""
    from ..envs.kinematic.chains import FEATURE_NAMES, FEATURES, MAX_TOKENS

    tokens = obs[:, :MAX_TOKENS * FEATURES].reshape(len(obs), MAX_TOKENS, FEATURES)
    return np.clip(tokens[:, :, FEATURE_NAMES.index("step")], -1.0, 1.0).astype(np.float32)


def pretrain_reach(recipe: ChainRecipe | None = None, report: Callable[[str], None] | None = None) -> tuple[Any, dict]:
    """The reach entry: :func:`pretrain_chains` on random reach chains."""
    return pretrain_chains(recipe or ChainRecipe(task="reach"), report)


def pretrain_aim(recipe: ChainRecipe | None = None, report: Callable[[str], None] | None = None) -> tuple[Any, dict]:
    """The aim entry: :func:`pretrain_chains` on random chains aiming one of the last bone's axes."""
    return pretrain_chains(recipe or ChainRecipe(task="aim", seed=1), report)


def pretrain_grasp(recipe: ChainRecipe | None = None, report: Callable[[str], None] | None = None) -> tuple[Any, dict]:
    """The grasp entry: DAgger on random hands (``agents/library_grasp.py``)."""
    from .library_grasp import pretrain_grasp as pretrain_hands

    return pretrain_hands(recipe, report)


def random_hand(rng: np.random.Generator) -> Any:
    """A grasp on a random hand (the grasp entry's sample task)."""
    from ..envs.kinematic.grasp_chains import random_hand_spec

    return random_hand_spec(rng)


def dagger_episode(task: Any, teacher: Callable[[np.ndarray], np.ndarray], act: Callable[[np.ndarray], np.ndarray],
                   follow_teacher: bool, noise: float, rng: np.random.Generator) -> tuple[list, list]:
    """One DAgger episode of every environment of ``task``: each step's observation and the teacher's label for
    it. The acting policy is the teacher while ``follow_teacher`` (the first rounds), else ``act(obs)`` (the
    network); Gaussian ``noise`` is added to either and the action clipped to [-1, 1], so states off the
    teacher's path are seen and labelled."""
    task.reset()
    obs = task._observe()
    seen, labels = [], []
    for _ in range(task.episode_steps):
        label = teacher(obs)
        seen.append(obs)
        labels.append(label)
        action = label if follow_teacher else act(obs)
        task._step(np.clip(action + rng.normal(0.0, noise, action.shape), -1.0, 1.0))
        obs = task._observe()
    return seen, labels


def pretrain_chains(recipe: ChainRecipe, report: Callable[[str], None] | None = None) -> tuple[Any, dict]:
    """Train a library network (:class:`agents.chain_policy.ChainActorCritic`) by DAgger on random chains of
    ``recipe.task``; returns ``(network, record)`` where ``record`` holds the recipe, samples and seconds."""
    import torch

    from ..envs.kinematic.chains import FEATURES, MAX_TOKENS, make_chain_task, random_chain_spec
    from .chain_policy import ChainActorCritic
    from .threads import use_training_threads

    use_training_threads()  # torch's threads beside the twin (on 2 cores: 1; two spinning threads under load: 5x slower)
    say = report or (lambda _text: None)
    began = time.perf_counter()
    rng = np.random.default_rng(recipe.seed)
    tasks = [make_chain_task(dataclasses.replace(random_chain_spec(rng, kind=recipe.task), observation="chain"),
                             recipe.envs_per_chain, seed=recipe.seed + i) for i in range(recipe.chains)]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(recipe.seed)
        net = ChainActorCritic(MAX_TOKENS, FEATURES)
    generator = torch.Generator().manual_seed(recipe.seed)
    optimizer = torch.optim.Adam(net.actor.parameters(), lr=recipe.learning_rate)
    observations: list[np.ndarray] = []
    labels: list[np.ndarray] = []
    split = MAX_TOKENS * FEATURES
    loss_value = float("nan")

    def act(obs: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return net.actor(torch.as_tensor(obs, dtype=torch.float32)).clamp(-1, 1).numpy()

    for round_ in range(recipe.rounds):
        for task in tasks:
            seen, wanted = dagger_episode(task, teacher_actions, act, round_ < recipe.teacher_rounds,
                                          recipe.action_noise, rng)
            observations.extend(o.astype(np.float32) for o in seen)
            labels.extend(wanted)
        while sum(len(o) for o in observations) > recipe.max_samples:
            observations.pop(0)
            labels.pop(0)
        x = torch.as_tensor(np.concatenate(observations))
        y = torch.as_tensor(np.concatenate(labels))
        # minibatches of one chain length at a time: the network computes tokens up to the longest chain in a
        # batch, so a mixed batch would pay for 24 tokens every time
        joints = x[:, split:].sum(1).round().long()
        buckets = [torch.nonzero(joints == j).squeeze(1) for j in torch.unique(joints).tolist()]
        weights = torch.tensor([len(b) for b in buckets], dtype=torch.float64)
        for _ in range(recipe.updates_per_round):
            bucket = buckets[int(torch.multinomial(weights, 1, generator=generator))]
            rows = bucket[torch.randint(0, len(bucket), (recipe.minibatch,), generator=generator)]
            mask = x[rows, split:]
            error = (net.actor(x[rows]) - y[rows]) ** 2 * mask
            loss = error.sum() / mask.sum()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            loss_value = float(loss.detach())
        say(f"round {round_ + 1}/{recipe.rounds}: {len(x):,d} samples, loss {loss_value:.5f}, "
            f"{time.perf_counter() - began:.0f} s")
    with torch.no_grad():
        net.log_std.fill_(recipe.log_std)
    record = {"recipe": dataclasses.asdict(recipe), "samples": int(len(x)), "loss": loss_value,
              "seconds": round(time.perf_counter() - began, 1),
              "method": f"DAgger behaviour cloning of the damped-least-squares IK step on random {recipe.task} chains"}
    return net, record


def write_entry(name: str, network: Any, record: dict, out_dir: Path | None = None) -> Path:
    """Write ``network`` as library entry ``name`` (``.rdpolicy`` + ``.json`` recipe) into ``out_dir``."""
    from ..envs.kinematic.chains import ChainMix, make_chain_task, random_chain_spec
    from .config import TrainConfig, defaults_for
    from .policy_file import save_policy

    item = entry(name)
    out_dir = Path(out_dir) if out_dir is not None else LIBRARY_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    if item.layout is not None:
        config, env = item.layout(record)
    else:
        config = TrainConfig()
        config.task = item.task
        config.algo = defaults_for("ppo", item.task)
        config.algo.seed = int(record["recipe"]["seed"])
        config.rig.observation = item.observation
        rng = np.random.default_rng(0)
        spec = item.sample(rng) if item.sample is not None else \
            dataclasses.replace(random_chain_spec(rng, kind=item.task), observation="chain")
        env = ChainMix([make_chain_task(spec, 1, seed=0)])

    class _Model:  # what save_policy reads of a trainer
        policy, action_space, num_timesteps = network, env.action_space, int(record["samples"])

    path = out_dir / f"{item.name}.rdpolicy"
    sha = save_policy(_Model(), path, algo="ppo", config=config, env=env)
    (out_dir / f"{item.name}.json").write_text(json.dumps({**record, "name": item.name, "task": item.task,
                                                           "summary": item.summary, "sha256": sha}, indent=1) + "\n")
    return path


def pretrain(name: str, out_dir: Path | None = None, report: Callable[[str], None] | None = None) -> Path:
    """Rebuild library entry ``name`` (``./dojo pretrain NAME``)."""
    item = entry(name)
    network, record = item.make(report=report)
    return write_entry(item.name, network, record, out_dir)


def _lazy(module: str, name: str) -> Callable[..., Any]:
    """``agents.MODULE.NAME``, imported when called (an entry's recipe in its own module)."""
    def call(*args: Any, **kwargs: Any) -> Any:
        import importlib

        return getattr(importlib.import_module(f"{__package__}.{module}"), name)(*args, **kwargs)
    return call


ENTRIES: dict[str, LibraryEntry] = {
    "reach": LibraryEntry("reach", "reach", "chain",
                          "reach with any chain of 2-8 bones turned by rotation (an arm, a leg, a tail, a neck)",
                          pretrain_reach),
    "aim": LibraryEntry("aim", "aim", "chain",
                        "aim one axis of a chain's last bone at a target (a head on its neck, eyes, a hand-held light)",
                        pretrain_aim),
    "camera": LibraryEntry("camera", "camera", "full",
                           "frame a moving subject from a camera that moves and turns (free mode, no lens or roll)",
                           _lazy("library_camera", "pretrain_camera"), layout=_lazy("library_camera", "layout"),
                           bind_flags="--task camera --camera CAMERA --subject OBJECT"),
    "stand": LibraryEntry("stand", "stand", "chain",
                          "stand and keep balance after a shove: a quadruped of up to 128 hinges (physics, MuJoCo; "
                          "for two legs, stand_biped)",
                          _lazy("library_stand", "pretrain_stand"), layout=_lazy("library_stand", "layout"),
                          bind_flags="--task stand --rig RIG"),
    "stand_biped": LibraryEntry("stand_biped", "stand", "chain",
                                "stand and keep balance after a shove: a biped of up to 128 hinges (physics, MuJoCo)",
                                _lazy("library_stand", "pretrain_stand_biped"),
                                layout=_lazy("library_stand", "layout"), bind_flags="--task stand --rig RIG"),
    "grasp": LibraryEntry("grasp", "grasp", "chain",
                          "close a hand's fingers around an object (2-5 fingers of 2-3 bones, a wrist and forearm)",
                          pretrain_grasp, sample=random_hand),
}
