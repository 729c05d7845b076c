"""Sweeps: many trainings of one shot at once on Ray Tune, one normal run folder per trial (no bpy).

A sweep is a base :class:`TrainConfig`, a list of seeds and a few variations (``--vary
rewards.distance.weight=1,2,4``). Ray Tune does all the scheduling: its search space
(``grid_search`` for a grid, ``choice`` sampled ``--trials`` times for a random search), its
ASHA scheduler for stopping hopeless trials early, its fault tolerance (a trial whose process
dies is retried, and continues from its run folder's checkpoint) and its experiment state
(``Tuner.restore`` resumes an interrupted sweep). Nothing here schedules anything itself.

Each trial trains from the compiled spec file (read once from the .blend by the parent and put
in Ray's object store), so a worker needs no Blender. It goes through
:func:`agents.session.make_session` like the command line's ``train`` and writes the same run
folder (``config.toml``, ``metrics.csv``, checkpoints, ``final.rdpolicy``, ``summary.json``):
resume, evaluate and bake work on it. Sweep folder::

    sweep_plan.json      the plan: seeds, variations, search, metric, scene, family (resume reads it)
    base_config.toml     the config every trial starts from
    spec.npz             the compiled spec the trials train from
    trials/<trial>/      one normal run folder per trial (+ worker.json: pid and node of each attempt)
    tune/                Ray Tune's experiment state (Tuner.restore)
    results.csv          the results table
    sweep.json           the plan, every trial's row and the ranking by the chosen metric
"""

from __future__ import annotations

import csv
import dataclasses
import difflib
import io
import json
import math
import os
import re
import socket
import sys
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import RigDojoError
from .config import SETTINGS_TABLES, TrainConfig
from .run_summary import write_run_summary

RAY_REQUIREMENT = "ray[tune]==2.60.0"
RAY_MISSING = (f"Ray is not installed, and sweeps run on Ray Tune: install it with "
               f"`pip install '{RAY_REQUIREMENT}'` (./dojo setup does; in Blender: Preferences > Add-ons > Rig Dojo "
               "> Install Ray), or train one run with `train`")
# metrics a sweep can rank trials by (summary.json keys) and which way is better
METRICS = {"success_rate": "max", "final_error": "min", "mean_jerk": "min", "limit_violations": "min",
           "wall_seconds": "min", "mean_return": "max"}
TABLES_VARIED = ("rig", "algo", "curriculum") + tuple(SETTINGS_TABLES)  # what --vary may change
TERM_FIELDS = ("weight", "enabled", "params")
# ASHA compares trials by the exploring policy's success rate: unlike the return it does not scale with the
# reward weights a sweep varies, and a tie (0% early on) never stops a trial (ASHA stops only the strictly worse)
ASHA_METRIC = "success_rate"
ACTIVE = ("running", "paused", "stopping", "idle")


# -- the plan ------------------------------------------------------------------------------------
@dataclass
class SweepPlan:
    """What to sweep: the seeds, the variations (``key -> values``) and how to search them."""

    seeds: list[int]
    vary: dict[str, list[Any]] = field(default_factory=dict)
    search: str = "grid"  # grid | random
    trials: int = 0  # random search: how many trials (grid: 0, every combination)
    metric: str = "success_rate"
    early_stop: bool = True
    retries: int = 1  # times Tune restarts a trial whose process died (it resumes from its checkpoint)
    cpus_per_trial: float = 1.0
    scene: str = ""
    task: str = ""

    @property
    def mode(self) -> str:
        return METRICS[self.metric]

    def combinations(self) -> int:
        return len(self.seeds) * math.prod(len(v) for v in self.vary.values())

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> SweepPlan:
        data = json.loads(text)
        return cls(**{f.name: data[f.name] for f in dataclasses.fields(cls) if f.name in data})

    def check(self) -> None:
        if not self.seeds:
            raise RigDojoError("--seeds: give at least one seed (e.g. 0-3)")
        if self.metric not in METRICS:
            raise RigDojoError(f"--metric {self.metric!r}: choose one of {', '.join(METRICS)}")
        if self.search not in ("grid", "random"):
            raise RigDojoError(f"--search {self.search!r}: choose grid or random")
        if self.search == "random" and self.trials < 1:
            raise RigDojoError("--search random needs --trials N (how many trials to draw)")
        if self.search == "grid" and self.trials and self.trials != self.combinations():
            raise RigDojoError(f"--trials {self.trials} with --search grid: the grid has {self.combinations()} "
                               "trials (seeds x variations); leave --trials out or use --search random")


def parse_seeds(text: str) -> list[int]:
    """``"0-7"``, ``"0,3,5"`` or ``"4"`` -> the seeds."""
    seeds: list[int] = []
    try:
        for part in (p.strip() for p in text.split(",") if p.strip()):
            if "-" in part[1:]:
                start, end = (int(v) for v in part.split("-", 1))
                if end < start:
                    raise ValueError
                seeds += range(start, end + 1)
            else:
                seeds.append(int(part))
    except ValueError:
        raise RigDojoError(f"--seeds {text!r}: give seeds as START-END or a comma list, e.g. 0-7 or 0,3,5") from None
    if any(s < 0 for s in seeds):
        raise RigDojoError(f"--seeds {text!r}: seeds are 0 or greater")
    return list(dict.fromkeys(seeds))


