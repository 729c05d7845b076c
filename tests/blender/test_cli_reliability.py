"""The command line as a careless or hostile user meets it (issue 18).

Two trainings into one folder, Ctrl-C at any moment, a full disk, hostile values for every flag, a bake
onto its own input, misspelt names: one line and exit 2 (nothing written) for bad input, and a run that
is never lost. In-process calls of ``cli.main`` for what is refused before any work, subprocesses for
what trains.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import bpy
import pytest

from rig_dojo import cli
from rig_dojo.errors import RigDojoError
from rig_dojo.scene.builders import scenes
from harness import run_cli, small_config


def start_cli(*args, cwd=None):
    """A training in its own process, with SIGINT as a terminal delivers it (a background job of a
    non-interactive shell ignores SIGINT and its children inherit that: restored here)."""
    return subprocess.Popen([sys.executable, "-m", "rig_dojo", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=cwd,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def last_metric_step(run: Path) -> int:
    try:
        rows = (run / "metrics.csv").read_text().splitlines()[1:]
    except FileNotFoundError:
        return 0
    complete = [r for r in rows if r.count(",") >= 6]
    return int(float(complete[-1].split(",")[0])) if complete else 0


def wait_for(predicate, timeout=180.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def files_under(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, dojo_registered):
    folder = tmp_path_factory.mktemp("reliability")
    objs = scenes.build_demo_scene()
    arm = objs["rig"]
    bones = arm.data.collections.new("ArmBones")
    for name in ("upper_arm", "forearm", "hand"):
        bones.assign(arm.data.bones[name])
    scene = folder / "scene.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(scene))
    (folder / "run.toml").write_text(small_config().to_toml())
    (folder / "long.toml").write_text(small_config(steps=400_000, checkpoint_every=10**9).to_toml())
    run = folder / "run"
    proc = run_cli("train", scene, "--config", folder / "run.toml", "--out", run)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {"folder": folder, "scene": scene, "run": run, "policy": run / "final.rdpolicy"}


def call(argv: list, capsys) -> tuple[int, str]:
    """``cli.main`` in this process; (exit code, stderr)."""
    capsys.readouterr()
    code = cli.main([str(a) for a in argv])
    return code, capsys.readouterr().err


def one_line(err: str) -> str:
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


# -- two trainings, Ctrl-C, resume ------------------------------------------------------------------
@pytest.mark.slow
def test_two_trainings_started_together_into_one_folder_one_is_refused(workspace, tmp_path):
    run = tmp_path / "shared"
    args = ("train", workspace["scene"], "--config", workspace["folder"] / "long.toml", "--out", run)
    procs = [start_cli(*args), start_cli(*args)]
    try:
        assert wait_for(lambda: any(p.poll() is not None for p in procs), timeout=240)
        refused = next(p for p in procs if p.poll() is not None)
        survivor = next(p for p in procs if p is not refused)
        _, err = refused.communicate(timeout=30)
        assert refused.returncode == 2, err[-2000:]
        line = one_line(err)
        assert "another training is writing to" in line or "already holds a run" in line, line
        assert wait_for(lambda: last_metric_step(run) > 1000)
        survivor.send_signal(signal.SIGINT)
        _, err = survivor.communicate(timeout=180)
        assert survivor.returncode == 130, err[-2000:]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    steps = [int(float(r.split(",")[0])) for r in (run / "metrics.csv").read_text().splitlines()[1:]]
    assert steps == sorted(steps)  # one run's rows only
    assert json.loads((run / "checkpoint.json").read_text())["step"] >= steps[-1]


@pytest.mark.slow
def test_ctrl_c_saves_a_checkpoint_at_the_stop_step_and_final_policy_and_the_printed_command_resumes(
        workspace, tmp_path):
    run = tmp_path / "run"
    # the scene last: the printed command must not depend on the order of the arguments
    proc = start_cli("train", "--config", workspace["folder"] / "long.toml", "--out", run, workspace["scene"])
    try:
        assert wait_for(lambda: last_metric_step(run) > 3000), proc.stderr.read() if proc.poll() else ""
        seen = last_metric_step(run)
        assert not (run / "checkpoint.json").exists()  # no periodic checkpoint yet: only the stop saves
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err[-2000:]
    meta = json.loads((run / "checkpoint.json").read_text())
    # the stop step is the trainer's state at the stop: our PPO's last update, so at most the one rollout in progress
    # (4 environments x 64 steps, not learnt from) before the last step shown
    rollout = 4 * 64
    assert meta["step"] > seen - rollout and (run / "checkpoints" / meta["checkpoint"]).is_file()
    from rig_dojo.agents.policy_file import load_policy

    assert load_policy(run / "final.rdpolicy").metadata["num_timesteps"] == meta["step"]
    assert f"stopped at step {meta['step']:,d}" in err
    command = next(ln.strip() for ln in err.splitlines() if ln.strip().startswith("python -m rig_dojo train"))
    words = shlex.split(command)
    assert words[5:] == ["--resume", str(run.resolve())] and Path(words[4]) == workspace["scene"].resolve()
    resumed = subprocess.run([sys.executable, *words[1:], "--steps", str(meta["step"] + 1024)], capture_output=True,
                             text=True, timeout=600, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["resumed_from_step"] == meta["step"] and summary["steps"] >= meta["step"] + 1024
    # steps per second counts the resumed steps only
    trained_here = summary["steps"] - summary["resumed_from_step"]
    assert summary["steps_per_second"] * summary["wall_seconds"] == pytest.approx(trained_here, rel=1e-6)


def test_resume_extends_the_budget_but_refuses_other_flags(workspace, capsys):
    code, err = call(["train", workspace["scene"], "--resume", workspace["run"], "--seed", "5"], capsys)
    assert code == 2 and "--seed cannot change them" in one_line(err)
    code, err = call(["train", workspace["scene"], "--resume", workspace["run"], "--out", "elsewhere"], capsys)
    assert code == 2 and "--out" in one_line(err)


@pytest.mark.slow
def test_a_full_disk_is_one_line(workspace, tmp_path):
    if shutil.which("unshare") is None or subprocess.run(["unshare", "-rm", "true"]).returncode != 0:
        pytest.skip("needs unshare for a private tmpfs")
    disk = tmp_path / "disk"
    disk.mkdir()
    inner = (f"mount -t tmpfs -o size=192k tmpfs {shlex.quote(str(disk))} && exec {shlex.quote(sys.executable)} "
             f"-m rig_dojo train {shlex.quote(str(workspace['scene']))} --config "
             f"{shlex.quote(str(workspace['folder'] / 'run.toml'))} --out {shlex.quote(str(disk / 'run'))}")
    proc = subprocess.run(["unshare", "-rm", "sh", "-c", inner], capture_output=True, text=True, timeout=600)
    if "mount" in proc.stderr and proc.returncode != 2:
        pytest.skip(f"no tmpfs here: {proc.stderr.strip()[:200]}")
    assert proc.returncode == 2, proc.stderr[-2000:]
    line = one_line(proc.stderr)
    assert "No space left on device" in line and "--resume" in line, line


# -- hostile values for every flag: one line, exit 2, nothing written ---------------------------------------
HOSTILE = {
    "--seed": ["-1", "4294967296", "1e3", "nan", "", "0x10", "99999999999999999999999"],
    "--steps": ["0", "-5", "1e10", "inf", "100000000000000000", "ten"],
    "--minutes": ["nan", "inf", "-inf", "0", "-1", "1e308", "x"],
    "--samples": ["0", "-5", "1e9", "nan", "100001"],
    "--episodes": ["0", "-1", "1e10", "10000000000", "many"],
    "--frames": ["1-1000000", "40-1", "1-", "-", "a-b", "1-1", "1..10", "1-99999999999999999999"],
    "--reduce": ["nan", "inf", "-1", "1000", "x"],
    "--config": ["MISSING", "LATIN1", "BINARY", "FOLDER"],
    "--out": ["AFILE", "RUNFOLDER"],
    "--output": ["FOLDER", "MISSINGDIR", "SCENE", "SCENEDOTDOT", "SCENELINK", "NOTBLEND"],
    "--policy": ["MISSING", "BINARY", "SCENE"],
    "--rig": ["Ghost", "Target"],
    "--controls": ["upper_arm,elbow", ",", "Target"],
    "--collection": ["NoSuchCollection"],
    "--target": ["Nowhere"],
    "--region": ["Nowhere"],
}
COMMANDS = {
    "train": ["--seed", "--steps", "--minutes", "--config", "--out", "--rig", "--controls", "--collection", "--target",
              "--region"],
    "evaluate": ["--episodes", "--policy"],
    "bake": ["--frames", "--reduce", "--output", "--policy"],
    "verify": ["--seed", "--samples", "--rig", "--controls", "--collection"],
    "export-config": ["--out"],
}


# where a command gives a flag another meaning (export-config may overwrite a file; not a folder or its input)
HOSTILE_FOR = {("export-config", "--out"): ["FOLDER", "MISSINGDIR", "SCENE", "SCENELINK", "RUNFOLDER"]}


def hostile(cmd: str, flag: str) -> list[str]:
    return HOSTILE_FOR.get((cmd, flag), HOSTILE[flag])


def hostile_cases(seed: int = 18, per_command: int = 40) -> list[tuple[str, list[tuple[str, str]]]]:
    """A deterministic sample: every (command, flag, value) once, then random pairs of hostile flags."""
    rng = random.Random(seed)
    cases = [(cmd, [(flag, value)]) for cmd, flags in COMMANDS.items() for flag in flags for value in hostile(cmd, flag)]
    for cmd, flags in COMMANDS.items():
        for _ in range(per_command // 4):
            picked = rng.sample(flags, min(2, len(flags)))
            cases.append((cmd, [(f, rng.choice(hostile(cmd, f))) for f in picked]))
    return cases


def _value(token: str, workspace, tmp: Path) -> str:
    scene = workspace["scene"]
    special = {
        "MISSING": tmp / "missing.file", "FOLDER": tmp / "afolder", "AFILE": tmp / "afile",
        "RUNFOLDER": workspace["run"], "MISSINGDIR": tmp / "nodir" / "out.blend", "SCENE": scene,
        "SCENEDOTDOT": scene.parent / "x" / ".." / scene.name, "SCENELINK": tmp / "link.blend",
        "NOTBLEND": tmp / "out.txt", "LATIN1": tmp / "latin1.toml", "BINARY": tmp / "binary.bin",
    }
    return str(special.get(token, token))


def _argv(cmd: str, pairs: list[tuple[str, str]], workspace, tmp: Path) -> list[str]:
    given = dict(pairs)
    base = {
        "train": {"--config": str(workspace["folder"] / "run.toml"), "--out": str(tmp / "newrun")},
        "evaluate": {"--policy": str(workspace["policy"])},
        "bake": {"--policy": str(workspace["policy"]), "--frames": "1-20", "--output": str(tmp / "baked.blend")},
        "verify": {"--rig": "Arm", "--controls": "upper_arm,forearm,hand", "--track": "hand"},
        "export-config": {},
    }[cmd]
    flags = {**base, **given}
    if "--collection" in given:
        flags.pop("--controls", None)
    argv = [cmd, str(workspace["scene"])]
    for flag, value in flags.items():
        argv += [flag, _value(value, workspace, tmp)] if flag in given else [flag, value]
    return argv


@pytest.mark.slow
def test_hostile_flag_values_exit_2_with_one_line_and_write_nothing(workspace, tmp_path, capsys):
    (tmp_path / "afolder").mkdir()
    (tmp_path / "afile").write_text("x")
    (tmp_path / "latin1.toml").write_bytes('[rig]\nrig = "\xe9"\n'.encode("latin-1"))
    (tmp_path / "binary.bin").write_bytes(bytes(range(256)) * 4)
    os.symlink(workspace["scene"], tmp_path / "link.blend")
    scene_digest = digest(workspace["scene"])
    run_files = files_under(workspace["run"])
    before = files_under(tmp_path)
    failures = []
    for cmd, pairs in hostile_cases():
        argv = _argv(cmd, pairs, workspace, tmp_path)
        code, err = call(argv, capsys)
        lines = [ln for ln in err.strip().splitlines() if ln.strip()]
        if code != 2 or len(lines) != 1 or "Traceback" in err:
            failures.append(f"{' '.join(argv)} -> exit {code}: {err.strip()[-300:]}")
        if files_under(tmp_path) != before:
            failures.append(f"{' '.join(argv)} wrote {sorted(files_under(tmp_path) - before)}")
            before = files_under(tmp_path)
    assert not failures, "\n".join(failures[:20])
    assert digest(workspace["scene"]) == scene_digest and files_under(workspace["run"]) == run_files


# -- bake and export-config: where the result goes, checked before any work ------------------------------
@pytest.mark.parametrize("output", ["SCENE", "SCENEDOTDOT", "SCENELINK"])
def test_bake_onto_its_own_input_is_refused_before_any_work(workspace, tmp_path, capsys, output):
    os.symlink(workspace["scene"], tmp_path / "link.blend")
    before = digest(workspace["scene"])
    actions = {a.name for a in bpy.data.actions}
    code, err = call(["bake", workspace["scene"], "--policy", workspace["policy"], "--frames", "1-20", "--output",
                      _value(output, workspace, tmp_path)], capsys)
    assert code == 2 and "is the input file" in one_line(err) and "--save" in err
    assert digest(workspace["scene"]) == before and {a.name for a in bpy.data.actions} == actions


def test_bake_into_a_folder_that_cannot_be_written_is_refused_before_any_work(workspace, tmp_path, capsys):
    """Permissions can say yes where writing fails (running as root, a read-only mount): /proc stands in. It was a
    traceback out of Blender's save after the whole bake."""
    before = digest(workspace["scene"])
    code, err = call(["bake", workspace["scene"], "--policy", workspace["policy"], "--frames", "1-20", "--output",
                      "/proc/baked.blend"], capsys)
    assert code == 2 and "--output /proc/baked.blend: cannot write in /proc" in one_line(err), err
    code, err = call(["export-config", workspace["scene"], "--out", "/proc/run.toml"], capsys)
    assert code == 2 and "cannot write in /proc" in one_line(err), err
    assert digest(workspace["scene"]) == before


