"""A sweep's plan without Ray or Blender: seeds, --vary keys and values, trial names, the results table."""

from __future__ import annotations

import json

import pytest

from rig_dojo.agents import sweep as sw
from rig_dojo.agents.config import TrainConfig
from rig_dojo.errors import RigDojoError


def reach_config() -> TrainConfig:
    config = TrainConfig()
    config.task = "reach"
    config.rig.rig, config.rig.controls, config.rig.effector = "Arm", ["a", "b"], "b"
    return config


def test_seeds_accept_ranges_and_lists():
    assert sw.parse_seeds("0-3") == [0, 1, 2, 3]
    assert sw.parse_seeds("5, 1,5") == [5, 1]
    for bad in ("3-1", "x", "-2"):
        with pytest.raises(RigDojoError, match="--seeds"):
            sw.parse_seeds(bad)


def test_vary_values_are_typed_and_lists_keep_their_commas():
    assert sw.parse_vary("rewards.distance.weight=1,2,4") == ("rewards.distance.weight", [1, 2, 4])
    assert sw.parse_vary("algo.learning_rate=3e-4,1e-3") == ("algo.learning_rate", [3e-4, 1e-3])
    assert sw.parse_vary("algo.net_arch=[64,64],[128]") == ("algo.net_arch", [[64, 64], [128]])
    assert sw.parse_vary("rewards.distance.params.shape=exp,linear")[1] == ["exp", "linear"]
    with pytest.raises(RigDojoError, match="KEY=V1,V2"):
        sw.parse_vary("algo.learning_rate")


def test_overrides_change_only_what_they_name():
    base = reach_config()
    config = sw.apply_overrides(base, {"rewards.distance.weight": 4, "algo.learning_rate": 1e-3,
                                       "algo.extra.ent_coef": 0.01}, seed=3)
    defaults = sw.with_terms(base).rewards
    # reach scores distance twice (linear and exponential): the name sets both, an index one
    assert [t.weight for t in config.rewards] == [4.0 if t.name == "distance" else t.weight for t in defaults]
    assert config.algo.learning_rate == 1e-3 and config.algo.seed == 3 and config.algo.extra["ent_coef"] == 0.01
    assert base.algo.seed == 0 and base.rewards == []  # the base config is untouched
    one = sw.apply_overrides(base, {"rewards.1.weight": 0.5})
    assert [t.weight for t in one.rewards] == [0.5 if i == 1 else t.weight for i, t in enumerate(defaults)]


@pytest.mark.parametrize("key,named,listed", [
    ("rewards.distanse.weight", "'distanse'", "distance"),
    ("algo.lerning_rate", "'lerning_rate'", "learning_rate"),
    ("rewards.distance.wieght", "'wieght'", "weight"),
    ("rewards.distance.params.sigma", "'sigma'", "shape"),
    ("output.run_dir", "'output'", "algo.KEY"),
    ("algo.seed", "'seed'", "n_envs"),  # seeds come from --seeds
])
def test_an_unknown_vary_key_is_named_with_the_allowed_keys(key, named, listed):
    with pytest.raises(RigDojoError) as info:
        sw.check_variations(reach_config(), {key: [1]})
    message = str(info.value)
    assert message.startswith(f"--vary {key}: unknown key {named}") and "allowed:" in message and listed in message
    assert "\n" not in message


def test_a_value_of_the_wrong_type_names_the_key():
    with pytest.raises(RigDojoError, match=r"algo\.n_envs: expected integer"):
        sw.check_variations(reach_config(), {"algo.n_envs": [2.5]})


def test_plan_checks_say_what_to_fix():
    with pytest.raises(RigDojoError, match="--trials N"):
        sw.SweepPlan(seeds=[0], search="random").check()
    with pytest.raises(RigDojoError, match="the grid has 6 trials"):
        sw.SweepPlan(seeds=[0, 1], vary={"k": [1, 2, 3]}, trials=4).check()
    plan = sw.SweepPlan(seeds=[0, 1], vary={"rewards.distance.weight": [1, 2]}, metric="final_error")
    plan.check()
    assert plan.combinations() == 4 and plan.mode == "min"
    assert sw.SweepPlan.from_json(plan.to_json()) == plan


