"""``python -m rig_dojo sweep`` on a local Ray (2 CPUs): trials are normal run folders, the best take is baked and
drawn on a contact sheet, a killed trial loses nobody else's results, an interrupted sweep resumes; bad input is
one line and exit 2."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import bpy
import pytest

from rig_dojo.agents.config import TrainConfig
from rig_dojo.agents.curve import read_png_size
from rig_dojo.cli import main
from rig_dojo.scene.builders import scenes
import harness
from harness import small_config

pytest.importorskip("ray", reason="sweeps need ray[tune] (./dojo setup installs it)")


run_cli = partial(harness.run_cli, timeout=900)


@pytest.fixture
def scene(factory, tmp_path):
    scenes.build_demo_scene()
    path = tmp_path / "scene.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    return path


def config_file(folder: Path, steps: int, checkpoint_every: int = 20_000) -> Path:
    path = folder / "run.toml"
    path.write_text(small_config(steps, checkpoint_every=checkpoint_every).to_toml())
    return path


@pytest.mark.slow
def test_a_small_sweep_ends_in_trial_run_folders_a_baked_best_take_and_a_contact_sheet(scene, tmp_path):
    out = tmp_path / "sweep"
    proc = run_cli("sweep", scene, "--config", config_file(tmp_path, 2048), "--seeds", "0-1",
                   "--vary", "rewards.distance.weight=1,2", "--cpus", "2", "--takes", "1", "--out", out)
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = json.loads((out / "sweep.json").read_text())
    names = sorted(r["trial"] for r in data["trials"])
    assert names == ["t00-s0-distance.weight1", "t01-s0-distance.weight2", "t02-s1-distance.weight1",
                     "t03-s1-distance.weight2"]
    for row in data["trials"]:
        run = Path(row["run_dir"])
        assert (run / "config.toml").is_file() and (run / "metrics.csv").is_file(), row
        config = TrainConfig.load(run / "config.toml")
        assert config.algo.seed == row["seed"]
        weight = 2.0 if row["trial"].endswith("weight2") else 1.0
        assert {t.weight for t in config.rewards if t.name == "distance"} == {weight}
        if row["status"] != "stopped early, no policy":
            assert row["status"] in ("done", "stopped early") and (run / "summary.json").is_file()
            assert 0.0 <= row["success_rate"] <= 1.0 and row["final_error"] > 0 and row["wall_seconds"] > 0
            assert any(k.startswith("term_") for k in row)
    table = proc.stdout
    assert "rank" in table and "success" in table and "jerk" in table and "wall s" in table
    assert len((out / "results.csv").read_text().splitlines()) == 5
    best = data["ranking"][0]
    take = data["takes"][0]
    assert take["trial"] == best and take["action"] == best and take["bake"]["rotation_error_degrees"] < 1e-3
    width, height = read_png_size(out / "takes.png")
    assert (width, height) == (4 * 240, 180)
    # a trial's folder is a normal run folder: evaluate works on its policy
    ev = run_cli("evaluate", scene, "--policy", out / "trials" / best / "final.rdpolicy", "--episodes", "4", "--json")
    assert ev.returncode == 0, ev.stderr[-2000:]
    # the takes file: the best take is an Action on the rig, laid on an NLA track; the scene itself is untouched
    bpy.ops.wm.open_mainfile(filepath=str(out / "takes.blend"))
    arm = bpy.data.objects["Arm"]
    assert arm.animation_data.action.name == best
    assert [t.name for t in arm.animation_data.nla_tracks] == [f"take 1: {best}"]
    assert json.loads(arm["rig_dojo_takes"])[0]["trial"] == best
    bpy.ops.wm.open_mainfile(filepath=str(scene))
    assert best not in bpy.data.actions


def _wait_for(predicate, timeout: float, proc: subprocess.Popen):
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        found = predicate()
        if found:
            return found
        if proc.poll() is not None:
            raise AssertionError(f"the sweep ended first: {proc.communicate()[1][-3000:]}")
        time.sleep(0.2)
    raise AssertionError("timed out")


@pytest.mark.slow
def test_a_killed_trial_loses_no_other_result_and_resume_finishes_it_from_its_checkpoint(scene, tmp_path):
    out = tmp_path / "sweep"
    cmd = [sys.executable, "-m", "rig_dojo", "sweep", str(scene), "--config",
           str(config_file(tmp_path, 6144, checkpoint_every=1024)), "--seeds", "0-1", "--cpus", "2",
           "--no-early-stop", "--retries", "0", "--out", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def checkpointed_trial():
        for run in sorted((out / "trials").glob("t0*")):
            if (run / "checkpoint.json").exists() and (run / "worker.json").exists() \
                    and not (run / "summary.json").exists():
                return run
        return None

    victim = _wait_for(checkpointed_trial, 300, proc)
    os.kill(json.loads((victim / "worker.json").read_text())["attempts"][-1]["pid"], signal.SIGKILL)
    stdout, stderr = proc.communicate(timeout=600)
    assert proc.returncode == 0, stderr[-3000:]
    rows = {r["trial"]: r for r in json.loads((out / "sweep.json").read_text())["trials"]}
    assert rows[victim.name]["status"] == "failed" and "failed" in stderr
    (other,) = [name for name in rows if name != victim.name]
    assert rows[other]["status"] == "done"
    kept = (out / "trials" / other / "summary.json").read_bytes()

    resumed = run_cli("sweep", scene, "--out", out, "--resume")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    rows = {r["trial"]: r for r in json.loads((out / "sweep.json").read_text())["trials"]}
    assert rows[victim.name]["status"] == "done" and rows[other]["status"] == "done"
    assert (out / "trials" / other / "summary.json").read_bytes() == kept  # not trained again
    attempts = json.loads((victim / "worker.json").read_text())["attempts"]
    assert len(attempts) == 2 and attempts[1]["resumed_from_step"] >= 1024
    assert json.loads((victim / "summary.json").read_text())["steps"] >= 6144


@pytest.mark.slow
def test_an_interrupted_sweep_says_how_to_resume(scene, tmp_path):
    out = tmp_path / "sweep"
    cmd = [sys.executable, "-m", "rig_dojo", "sweep", str(scene), "--config",
           str(config_file(tmp_path, 200_000, checkpoint_every=1024)), "--seeds", "0", "--cpus", "2",
           "--out", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for(lambda: list((out / "trials").glob("*/checkpoint.json")), 300, proc)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 130, stderr[-3000:]
    assert f"--out {out} --resume" in stderr
    (row,) = json.loads((out / "sweep.json").read_text())["trials"]
    assert row["status"] == "unfinished" and (Path(row["run_dir"]) / "checkpoint.json").exists()


def _one_line(capsys, code: int) -> str:
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert code == 2 and len(lines) == 1, captured.err
    return lines[0]


def test_an_unknown_vary_key_is_one_line_naming_it_and_the_allowed_keys(scene, tmp_path, capsys):
    code = main(["sweep", str(scene), "--config", str(config_file(tmp_path, 2048)), "--vary", "algo.lerning_rate=1,2",
                 "--out", str(tmp_path / "s")], register=False)
    line = _one_line(capsys, code)
    assert "--vary algo.lerning_rate: unknown key 'lerning_rate'" in line and "learning_rate" in line
    assert not (tmp_path / "s").exists()


def test_an_unreachable_address_is_one_line(scene, tmp_path, capsys):
    code = main(["sweep", str(scene), "--config", str(config_file(tmp_path, 2048)), "--address", "127.0.0.1:9",
                 "--out", str(tmp_path / "s")], register=False)
    line = _one_line(capsys, code)
    assert "--address 127.0.0.1:9: no Ray cluster answers there" in line and "ray start --head" in line


def test_ray_missing_is_one_line_saying_how_to_install_it(scene, tmp_path, capsys, monkeypatch):
    for name in [m for m in sys.modules if m == "ray" or m.startswith("ray.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "ray", None)  # importing ray now fails, as where it is not installed
    code = main(["sweep", str(scene), "--config", str(config_file(tmp_path, 2048))], register=False)
    line = _one_line(capsys, code)
    assert "Ray is not installed" in line and "ray[tune]==2.60.0" in line