def test_bake_and_evaluate_take_a_run_folder_for_its_final_policy(workspace, tmp_path, capsys):
    code, _ = call(["bake", workspace["scene"], "--policy", workspace["run"], "--frames", "1-5", "--output",
                    tmp_path / "baked.blend"], capsys)
    assert code == 0 and (tmp_path / "baked.blend").is_file()
    code, _ = call(["evaluate", workspace["scene"], "--policy", workspace["run"], "--episodes", "2"], capsys)
    assert code == 0
    code, err = call(["bake", workspace["scene"], "--policy", workspace["folder"], "--frames", "1-5", "--output",
                      tmp_path / "other.blend"], capsys)
    assert code == 2 and "is a folder with no final.rdpolicy" in one_line(err), err


def test_the_sidebars_bake_keeps_the_command_lines_frame_limit(workspace):
    """The sidebar took End = 1,000,000 and froze Blender for minutes, a policy step at a time."""
    from rig_dojo.envs.families import MAX_BAKE_FRAMES
    from rig_dojo.scene.families import bake_frames

    assert bake_frames((1, MAX_BAKE_FRAMES)) == (1, MAX_BAKE_FRAMES)
    with pytest.raises(RigDojoError, match="the frame range 1-1000000 is 1,000,000 frames; at most 100,000 in one"):
        bake_frames((1, 1_000_000))