def test_trial_names_are_short_and_say_what_varies():
    name = sw.trial_name(3, {"seed": 1, "overrides": {"rewards.distance.weight": 2, "algo.learning_rate": 0.001}})
    assert name == "t03-s1-distance.weight2-learning_rate0.001"
    assert len(sw.trial_name(12, {"seed": 0, "overrides": {f"rewards.term{i}.weight": 1.5 for i in range(9)}})) <= 60


def _trial(folder, name, seed, summary=None, metrics=None):
    run = folder / "trials" / name
    run.mkdir(parents=True)
    config = reach_config()
    config.algo.seed = seed
    config.save(run / "config.toml")
    if summary is not None:
        (run / "summary.json").write_text(json.dumps(summary))
    rows = metrics or [{"step": 100, "wall_time": 1.0, "mean_return": -2.0, "success_rate": 0.1, "term_distance": -1.5}]
    columns = list(rows[0])
    (run / "metrics.csv").write_text(",".join(columns) + "\n" + "".join(
        ",".join(str(r[c]) for c in columns) + "\n" for r in rows))
    return run


def test_results_rank_finished_trials_and_the_table_lists_every_one(tmp_path):
    _trial(tmp_path, "t00-s0", 0, {"success_rate": 0.5, "final_error": 0.1, "mean_jerk": 1e-3, "wall_seconds": 9.0})
    _trial(tmp_path, "t01-s1", 1, {"success_rate": 0.9, "final_error": 0.2, "mean_jerk": 2e-3, "wall_seconds": 8.0})
    _trial(tmp_path, "t02-s2", 2, {"success_rate": 0.9, "final_error": 0.05, "stopped_early": True})
    _trial(tmp_path, "t03-s3", 3)  # interrupted: no summary
    (tmp_path / sw.STOPPED_FILE).write_text("t02-s2\n")
    rows = sw.results_table(tmp_path, {"t03-s3": "unfinished"})
    status = {r["trial"]: r["status"] for r in rows}
    assert status == {"t00-s0": "done", "t01-s1": "done", "t02-s2": "stopped early", "t03-s3": "unfinished"}
    assert [r["trial"] for r in sw.rank(rows, "success_rate")] == ["t02-s2", "t01-s1", "t00-s0"]
    assert [r["trial"] for r in sw.rank(rows, "final_error")] == ["t02-s2", "t00-s0", "t01-s1"]
    assert rows[0]["term_distance"] == -1.5 and rows[0]["seed"] == 0
    table = sw.format_table(rows, "success_rate").splitlines()
    assert table[0].split()[:6] == ["rank", "trial", "status", "success", "error", "jerk"] and "distance" in table[0]
    assert table[1].startswith("1 ") and "t02-s2" in table[1] and "90%" in table[1]
    assert "t03-s3" in table[-1] and table[-1].startswith("-")
    plan = sw.SweepPlan(seeds=[0, 1, 2, 3])
    sw.write_results(tmp_path, plan, rows, wall=12.0)
    data = json.loads((tmp_path / "sweep.json").read_text())
    assert data["ranking"] == ["t02-s2", "t01-s1", "t00-s0"] and len(data["trials"]) == 4
    assert (tmp_path / "results.csv").read_text().splitlines()[0].startswith("trial,status,seed,success_rate")


def test_an_unreachable_address_is_one_line(tmp_path):
    with pytest.raises(RigDojoError) as info:
        sw.check_address("127.0.0.1:9", timeout=1.0)
    assert "no Ray cluster answers there" in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(RigDojoError, match="give auto, HOST:PORT"):
        sw.check_address("nowhere")