def _split_values(text: str) -> list[str]:
    """Comma-separated values; commas inside [...] or {...} belong to the value (``net_arch=[64,64],[128]``)."""
    out, depth, current = [], 0, ""
    for ch in text:
        if ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(current.strip())
            current = ""
        else:
            current += ch
    out.append(current.strip())
    return [v for v in out if v]


def parse_value(text: str) -> Any:
    """A TOML value (``2``, ``3e-4``, ``true``, ``[64, 64]``, ``"exp"``), else the text as a string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def parse_vary(text: str) -> tuple[str, list[Any]]:
    """``"rewards.distance.weight=1,2,4"`` -> ``("rewards.distance.weight", [1, 2, 4])``."""
    key, sep, values = text.partition("=")
    key = key.strip()
    if not sep or not key or not values.strip():
        raise RigDojoError(f"--vary {text!r}: give KEY=V1,V2,... e.g. rewards.distance.weight=1,2,4 or "
                           "algo.learning_rate=3e-4,1e-3")
    return key, [parse_value(v) for v in _split_values(values)]


def _closest(word: str, choices: list[str]) -> str:
    near = difflib.get_close_matches(word, choices, n=1)
    return f" (did you mean {near[0]!r}?)" if near else ""


def _unknown(key: str, part: str, where: str, allowed: list[str]) -> RigDojoError:
    return RigDojoError(f"--vary {key}: unknown key {part!r}{where}{_closest(part, allowed)}; allowed: "
                        f"{', '.join(allowed)}")


def with_terms(config: TrainConfig) -> TrainConfig:
    """``config`` with its reward terms written out (a config that lists none uses its task's defaults)."""
    from ..envs.families import default_terms
    from .config import RewardTermConfig

    config = dataclasses.replace(config)
    if not config.rewards:
        config.rewards = [RewardTermConfig(t.name, float(t.weight), bool(t.enabled), dict(t.params))
                          for t in default_terms(config.task, config)]
    return config


def _set(data: dict, config: TrainConfig, key: str, value: Any) -> None:
    """Set ``key`` (a dotted TrainConfig path) in ``data`` (``config.to_dict()``); errors name the key."""
    parts = key.split(".")
    head = parts[0]
    if head == "rewards":
        names = [t["name"] for t in data["rewards"]]
        if len(parts) < 3:
            raise RigDojoError(f"--vary {key}: give rewards.TERM.weight, rewards.TERM.enabled or "
                               f"rewards.TERM.params.NAME; the terms of this config: {', '.join(names)}")
        # a term's name sets every term of that name (reach scores distance twice: linear and exp); an
        # index (rewards.1.weight) sets one
        if parts[1].isdigit() and int(parts[1]) < len(names):
            chosen = [int(parts[1])]
        else:
            chosen = [i for i, n in enumerate(names) if n == parts[1]]
        if not chosen:
            raise _unknown(key, parts[1], " (a reward term this config does not use)",
                           sorted(set(names)) + [f"0-{len(names) - 1} (a term's index)"])
        if parts[2] not in TERM_FIELDS or (parts[2] == "params") != (len(parts) == 4) or len(parts) > 4:
            raise _unknown(key, ".".join(parts[2:]), f" of rewards.{parts[1]}",
                           ["weight", "enabled", "params.NAME"])
        for index in chosen:
            term = data["rewards"][index]
            if parts[2] == "params":
                from ..rewards.registry import get_term

                allowed = [p.name for p in get_term(term["name"]).params]
                if parts[3] not in allowed:
                    raise _unknown(key, parts[3], f" among the parameters of {term['name']}", allowed)
                term["params"][parts[3]] = value
            else:
                term[parts[2]] = value
        return
    if head not in TABLES_VARIED:
        raise _unknown(key, head, "", [*(f"{t}.KEY" for t in TABLES_VARIED), "rewards.TERM.weight"])
    table = data[head]
    allowed = [f.name for f in dataclasses.fields(getattr(config, head))
               if not (head == "algo" and f.name == "seed") and not (head == "curriculum" and f.name == "stages")]
    if len(parts) < 2 or parts[1] not in allowed:
        raise _unknown(key, parts[1] if len(parts) > 1 else "", f" in [{head}]", allowed)
    if head == "algo" and parts[1] == "extra" and len(parts) == 3:
        table["extra"][parts[2]] = value
        return
    if len(parts) != 2:
        raise _unknown(key, ".".join(parts[1:]), f" in [{head}]", allowed)
    table[parts[1]] = value


def apply_overrides(config: TrainConfig, overrides: dict[str, Any], seed: int | None = None) -> TrainConfig:
    """A new config: ``config`` with ``overrides`` (dotted keys, see ``--vary``) and ``seed`` set; validated.

    An unknown key raises RigDojoError naming it and listing the keys allowed there; a value of the
    wrong type raises the config's own error naming the key.
    """
    base = with_terms(config)
    data = base.to_dict()
    for key, value in overrides.items():
        _set(data, base, key, value)
    if seed is not None:
        data["algo"]["seed"] = int(seed)
    try:
        return TrainConfig.from_dict(data)
    except RigDojoError as exc:
        raise RigDojoError(f"--vary: {exc}") from None


def check_variations(config: TrainConfig, vary: dict[str, list[Any]]) -> None:
    """Apply every value of every variation once, so a bad key or value fails before Ray starts."""
    for key, values in vary.items():
        for value in values:
            apply_overrides(config, {key: value})


# -- trial names ---------------------------------------------------------------------------------
def _short(key: str) -> str:
    """``rewards.distance.weight`` -> ``distance.weight``; ``algo.learning_rate`` -> ``learning_rate``."""
    parts = key.split(".")
    if parts[0] == "rewards":
        return ".".join(p for p in parts[1:] if p != "params")
    return ".".join(parts[1:]) if parts[0] != "algo" else parts[-1]


def _value_text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return re.sub(r"[^A-Za-z0-9.+-]", "", str(value).replace(", ", "x").replace(",", "x"))


def trial_name(index: int, params: dict[str, Any]) -> str:
    """``t03-s1-distance.weight2-learning_rate0.001``: the trial's folder, Action and row name."""
    parts = [f"t{index:02d}", f"s{params['seed']}"]
    parts += [f"{_short(k)}{_value_text(v)}" for k, v in params.get("overrides", {}).items()]
    return "-".join(parts)[:60]


def _trial_index(trial_id: str) -> int:
    try:
        return int(str(trial_id).rsplit("_", 1)[1])
    except (IndexError, ValueError):
        return 0


# -- Ray -------------------------------------------------------------------------------------
def import_ray():
    """``ray`` and ``ray.tune``, or RigDojoError saying how to install them."""
    try:
        import ray
        import ray.tune  # noqa: F401
    except ImportError:
        raise RigDojoError(RAY_MISSING) from None
    return ray


def _host_port(address: str) -> tuple[str, int] | None:
    text = address.removeprefix("ray://")
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        return None
    return host.strip("[]") or "127.0.0.1", int(port)


def check_address(address: str, timeout: float = 3.0) -> None:
    """RigDojoError in one line when nothing answers at ``address`` (``auto`` is checked by ray.init)."""
    if address == "auto":
        return
    where = _host_port(address)
    if where is None:
        raise RigDojoError(f"--address {address!r}: give auto, HOST:PORT (the head's GCS port, 6379) or "
                           "ray://HOST:PORT (Ray Client, 10001)")
    try:
        with socket.create_connection(where, timeout=timeout):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise RigDojoError(f"--address {address}: no Ray cluster answers there ({reason}); start one with "
                           "`ray start --head` on that machine, check the host and port, or leave --address out "
                           "to run on this machine") from None


def stage_package(folder: Path) -> Path:
    """A copy of this package's code in ``folder/rig_dojo`` for Ray's ``runtime_env`` ``py_modules`` (Ray names
    the module after the folder, and workers on other machines import it from the upload)."""
    import shutil

    source = Path(__file__).resolve().parents[1]
    target = folder / "rig_dojo"
    if target.exists():
        shutil.rmtree(target)
    skip = shutil.ignore_patterns(".venv*", ".git", "__pycache__", "*.pyc", "runs", "dist", "tests", "bench", "*.blend",
                                  "rig_dojo_runs", "*.png")
    shutil.copytree(source, target, ignore=skip)
    return target


def connect(address: str | None, cpus: int | None, staging: Path) -> bool:
    """Start Ray on this machine (``address`` None) or join a cluster, shipping this package's code to its
    workers. Returns whether this call started Ray (and so should shut it down)."""
    ray = import_ray()
    if ray.is_initialized():
        return False
    kwargs: dict[str, Any] = {"include_dashboard": False, "logging_level": "ERROR", "log_to_driver": False,
                              "configure_logging": True}
    if address:
        check_address(address)
        kwargs["runtime_env"] = {"py_modules": [str(stage_package(staging))]}
        try:
            ray.init(address=address, **kwargs)
        except (ConnectionError, RuntimeError, TimeoutError, ValueError) as exc:
            raise RigDojoError(f"--address {address}: could not join the Ray cluster ({' '.join(str(exc).split())[:200]}); "
                               "a cluster with token authentication (Ray's default) needs RAY_AUTH_MODE=token and its "
                               "token (~/.ray/auth_token or RAY_AUTH_TOKEN) here, or leave --address out to run on "
                               "this machine") from None
    else:
        ray.init(num_cpus=cpus or os.cpu_count() or 1, **kwargs)
    return True


# -- one trial (on a Ray worker) ---------------------------------------------------------------
def _snapshot_metrics(snapshot) -> dict[str, float]:
    """The metrics.csv columns of a snapshot, as Tune results."""
    metrics = {"step": int(snapshot.step), "wall_time": float(snapshot.wall_time),
               "mean_return": float(snapshot.mean_return), "success_rate": float(snapshot.success_rate),
               "steps_per_second": float(snapshot.steps_per_second), "episodes": int(snapshot.episodes),
               "curriculum_stage": int(snapshot.curriculum_stage)}
    metrics.update({f"term_{k}": float(v) for k, v in snapshot.term_means.items()})
    return metrics


def _note_attempt(run_dir: Path, resumed_from: int) -> None:
    """``worker.json``: which process and node ran each attempt of the trial (a retry appends one)."""
    from .files import write_atomic

    path = run_dir / "worker.json"
    attempts = json.loads(path.read_text()).get("attempts", []) if path.exists() else []
    node = ""
    try:
        import ray

        node = ray.get_runtime_context().get_node_id()
    except Exception:  # outside Ray (tests call the trial directly)
        pass
    attempts.append({"pid": os.getpid(), "node": node, "host": socket.gethostname(), "resumed_from_step": resumed_from,
                     "started": time.time()})
    write_atomic(path, json.dumps({"attempts": attempts}, indent=1).encode())


def run_trial(params: dict[str, Any], *, spec_bytes: bytes, spec_family: str, base_toml: str, sweep_dir: str,
              report=None, threads: int = 1) -> dict:
    """Train one trial into ``sweep_dir/trials/<name>`` and report its metrics (Ray Tune's function trainable).

    ``params``: ``{"seed": int, "overrides": {key: value}}`` (Tune's sample of the search space).
    ``report(metrics)``: Tune's ``report`` (the default); it raises SystemExit when ASHA stops the trial,
    which stops the session cleanly (checkpoint and policy saved) and still writes ``summary.json``.
    """
    import tempfile

    import torch

    from ..envs.families import get_family
    from .session import make_session

    if report is None:
        from ray import tune

        report = tune.report
        name = tune.get_context().get_trial_name()
    else:
        name = params.get("name") or trial_name(0, params)
    torch.set_num_threads(threads)
    run_dir = Path(sweep_dir) / "trials" / name
    family = get_family(spec_family)
    with tempfile.TemporaryDirectory() as tmp:
        spec_path = Path(tmp) / "spec.npz"
        spec_path.write_bytes(spec_bytes)
        spec = family.hooks().load_spec(spec_path)
    make_env = family.hooks().env_factory(spec)
    summary_path = run_dir / "summary.json"
    if summary_path.exists():  # finished before the sweep was interrupted: report it again
        summary = json.loads(summary_path.read_text())
        report({**_numbers(summary), "step": summary.get("steps", 0), "evaluated": 1})
        return summary
    resume = (run_dir / "checkpoint.json").exists()
    if resume:
        session = make_session(None, make_env, run_dir, resume=True)
        config = session.config
    else:
        if run_dir.exists() and any(run_dir.iterdir()):  # a killed attempt before its first checkpoint
            run_dir.rename(run_dir.with_name(f"{name}.partial-{int(time.time())}"))
        config = apply_overrides(TrainConfig.from_toml(base_toml), params.get("overrides", {}), params["seed"])
        config.output.run_dir = str(run_dir)
        session = make_session(config, make_env, run_dir)
    began = time.monotonic()
    session.start()
    _note_attempt(run_dir, int(getattr(session, "resumed_from_step", 0)))
    last_step = -1
    stopped_early = False
    reported = [0, 0.0]  # reports and the seconds they took (bench/bench_sweep.py reads them from worker.json)
    try:
        while session.wait(0.5) in ACTIVE:
            snapshot = session.latest()
            if snapshot is None or snapshot.step == last_step or not math.isfinite(snapshot.mean_return):
                continue
            last_step = snapshot.step
            began_report = time.perf_counter()
            report(_snapshot_metrics(snapshot))
            reported[0] += 1
            reported[1] += time.perf_counter() - began_report
    except (SystemExit, KeyboardInterrupt):
        # ASHA stopped the trial (Tune raises SystemExit in report) or Tune is shutting down: save what it
        # learnt (checkpoint and policy). The actor ends moments later, so the driver evaluates it afterwards
        # (summarise_stopped).
        stopped_early = True
        session.stop()
        raise
    finally:
        if not stopped_early and session.state in ACTIVE:
            session.stop()
    if session.state == "error":
        raise RuntimeError(f"trial {name} failed: {session.error}")
    summary = _write_summary(session, config, make_env, run_dir, began, family, spec, stopped_early=False)
    final = _snapshot_metrics(session.latest()) if session.latest() is not None else {}
    _note_reports(run_dir, *reported)
    report({**final, **_numbers(summary), "evaluated": 1})
    return summary


def _note_reports(run_dir: Path, count: int, seconds: float) -> None:
    from .files import write_atomic

    path = run_dir / "worker.json"
    data = json.loads(path.read_text()) if path.exists() else {"attempts": [{}]}
    data["attempts"][-1].update({"reports": count, "report_seconds": seconds, "ended": time.time()})
    write_atomic(path, json.dumps(data, indent=1).encode())


def _write_summary(session, config, make_env, run_dir, began, family, spec, stopped_early: bool) -> dict:
    snapshot = session.latest()
    steps = snapshot.step if snapshot is not None else 0
    wall = snapshot.wall_time if snapshot is not None else time.monotonic() - began
    summary, _, _ = write_run_summary(
        config, make_env, run_dir, steps=int(steps), wall=float(wall),
        report=lambda policy, cfg: family.hooks().report(policy, spec, cfg),
        evaluation=_family_evaluation(spec, make_env),
        extra_fields={"trial": run_dir.name, "stopped_early": stopped_early})
    return summary


def _family_evaluation(spec, make_env):
    """Evaluate as the command line's ``train`` does: the family's own evaluation where it has one."""
    from ..envs.families import evaluate_policy

    return lambda policy, cfg, episodes: evaluate_policy(policy, spec, cfg, make_env, episodes)


def trial_statuses(grid) -> dict[str, str]:
    """Each trial's state in Tune after ``Tuner.fit``: ``failed`` (it raised, or its process died more often
    than ``retries`` allows), ``done`` (trained and evaluated), ``ended`` (stopped without its evaluation: by
    ASHA, see :func:`stopped_early`, or by an interrupt) or ``unfinished``."""
    trials = getattr(getattr(grid, "_experiment_analysis", None), "trials", None)
    out: dict[str, str] = {}
    if trials is None:  # another Ray version: the public results say less
        for result in grid:
            evaluated = (result.metrics or {}).get("evaluated")
            out[Path(result.path).name] = "failed" if result.error is not None else ("done" if evaluated else "ended")
        return out
    for trial in trials:
        name = Path(trial.path).name
        if trial.status == "ERROR":
            out[name] = "failed"
        elif trial.status == "TERMINATED":
            out[name] = "done" if (trial.last_result or {}).get("evaluated") else "ended"
        else:
            out[name] = "unfinished"
    return out


def summarise_stopped(sweep_dir: Path, names: list[str]) -> list[str]:
    """Evaluate the trials ASHA stopped early (``names``; those with a policy and no summary.json) and write
    their summary.json, in this process (the trial's own process ends as soon as Tune stops it)."""
    from ..envs.families import get_family
    sweep_dir = Path(sweep_dir)
    family_name = json.loads((sweep_dir / "sweep_plan.json").read_text()).get("family", "")
    done = []
    for name in sorted(names):
        run_dir = sweep_dir / "trials" / name
        if not (run_dir / "final.rdpolicy").is_file() or (run_dir / "summary.json").exists():
            continue
        family = get_family(family_name)
        spec = family.hooks().load_spec(sweep_dir / "spec.npz")
        config = TrainConfig.load(run_dir / "config.toml")
        last = _last_metrics(run_dir)
        make_env = family.hooks().env_factory(spec)
        write_run_summary(config, make_env, run_dir, steps=int(last.get("step", 0)),
                          wall=float(last.get("wall_time", 0.0)),
                          report=lambda policy, cfg: family.hooks().report(policy, spec, cfg),
                          evaluation=_family_evaluation(spec, make_env),
                          extra_fields={"trial": run_dir.name, "stopped_early": True})
        done.append(run_dir.name)
    return done


def _numbers(summary: dict) -> dict[str, float]:
    return {k: float(v) for k, v in summary.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


# -- the sweep (the driver) -------------------------------------------------------------------
def param_space(plan: SweepPlan) -> dict[str, Any]:
    """Tune's search space: a grid over seeds x variations, or ``choice``s sampled ``plan.trials`` times."""
    from ray import tune

    pick = tune.grid_search if plan.search == "grid" else tune.choice
    space: dict[str, Any] = {"seed": pick(list(plan.seeds))}
    space["overrides"] = {key: pick(list(values)) for key, values in plan.vary.items()}
    return space


STOPPED_FILE = "stopped_early.txt"  # in the sweep folder: the trials ASHA stopped, one per line


def _scheduler(plan: SweepPlan, config: TrainConfig, sweep_dir: Path):
    from ray.tune.schedulers import ASHAScheduler, TrialScheduler

    if not plan.early_stop:
        return None
    algo = config.algo
    if algo.total_steps > 0:
        attr, budget = "step", float(algo.total_steps)
    else:
        attr, budget = "wall_time", algo.minutes * 60.0
    record = str(Path(sweep_dir) / STOPPED_FILE)

    class RecordingASHA(ASHAScheduler):
        """ASHA that notes which trials it stopped (Tune's own state cannot tell them from interrupted ones)."""

        def on_trial_result(self, tune_controller, trial, result):
            action = super().on_trial_result(tune_controller, trial, result)
            if action == TrialScheduler.STOP:
                with open(record, "a", encoding="utf-8") as f:
                    f.write(Path(trial.path).name + "\n")
            return action

    # max_t above the budget: a trial that trains to the end is never cut before its evaluation
    return RecordingASHA(time_attr=attr, metric=ASHA_METRIC, mode="max", max_t=budget * 4,
                         grace_period=max(budget / 4, 1.0), reduction_factor=2)


def stopped_early(sweep_dir: Path) -> set[str]:
    """The trials ASHA stopped (any run of the sweep, resumes included)."""
    path = Path(sweep_dir) / STOPPED_FILE
    return set(path.read_text(encoding="utf-8").split()) if path.exists() else set()


def _trainable(plan: SweepPlan, sweep_dir: Path):
    from ray import tune

    spec_bytes = (sweep_dir / "spec.npz").read_bytes()
    family = json.loads((sweep_dir / "sweep_plan.json").read_text()).get("family", "")
    base_toml = (sweep_dir / "base_config.toml").read_text()
    threads = max(1, int(plan.cpus_per_trial))
    fn = tune.with_parameters(_tune_trial, spec_bytes=spec_bytes, spec_family=family, base_toml=base_toml,
                              sweep_dir=str(sweep_dir), threads=threads)
    return tune.with_resources(fn, {"cpu": plan.cpus_per_trial})


def _tune_trial(params, spec_bytes=b"", spec_family="", base_toml="", sweep_dir="", threads=1):
    """Tune calls this (a module-level function, so Ray pickles it by reference)."""
    run_trial(params, spec_bytes=spec_bytes, spec_family=spec_family, base_toml=base_toml, sweep_dir=sweep_dir,
              threads=threads)


TRIAL_EVENTS = "trial_events.jsonl"  # in the sweep folder: when Tune launched each trial


def _progress_callback(quiet: bool, events: Path | None = None):
    from ray.tune import Callback

    def say(text: str) -> None:  # sys.stdout at the time (Tune pickles its callbacks: no file objects kept)
        if not quiet:
            print(text, file=sys.stdout, flush=True)

    class Progress(Callback):
        """One line when a trial starts, every ~10 s of progress, and when it ends or fails."""

        def __init__(self):
            self.last = 0.0

        def on_trial_start(self, iteration, trials, trial, **info):
            say(f"  {trial}: started")
            if events is not None:  # when Tune launched it (bench/bench_sweep.py: the start overhead)
                with open(events, "a", encoding="utf-8") as f:
                    f.write(json.dumps({"trial": Path(trial.path).name, "launched": time.time()}) + "\n")

        def on_trial_result(self, iteration, trials, trial, result, **info):
            if time.monotonic() - self.last < 10.0 or result.get("evaluated"):
                return
            self.last = time.monotonic()
            running = [t for t in trials if t.status == "RUNNING"]
            done = sum(t.status == "TERMINATED" for t in trials)
            say(f"  {len(running)} running, {done}/{len(trials)} done; {trial}: step {int(result.get('step', 0)):,d}, "
                f"return {result.get('mean_return', float('nan')):.2f}")

        def on_trial_complete(self, iteration, trials, trial, **info):
            result = trial.last_result or {}
            how = "done" if result.get("evaluated") else "stopped before its end"
            success = result.get("success_rate", float("nan"))
            say(f"  {trial}: {how}, success {success:.0%}" if math.isfinite(success) else f"  {trial}: {how}")

        def on_trial_error(self, iteration, trials, trial, **info):
            say(f"  {trial}: failed (its process died or raised); Tune retries it from its checkpoint if it can")

    return Progress()


def run_sweep(plan: SweepPlan, sweep_dir: Path, *, resume: bool = False, address: str | None = None,
              cpus: int | None = None, quiet: bool = False) -> list[dict]:
    """Run (or resume) the sweep in ``sweep_dir`` on Ray Tune and write the results table; returns its rows.

    ``sweep_dir`` must hold ``sweep_plan.json``, ``base_config.toml`` and ``spec.npz``
    (:func:`prepare_sweep` writes them).
    """
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # our own progress lines, not Tune's tables
    ray = import_ray()
    from ray import tune

    sweep_dir = Path(sweep_dir).resolve()
    config = TrainConfig.load(sweep_dir / "base_config.toml")
    experiment = sweep_dir / "tune" / "sweep"
    started = connect(address, cpus, sweep_dir / "tune" / "code")
    try:
        trainable = _trainable(plan, sweep_dir)
        if resume:
            if not tune.Tuner.can_restore(str(experiment)):
                raise RigDojoError(f"{sweep_dir} has no sweep state to resume (no tune/sweep); start it again "
                                   "without --resume")
            tuner = tune.Tuner.restore(str(experiment), trainable, resume_unfinished=True, resume_errored=True)
        else:
            tuner = tune.Tuner(
                trainable, param_space=param_space(plan),
                tune_config=tune.TuneConfig(
                    scheduler=_scheduler(plan, config, sweep_dir), num_samples=plan.trials if plan.search == "random" else 1,
                    trial_name_creator=lambda t: trial_name(_trial_index(t.trial_id), t.config),
                    trial_dirname_creator=lambda t: trial_name(_trial_index(t.trial_id), t.config)),
                run_config=tune.RunConfig(
                    name="sweep", storage_path=str(sweep_dir / "tune"), verbose=0,
                    callbacks=[_progress_callback(quiet, sweep_dir / TRIAL_EVENTS)],
                    failure_config=tune.FailureConfig(max_failures=plan.retries)))
        began = time.monotonic()
        grid = tuner.fit()
        wall = time.monotonic() - began
        statuses = trial_statuses(grid)
    finally:
        if started:
            ray.shutdown()
    summarise_stopped(sweep_dir, sorted(stopped_early(sweep_dir)))
    rows = results_table(sweep_dir, statuses)
    write_results(sweep_dir, plan, rows, wall)
    return rows


def prepare_sweep(sweep_dir: Path, plan: SweepPlan, config: TrainConfig, spec: Any, family: str) -> None:
    """Write the plan, the base config and the spec into a new sweep folder (never over another sweep)."""
    from .files import write_atomic

    sweep_dir = Path(sweep_dir)
    if (sweep_dir / "sweep_plan.json").exists():
        raise RigDojoError(f"{sweep_dir} already holds a sweep; continue it with --resume or choose another --out")
    sweep_dir.mkdir(parents=True, exist_ok=True)
    config = with_terms(config)
    config.output.run_dir = ""
    config.save(sweep_dir / "base_config.toml")
    spec.save(sweep_dir / "spec.npz")
    data = json.loads(plan.to_json())
    data["family"] = family
    write_atomic(sweep_dir / "sweep_plan.json", json.dumps(data, indent=2).encode())


def load_plan(sweep_dir: Path) -> SweepPlan:
    path = Path(sweep_dir) / "sweep_plan.json"
    if not path.exists():
        raise RigDojoError(f"{sweep_dir} is not a sweep folder (no sweep_plan.json); give the --out of a sweep")
    return SweepPlan.from_json(path.read_text())


# -- results ----------------------------------------------------------------------------------------
def _last_metrics(run_dir: Path) -> dict[str, float]:
    path = run_dir / "metrics.csv"
    if not path.exists():
        return {}
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    for row in reversed(rows):
        try:
            return {k: float(v) for k, v in row.items() if k and v not in (None, "")}
        except ValueError:
            continue
    return {}


def results_table(sweep_dir: Path, statuses: dict[str, str] | None = None) -> list[dict]:
    """One row per trial folder: status, the summary's numbers, per-term means, wall time, the varied values."""
    rows = []
    asha = stopped_early(sweep_dir)
    trials = Path(sweep_dir) / "trials"
    for run_dir in sorted(p for p in trials.glob("*") if p.is_dir() and ".partial-" not in p.name):
        summary = json.loads((run_dir / "summary.json").read_text()) if (run_dir / "summary.json").exists() else {}
        config = TrainConfig.load(run_dir / "config.toml") if (run_dir / "config.toml").exists() else None
        last = _last_metrics(run_dir)
        tune_status = (statuses or {}).get(run_dir.name, "")
        if tune_status == "failed":
            status = "failed"
        elif summary:
            status = "stopped early" if summary.get("stopped_early") else "done"
        elif run_dir.name in asha:
            status = "stopped early, no policy"  # its process ended before saving one; `train --resume` continues it
        else:
            status = "unfinished"  # interrupted: --resume continues it
        attempts = json.loads((run_dir / "worker.json").read_text()).get("attempts", []) \
            if (run_dir / "worker.json").exists() else []
        row = {"trial": run_dir.name, "status": status, "seed": config.algo.seed if config else None,
               "success_rate": summary.get("success_rate"), "final_error": summary.get("final_error"),
               "mean_jerk": summary.get("mean_jerk"), "limit_violations": summary.get("limit_violations"),
               "wall_seconds": summary.get("wall_seconds", last.get("wall_time")),
               "steps": summary.get("steps", last.get("step")), "mean_return": last.get("mean_return"),
               "attempts": len(attempts), "nodes": sorted({a.get("node", "") for a in attempts}),
               "run_dir": str(run_dir), "policy": str(run_dir / "final.rdpolicy")}
        row.update({k: v for k, v in last.items() if k.startswith("term_")})
        rows.append(row)
    return rows


def rank(rows: list[dict], metric: str) -> list[dict]:
    """The trials with a summary, best first by ``metric`` (ties: lower final error, then name)."""
    sign = 1.0 if METRICS[metric] == "min" else -1.0
    done = [r for r in rows if r.get(metric) is not None and math.isfinite(float(r[metric]))]
    return sorted(done, key=lambda r: (sign * float(r[metric]), float(r.get("final_error") or 0.0), r["trial"]))


def _cell(value: Any) -> str:
    if value is None:
        return "--"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "--"
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def format_table(rows: list[dict], metric: str) -> str:
    """The terminal table: rank, trial, status, success, error, jerk, per-term means, wall time."""
    terms = sorted({k for r in rows for k in r if k.startswith("term_")})
    header = ["rank", "trial", "status", "success", "error", "jerk", *(t.removeprefix("term_") for t in terms),
              "wall s"]
    order = {r["trial"]: i + 1 for i, r in enumerate(rank(rows, metric))}
    lines = [header]
    for r in sorted(rows, key=lambda r: (order.get(r["trial"], 10**6), r["trial"])):
        success = r.get("success_rate")
        lines.append([str(order.get(r["trial"], "-")), r["trial"], r["status"],
                      f"{success:.0%}" if isinstance(success, float) and math.isfinite(success) else "--",
                      _cell(r.get("final_error")), _cell(r.get("mean_jerk")), *(_cell(r.get(t)) for t in terms),
                      _cell(r.get("wall_seconds"))])
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip() for line in lines)


def write_results(sweep_dir: Path, plan: SweepPlan, rows: list[dict], wall: float | None = None,
                  takes: list[dict] | None = None) -> None:
    """``results.csv`` and ``sweep.json`` (rows, ranking, takes) in the sweep folder."""
    from .files import write_atomic

    sweep_dir = Path(sweep_dir)
    columns: list[str] = []
    for r in rows:
        columns += [k for k in r if k not in columns and k != "nodes"]
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    write_atomic(sweep_dir / "results.csv", text.getvalue().encode())
    previous = json.loads((sweep_dir / "sweep.json").read_text()) if (sweep_dir / "sweep.json").exists() else {}
    data = {"plan": json.loads(plan.to_json()), "metric": plan.metric, "mode": plan.mode,
            "trials": rows, "ranking": [r["trial"] for r in rank(rows, plan.metric)],
            "wall_seconds": wall if wall is not None else previous.get("wall_seconds"),
            "takes": takes if takes is not None else previous.get("takes", [])}
    write_atomic(sweep_dir / "sweep.json", json.dumps(data, indent=2, default=str).encode())


def combinations_text(plan: SweepPlan) -> str:
    keys = "".join(f" x {len(v)} {_short(k)}" for k, v in plan.vary.items())
    if plan.search == "grid":
        return f"{plan.combinations()} trials ({len(plan.seeds)} seeds{keys})"
    return f"{plan.trials} trials drawn at random from {plan.combinations()} combinations"


__all__ = ["SweepPlan", "parse_seeds", "parse_vary", "apply_overrides", "check_variations", "run_sweep",
           "prepare_sweep", "load_plan", "results_table", "rank", "format_table", "write_results", "import_ray",
           "check_address", "trial_name"]


# -- the driver as its own process (the sidebar starts it; no Blender needed) ------------------------
def package_python_path(extra: list[str] | None = None) -> str:
    """PYTHONPATH that imports this package under its own name in a child process (the folder it is imported
    from), then ``extra`` (e.g. the add-on's dependency folder), then the caller's PYTHONPATH."""
    root_name = __name__.rsplit(".agents.", 1)[0]
    root = Path(sys.modules[root_name].__file__).parent  # not resolved: the package's name is the folder's
    for _ in root_name.split("."):
        root = root.parent
    rest = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    return os.pathsep.join([str(root), *(extra or []), *rest])


def driver_command(sweep_dir: Path, address: str | None, cpus: int | None, resume: bool) -> list[str]:
    """``python -m <package>.agents.sweep SWEEP_DIR ...``: run a prepared sweep in a process of its own."""
    command = [sys.executable, "-m", __name__, str(sweep_dir)]
    if address:
        command += ["--address", address]
    if cpus:
        command += ["--cpus", str(cpus)]
    if resume:
        command.append("--resume")
    return command


def main(argv: list[str] | None = None) -> int:
    """Run the prepared sweep in SWEEP_DIR (written by :func:`prepare_sweep`) and print its table; exit 2 with
    one line for bad input, 130 when interrupted with trials left (``--resume`` continues)."""
    import argparse

    parser = argparse.ArgumentParser(prog="rig_dojo.agents.sweep", description=main.__doc__)
    parser.add_argument("sweep_dir")
    parser.add_argument("--address")
    parser.add_argument("--cpus", type=int)
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args(argv)
    try:
        plan = load_plan(Path(args.sweep_dir))
        rows = run_sweep(plan, Path(args.sweep_dir), resume=args.resume, address=args.address, cpus=args.cpus)
    except RigDojoError as exc:
        print(f"rig_dojo: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    print(format_table(rows, plan.metric), flush=True)
    return 130 if any(r["status"] == "unfinished" for r in rows) else 0


if __name__ == "__main__":
    import importlib

    # run it as the package's own module, so Ray pickles the trial function by reference, not from __main__
    code = importlib.import_module(__spec__.name).main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