def test_export_config_to_a_folder_or_a_missing_folder_is_refused(workspace, tmp_path, capsys):
    code, err = call(["export-config", workspace["scene"], "--out", tmp_path], capsys)
    assert code == 2 and "is a folder" in one_line(err)
    code, err = call(["export-config", workspace["scene"], "--out", tmp_path / "no" / "x.toml"], capsys)
    assert code == 2 and "does not exist" in one_line(err)
    assert list(tmp_path.iterdir()) == []


# -- first contact --------------------------------------------------------------------------------
@pytest.mark.parametrize("argv,hint", [
    (["verify", "SCENE", "--rig", "Arn", "--controls", "upper_arm", "--track", "hand"], "did you mean 'Arm'"),
    (["verify", "SCENE", "--rig", "Arm", "--controls", "upper_arm,forarm", "--track", "hand"],
     "did you mean 'forearm'"),
    (["verify", "SCENE", "--rig", "Arm", "--controls", "upper_arm", "--track", "Hand"], "did you mean 'hand'"),
    (["verify", "SCENE", "--rig", "Arm", "--collection", "ArmBone", "--track", "hand"], "did you mean 'ArmBones'"),
    (["train", "SCENE", "--config", "CONFIG", "--target", "Targt", "--out", "OUT"], "did you mean 'Target'"),
])
def test_misspelt_names_get_a_suggestion(workspace, tmp_path, capsys, argv, hint):
    mapping = {"SCENE": workspace["scene"], "CONFIG": workspace["folder"] / "run.toml", "OUT": tmp_path / "run"}
    code, err = call([mapping.get(a, a) for a in argv], capsys)
    assert code == 2 and hint in one_line(err), err


def test_collection_and_track_work_as_in_the_sidebar_and_verify(workspace, capsys):
    code, err = call(["verify", workspace["scene"], "--rig", "Arm", "--collection", "ArmBones", "--effector", "hand"],
                     capsys)
    assert code == 0, err
    args = cli.build_parser().parse_args(["train", str(workspace["scene"]), "--config",
                                          str(workspace["folder"] / "run.toml"), "--collection", "ArmBones",
                                          "--track", "forearm"])
    bpy.ops.wm.open_mainfile(filepath=str(workspace["scene"]))
    config = cli._config_from_args(args)
    assert config.rig.controls == ["upper_arm", "forearm", "hand"] and config.rig.effector == "forearm"


def test_a_run_whose_budget_ends_before_the_first_update_says_its_policy_is_untrained(tmp_path, capsys):
    """A big creature and a budget shorter than one rollout: the run ships its starting policy and says so (it
    said only "trained 0 steps"); summary.json stays strict JSON."""
    import importlib.util

    from rig_dojo.headless import run_training

    spec = importlib.util.spec_from_file_location("core_agents", Path(__file__).parents[1] / "core" / "test_agents.py")
    core = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(core)
    config = core.long_ppo_config(total_steps=0, minutes=0.01, n_steps=400)  # 400 steps x 20 ms: 8 s a rollout
    summary = run_training(config, lambda c, n, s, **k: core.ToyReach(c, n, s, step_delay=0.02, **k),
                           tmp_path / "run", episodes=2)
    out = capsys.readouterr().out
    assert summary["steps"] == 0 and "note: the budget ran out before the first update, so this policy is the " \
        "untrained start; give more --minutes or --steps" in out, out
    text = (tmp_path / "run" / "summary.json").read_text()
    json.loads(text, parse_constant=lambda word: pytest.fail(f"summary.json is not strict JSON: {word}"))


def test_a_run_resumed_past_its_steps_says_nothing_more_was_trained(tmp_path, capsys):
    """Resumed with a budget it already had: the policy is the run's trained one, not "the untrained start"."""
    import importlib.util

    from rig_dojo.headless import run_training

    spec = importlib.util.spec_from_file_location("core_agents", Path(__file__).parents[1] / "core" / "test_agents.py")
    core = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(core)
    config = core.long_ppo_config(total_steps=1024)  # two updates of 8 x 64
    run_training(config, core.make_toy_env, tmp_path / "run", episodes=2)
    capsys.readouterr()
    summary = run_training(config, core.make_toy_env, tmp_path / "run", resume=True, episodes=2)
    out = capsys.readouterr().out
    assert summary["steps"] == 1024, summary["steps"]
    assert "note: nothing more was trained: the run already had 1,024 steps" in out, out
    assert "untrained start" not in out


def test_help_says_what_bake_frames_and_evaluate_do(capsys):
    parser = cli.build_parser()
    for argv, words in ((["bake", "--help"], "the frames to bake"), (["evaluate", "--help"], "deterministic action")):
        with pytest.raises(SystemExit):
            parser.parse_args(argv)
        assert words in " ".join(capsys.readouterr().out.split())


def test_a_not_exact_report_never_says_ok():
    from rig_dojo.scene.kinematic.verify import BoneError, VerifyReport

    report = VerifyReport(rig="rig", controls=["forearm_fk.L"], tracked=["DEF-hand.L"], samples=8, chain_length=1.0,
                          bones=[BoneError("DEF-hand.L", 1e-6, 1e-4)],
                          problems=["forearm_fk.L / Limit Rotation: world space is not supported"])
    text = report.format()
    assert "NOT EXACT" in text and not re.search(r"^\s+ok\b", text, re.M) and "see why" in text
    exact = VerifyReport(rig="rig", controls=["a"], tracked=["b"], samples=8, chain_length=1.0,
                         bones=[BoneError("b", 1e-6, 1e-4)])
    assert re.search(r"^\s+ok\s+b:", exact.format(), re.M)


def test_summary_and_evaluate_leave_out_limit_violations_on_a_rig_without_limits(workspace, capsys):
    summary = json.loads((workspace["run"] / "summary.json").read_text())
    assert "limit_violations" not in summary and summary["steps"] >= 2048
    code, err = call(["evaluate", workspace["scene"], "--policy", workspace["policy"], "--episodes", "4"], capsys)
    assert code == 0, err


def test_a_camera_term_on_the_reach_task_is_refused_before_training(workspace, tmp_path, capsys):
    from rig_dojo.agents.config import RewardTermConfig

    config = small_config()
    config.rewards = [RewardTermConfig("distance", 1.0, True, {}), RewardTermConfig("camera_framing", 1.0, True, {})]
    (tmp_path / "camera_term.toml").write_text(config.to_toml())
    code, err = call(["train", workspace["scene"], "--config", tmp_path / "camera_term.toml", "--out",
                      tmp_path / "run"], capsys)
    assert code == 2 and "camera_framing" in one_line(err)
    assert not (tmp_path / "run").exists()  # no half-made run folder left behind


def test_the_summary_counts_the_last_snapshot_even_when_the_trainer_is_slow_to_publish_it(tmp_path, monkeypatch):
    """A session says "finished" a moment before its thread publishes the last snapshot; on a loaded machine that
    moment grew long enough for run_training to read the snapshot before it (a camera solve's summary.json said 5,175
    steps of its 6,000 in a full suite run). Here the moment is made long: the summary must still count them all."""
    from rig_dojo.agents.background import BackgroundRun
    from rig_dojo.envs.kinematic.family import env_factory
    from rig_dojo.headless import run_training
    from rig_dojo.scene.kinematic.task_extract import task_from_config

    set_state = BackgroundRun._set_state

    def slow_to_publish(self, state, only_from=None):
        changed = set_state(self, state, only_from)
        if changed and state == "finished":
            time.sleep(1.0)  # the thread set aside by the OS between the state and the last snapshot
        return changed

    monkeypatch.setattr(BackgroundRun, "_set_state", slow_to_publish)
    scenes.build_demo_scene()
    config = small_config(steps=2048)
    summary = run_training(config, env_factory(task_from_config(config)), tmp_path / "run", quiet=True, episodes=4)
    last = int((tmp_path / "run" / "metrics.csv").read_text().splitlines()[-1].split(",")[0])
    assert summary["steps"] == last >= 2048
