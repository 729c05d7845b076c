"""Never lose a run, never run code from a file, never allocate what a file declares (issue 18), without bpy.

Run folders belong to one training at a time; a stop saves at the stop point; resume finds the newest
checkpoint it can read; checkpoints and policy files load no code and are size-checked before anything
is inflated; settings are bounded where they are parsed; run files are readable by colleagues; curve.png
has axes, numbers and a legend.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import pickle
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from test_agents import (Payload, TESTS_DIR, json_load, long_ppo_config, make_toy_env, toy_config,  # noqa: F401
                         wait_for)

from rig_dojo.agents import policy_file, run_folder
from rig_dojo.agents.algorithms import build_model, load_checkpoint, save_checkpoint
from rig_dojo.agents.checkpoint_file import pickle_globals
from rig_dojo.agents.config import TrainConfig
from rig_dojo.agents.curve import (BACKGROUND, COLORS, Series, draw_text, format_number, nice_ticks, render_plot,
                                   text_width)
from rig_dojo.agents.session import TrainingSession
from rig_dojo.errors import RigDojoError, did_you_mean


def folder_state(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` with its sha256 (what 'nothing written' compares; the lock file says
    which process last held the folder)."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != run_folder.LOCK_NAME}


def trained_run(tmp_path: Path, steps: int = 4096, every: int = 1024, algo: str = "ppo") -> Path:
    config = long_ppo_config(total_steps=steps) if algo == "ppo" else toy_config(algo, n_envs=2, net_arch=[8],
                                                                                 total_steps=steps)
    if algo in ("sac", "td3", "dqn"):
        config.algo.extra["buffer_size"] = 1000
    config.output.checkpoint_every = every
    run = tmp_path / "run"
    session = TrainingSession(config, make_toy_env, run)
    session.start()
    assert session.wait(120) == "finished", session.error
    return run


# -- one training per run folder ------------------------------------------------------------------
def test_a_second_session_into_a_folder_in_use_is_refused_and_writes_nothing(tmp_path):
    first = TrainingSession(long_ppo_config(), make_toy_env, tmp_path / "run")
    first.start()
    try:
        assert wait_for(lambda: (tmp_path / "run" / "metrics.csv").exists())
        second = TrainingSession(long_ppo_config(), make_toy_env, tmp_path / "run")
        with pytest.raises(RigDojoError, match="another training is writing to"):
            second.start()
        assert second.state == "error"
        # the first one is untouched and still training
        assert first.state == "running"
        before = first.latest().step
        assert wait_for(lambda: first.latest().step > before)
    finally:
        first.stop()
    assert first.state == "stopped"
    # once it has ended the folder is free again, and holds a run: a new training is still refused
    with pytest.raises(RigDojoError, match="already holds a run"):
        TrainingSession(long_ppo_config(), make_toy_env, tmp_path / "run").start()


# Two processes starting together on one folder: tests/training/test_run_folder_processes.py (slow)


def test_claim_refuses_a_file_and_an_unwritable_place(tmp_path):
    file = tmp_path / "file"
    file.write_text("not a folder")
    with pytest.raises(RigDojoError, match="is a file"):
        run_folder.claim(file)
    locked = tmp_path / "ro"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("running as a user who can write anywhere (root)")
        with pytest.raises(RigDojoError, match="cannot create|not writable"):
            run_folder.claim(locked / "run")
    finally:
        locked.chmod(0o700)


def test_a_refused_build_leaves_no_half_made_folder(tmp_path):
    config = long_ppo_config()
    config.algo.extra = {"not_a_setting": 1}  # refused when the model is built, after the folder was made
    with pytest.raises(RigDojoError, match="not_a_setting"):
        TrainingSession(config, make_toy_env, tmp_path / "new" / "run").start()
    assert not (tmp_path / "new" / "run").exists()


# -- stop and resume ------------------------------------------------------------------------------
def test_stop_saves_a_checkpoint_and_the_policy_at_the_stop_step(tmp_path):
    session = TrainingSession(long_ppo_config(), make_toy_env, tmp_path / "run")  # no periodic checkpoint
    session.start()
    assert wait_for(lambda: session.latest() is not None and session.latest().step > 1000)
    session.stop()
    step = session.latest().step
    meta = json_load(tmp_path / "run" / "checkpoint.json")
    assert meta["step"] == step and (tmp_path / "run" / "checkpoints" / meta["checkpoint"]).exists()
    assert policy_file.load_policy(tmp_path / "run" / "final.rdpolicy").metadata["num_timesteps"] == step


def test_a_damaged_latest_checkpoint_resumes_from_the_one_before_with_a_note(tmp_path):
    run = trained_run(tmp_path, steps=3072, every=1024)
    latest = json_load(run / "checkpoint.json")
    path = run / "checkpoints" / latest["checkpoint"]
    data = bytearray(path.read_bytes())
    data[len(data) // 2: len(data) // 2 + 64] = b"\0" * 64  # a bad sector in the middle
    path.write_bytes(bytes(data))
    session = TrainingSession.continue_run(run, make_toy_env)
    assert any("cannot be read" in n for n in session.resume_notes)
    assert any("newest readable" in n for n in session.resume_notes)
    session.config.algo.total_steps = 4096
    session.start()
    assert session.wait(60) == "finished", session.error
    assert 0 < session.resumed_from_step < latest["step"]


def test_a_damaged_pointer_falls_back_to_the_checkpoints_own_records(tmp_path):
    run = trained_run(tmp_path, steps=2048, every=1024)
    latest = json_load(run / "checkpoint.json")
    (run / "checkpoint.json").write_text('{"checkpoint": "step_0000')  # cut short
    point = run_folder.find_resume_point(run)
    assert point.meta is not None and point.meta["step"] == latest["step"]
    assert point.meta["episodes"] == latest["episodes"]
    assert any("checkpoint.json is damaged" in n for n in point.notes)


def test_no_readable_checkpoint_is_one_clear_error_naming_the_way_out(tmp_path):
    run = trained_run(tmp_path, steps=2048, every=1024)
    for path in (run / "checkpoints").glob("step_*"):
        if path.suffix in (".zip", ".npz"):
            path.write_bytes(b"garbage")
    with pytest.raises(RigDojoError, match="no checkpoint can be read.*--config"):
        TrainingSession.continue_run(run, make_toy_env)


def test_a_run_killed_before_its_first_checkpoint_starts_over_on_resume(tmp_path):
    run = tmp_path / "early"
    run.mkdir()
    config = long_ppo_config(total_steps=1024)
    config.save(run / "config.toml")
    (run / "metrics.csv").write_text("step,wall_time\n128,0.1\n")
    session = TrainingSession.continue_run(run, make_toy_env)
    assert any("starting it over" in n for n in session.resume_notes)
    session.start()
    assert session.wait(60) == "finished", session.error
    assert (run / "final.rdpolicy").exists() and session.resumed_from_step == 0


# -- checkpoints load no code ---------------------------------------------------------------------
@pytest.mark.parametrize("algo", ["ppo", "sb3_ppo", "a2c", "sac", "td3", "dqn", "qlearning"])
def test_checkpoints_are_plain_arrays_and_restore_the_model(tmp_path, algo):
    config = toy_config(algo, n_envs=2, net_arch=[8])
    if algo in ("sac", "td3", "dqn"):
        config.algo.extra.update(buffer_size=1000, learning_starts=50)
    env = make_toy_env(config, 2, seed=0)
    model = build_model(config, env)
    model.learn(400)
    path = tmp_path / "step.zip"
    with open(path, "wb") as f:
        save_checkpoint(model, f, algo)
    with np.load(path, allow_pickle=False) as npz:  # no member needs a pickle
        assert all(npz[name].dtype.kind in "fiub" for name in npz.files)
    loaded = load_checkpoint(algo, path, make_toy_env(config, 2, seed=0), config)
    obs = np.random.default_rng(1).uniform(-1, 1, (16, 4)).astype(np.float32)
    np.testing.assert_allclose(loaded.predict(obs, deterministic=True)[0], model.predict(obs, deterministic=True)[0])
    if algo == "ppo":  # our PPO: Adam's state, the counters and the learning rate it adapted
        ours, theirs = model.optimizer.state_dict()["state"], loaded.optimizer.state_dict()["state"]
        assert ours.keys() == theirs.keys() and len(ours) > 0
        for index in ours:
            for key, value in ours[index].items():
                np.testing.assert_allclose(np.asarray(value), np.asarray(theirs[index][key]), rtol=1e-6)
        assert (loaded.num_timesteps, loaded.iterations, loaded.learning_rate) == \
            (model.num_timesteps, model.iterations, model.learning_rate)
    elif algo != "qlearning":
        for name, optimizer in _optimizers(model).items():
            ours, theirs = optimizer.state_dict()["state"], _optimizers(loaded)[name].state_dict()["state"]
            assert ours.keys() == theirs.keys()
            for index in ours:
                for key, value in ours[index].items():
                    np.testing.assert_allclose(np.asarray(value), np.asarray(theirs[index][key]), rtol=1e-6)


def _optimizers(model):
    from rig_dojo.agents.checkpoint_file import _optimizers as optimizers

    return optimizers(model)


def _sb3_zip_with(member: str, payload_bytes: bytes, source: Path, target: Path, key: str | None = None) -> None:
    """A copy of SB3's own checkpoint ``source`` with ``member`` replaced (or, for ``data``, one setting)."""
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == member:
                if key is not None:
                    settings = json.loads(data)
                    settings[key] = {":type:": "<class 'x'>",
                                     ":serialized:": base64.b64encode(payload_bytes).decode()}
                    data = json.dumps(settings).encode()
                else:
                    data = payload_bytes
            zout.writestr(info.filename, data)


def test_a_checkpoint_with_a_pickle_payload_is_refused_without_running_it(tmp_path):
    import torch

    marker = tmp_path / "pwned"
    run = trained_run(tmp_path, steps=1024, every=1024, algo="sb3_ppo")
    meta = json_load(run / "checkpoint.json")
    checkpoint = run / "checkpoints" / meta["checkpoint"]
    config = TrainConfig.load(run / "config.toml")
    env = make_toy_env(config, config.algo.n_envs, 0)

    # ours, with an object array (the only way a pickle gets into an npz)
    evil = tmp_path / "evil_npz.zip"
    with zipfile.ZipFile(checkpoint) as zf:
        arrays = {n[:-4]: np.load(io.BytesIO(zf.read(n))) for n in zf.namelist()}
    arrays["policy/action_net.weight"] = np.array([Payload(marker)], dtype=object)
    with open(evil, "wb") as f:
        np.savez(f, **arrays)
    with pytest.raises(RigDojoError, match="refusing to load"):
        load_checkpoint("sb3_ppo", evil, env, config)

    # SB3's own zip (run folders from before): a pickle hidden in a setting, as in issue 18, and in the weights
    model = build_model(config, env)
    legacy = tmp_path / "legacy.zip"
    model.save(legacy)
    assert load_checkpoint("sb3_ppo", legacy, env, config) is not None  # a genuine one still resumes
    in_data = tmp_path / "legacy_data.zip"
    _sb3_zip_with("data", pickle.dumps(Payload(marker)), legacy, in_data, key="observation_space")
    with pytest.raises(RigDojoError, match="holds pickled code"):
        load_checkpoint("sb3_ppo", in_data, env, config)
    buf = io.BytesIO()
    torch.save({"weight": Payload(marker)}, buf)
    in_weights = tmp_path / "legacy_weights.zip"
    _sb3_zip_with("policy.pth", buf.getvalue(), legacy, in_weights)
    with pytest.raises(RigDojoError, match="something other than weights"):
        load_checkpoint("sb3_ppo", in_weights, env, config)

    # and through the run folder: --resume refuses it, nothing runs, nothing in the folder changes
    os.replace(in_data, checkpoint)
    before = folder_state(run)
    session = TrainingSession.continue_run(run, make_toy_env)
    with pytest.raises(RigDojoError, match="holds pickled code"):
        session.start()
    assert folder_state(run) == before
    assert not marker.exists()


def test_our_ppo_checkpoint_with_a_pickle_or_a_bomb_is_refused_without_running_it(tmp_path):
    import torch

    marker = tmp_path / "pwned"
    run = trained_run(tmp_path, steps=1024, every=512)
    meta = json_load(run / "checkpoint.json")
    checkpoint = run / "checkpoints" / meta["checkpoint"]
    assert checkpoint.suffix == ".npz"
    config = TrainConfig.load(run / "config.toml")
    env = make_toy_env(config, config.algo.n_envs, 0)
    with np.load(checkpoint, allow_pickle=False) as npz:
        arrays = {name: npz[name] for name in npz.files}
    assert "model/actor.0.weight" in arrays and "meta" in arrays
    evil = tmp_path / "evil.npz"
    with open(evil, "wb") as f:
        np.savez(f, **{**arrays, "model/actor.0.weight": np.array([Payload(marker)], dtype=object)})
    raw = tmp_path / "raw.npz"
    raw.write_bytes(pickle.dumps(Payload(marker)))
    torch_file = tmp_path / "torch.npz"
    torch.save({"payload": Payload(marker)}, torch_file)
    bomb = tmp_path / "bomb.npz"
    bomb.write_bytes(nested_bomb(64 << 20))  # 64 MB of zeros declared by a file of a few hundred KB
    for path, message in ((evil, "refusing to load"), (raw, "not a valid npz"), (torch_file, "refusing to load"),
                          (bomb, "inflate")):
        with pytest.raises(RigDojoError, match=message):
            load_checkpoint("ppo", path, env, config)
    # and through the run folder: --resume refuses it, nothing runs, nothing in the folder changes
    os.replace(evil, checkpoint)
    before = folder_state(run)
    with pytest.raises(RigDojoError, match="refusing to load"):
        TrainingSession.continue_run(run, make_toy_env).start()
    assert folder_state(run) == before
    assert not marker.exists()


def test_a_ppo_run_from_before_our_ppo_resumes_as_sb3_ppo(tmp_path):
    """Before agents/ppo.py, ``ppo`` was Stable-Baselines3's PPO and its checkpoints were .zip: such a run
    continues with Stable-Baselines3's PPO, and says so in its config.toml."""
    run = trained_run(tmp_path, steps=1024, every=512, algo="sb3_ppo")
    text = (run / "config.toml").read_text()
    assert 'name = "sb3_ppo"' in text
    (run / "config.toml").write_text(text.replace('name = "sb3_ppo"', 'name = "ppo"').replace(
        "total_steps = 1024", "total_steps = 2048"))
    session = TrainingSession.continue_run(run, make_toy_env)
    session.start()
    assert session.wait(60) == "finished", session.error
    assert session.config.algo.name == "sb3_ppo" and session.resumed_from_step == 1024
    assert TrainConfig.load(run / "config.toml").algo.name == "sb3_ppo"
    assert json_load(run / "checkpoint.json")["checkpoint"].endswith(".zip")
    assert policy_file.load_policy(run / "final.rdpolicy").trainer == "sb3_ppo"


def test_pickle_globals_reads_names_without_unpickling(tmp_path):
    marker = tmp_path / "pwned"
    names = pickle_globals(pickle.dumps(Payload(marker)))
    assert names == ["posix.system"] or names == ["nt.system"]
    assert not marker.exists()
    assert pickle_globals(b"not a pickle") == ["?"]


# -- sizes are checked before anything is allocated -------------------------------------------------
def _policy_with_weights(tmp_path: Path, weights: bytes, edit=None, algo: str = "ppo") -> Path:
    config = toy_config(algo, n_envs=2, net_arch=[8])
    env = make_toy_env(config, 2, seed=0)
    good = tmp_path / "good.rdpolicy"
    policy_file.save_policy(build_model(config, env), good, algo=algo, config=config, env=env)
    with zipfile.ZipFile(good) as zf:
        metadata = json.loads(zf.read("metadata.json"))
    if edit is not None:
        edit(metadata)
    metadata["weights_sha256"] = hashlib.sha256(weights).hexdigest()  # a careful forger
    out = tmp_path / "crafted.rdpolicy"
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("metadata.json", json.dumps(metadata))
        zf.writestr("weights.npz", weights)
    return out


def nested_bomb(declared_bytes: int) -> bytes:
    """weights.npz with one deflated array of zeros: a few hundred KB holding ``declared_bytes``."""
    buf = io.BytesIO()
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False,
                                                   "shape": (declared_bytes // 4,)})
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        with zf.open("action_net.weight.npy", "w", force_zip64=True) as member:
            member.write(header.getvalue())
            chunk = bytes(1 << 24)
            for _ in range(declared_bytes // len(chunk)):
                member.write(chunk)
    return buf.getvalue()


BOMB_MEMORY = r'''
import resource, sys
from rig_dojo.agents.policy_file import load_policy
from rig_dojo.errors import RigDojoError
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    load_policy(sys.argv[1])
    print("LOADED")
except RigDojoError as exc:
    print("REFUSED", exc)
print("EXTRA_KB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)
'''


@pytest.mark.slow
def test_a_nested_bomb_policy_is_refused_using_under_100_mb(tmp_path):
    bomb = _policy_with_weights(tmp_path, nested_bomb(1_200 << 20))  # 1.2 GB of zeros inside
    assert bomb.stat().st_size < 5 << 20
    # torch, SB3 and the policy module are imported before the baseline is taken
    code = "import torch, stable_baselines3, rig_dojo.agents.algorithms\n" + BOMB_MEMORY
    proc = subprocess.run([sys.executable, "-c", code, str(bomb)], capture_output=True, text=True, timeout=300)
    assert "REFUSED" in proc.stdout and "inflate" in proc.stdout, proc.stdout + proc.stderr[-2000:]
    extra_kb = int(proc.stdout.split("EXTRA_KB")[1].split()[0])
    assert extra_kb < 100 * 1024, proc.stdout


@pytest.mark.parametrize("edit,message", [
    (lambda m: m.__setitem__("observation_space", None), "observation_space is not a space"),
    (lambda m: m.__setitem__("action_space", {"type": "Box", "shape": [10**6, 10**6], "low": [], "high": []}),
     "action_space has shape"),
    (lambda m: m.__setitem__("config", None), "no config text"),
    (lambda m: m["policy_kwargs"].__setitem__("net_arch", [10**6, 10**6]), "net_arch"),
    (lambda m: m["policy_kwargs"].__setitem__("optimizer_class", "os.system"), "optimizer_class"),
    (lambda m: m["policy_kwargs"].__setitem__("activation_fn", None), "activation_fn"),
    (lambda m: m.__setitem__("controls", "hand"), "controls"),
    (lambda m: m.__setitem__("task_action_space", {"type": "MultiDiscrete", "nvec": [0]}), "nvec"),
])
@pytest.mark.parametrize("algo", ["ppo", "sb3_ppo"])
def test_malformed_policy_metadata_is_one_error(tmp_path, edit, message, algo):
    weights = io.BytesIO()
    np.savez(weights, x=np.zeros(3, dtype=np.float32))
    crafted = _policy_with_weights(tmp_path, weights.getvalue(), edit, algo)
    with pytest.raises(RigDojoError, match=message):
        policy_file.load_policy(crafted)


@pytest.mark.parametrize("edit,message", [
    (lambda m: m["policy_kwargs"].__setitem__("obs_dim", 10**9), "obs_dim"),
    (lambda m: m["policy_kwargs"]["action"].__setitem__("size", 7), "action layout"),
    (lambda m: m["policy_kwargs"]["action"].__setitem__("low", ["os.system"] * 2), "action layout"),
    (lambda m: m["policy_kwargs"].__setitem__("obs_clip", float("nan")), "obs_clip"),
    (lambda m: m["policy_kwargs"].__setitem__("extra", 1), "'extra' is not a setting"),
])
def test_a_malformed_ppo_network_description_is_one_error(tmp_path, edit, message):
    weights = io.BytesIO()
    np.savez(weights, x=np.zeros(3, dtype=np.float32))
    crafted = _policy_with_weights(tmp_path, weights.getvalue(), edit)
    with pytest.raises(RigDojoError, match=message):
        policy_file.load_policy(crafted)


def test_an_array_declaring_more_than_it_holds_is_refused(tmp_path):
    buf = io.BytesIO()
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (10**11,)})
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("action_net.weight.npy", header.getvalue() + bytes(64))
    crafted = _policy_with_weights(tmp_path, buf.getvalue())
    with pytest.raises(RigDojoError, match="declares shape|inflate"):
        policy_file.load_policy(crafted)


# -- settings bounded where they are parsed ---------------------------------------------------------
@pytest.mark.parametrize("toml,message", [
    ("[algo]\nseed = -1\n", "algo.seed"),
    ("[algo]\nseed = 4294967296\n", "algo.seed"),
    ("[algo]\ntotal_steps = 100000000000000\n", "algo.total_steps"),
    ("[algo]\nminutes = nan\n", "algo.minutes"),
    ("[algo]\nminutes = inf\n", "algo.minutes"),
    ("[algo]\nnet_arch = [1000000, 1000000]\n", "algo.net_arch"),
    ("[algo]\nn_envs = 100000000\n", "algo.n_envs"),
    ('[[rewards]]\nname = "distance"\nweight = 1e308\n', r"rewards\[0\] \(distance\): weight"),
    ('[[rewards]]\nname = "distance"\nweight = nan\n', r"rewards\[0\] \(distance\)"),
])
def test_settings_out_of_range_are_refused_naming_the_key(toml, message):
    with pytest.raises(RigDojoError, match=message):
        TrainConfig.from_toml(toml)


def test_a_config_that_is_not_utf8_is_one_error(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes('[rig]\nrig = "Bras gauche \xe9"\n'.encode("latin-1"))
    with pytest.raises(RigDojoError, match="not UTF-8"):
        TrainConfig.load(path)


def test_did_you_mean_offers_the_bone_that_contains_the_name():
    bones = ["DEF-hand.L", "ORG-hand.L", "hand_fk.L", "MCH-hand_fk.L", "forearm_fk.L", "WGT-rig_hand.L"]
    assert did_you_mean("hand.L", bones).startswith("; did you mean 'DEF-hand.L'")
    assert "WGT" not in did_you_mean("rig_hand", bones)
    assert did_you_mean("zzz", bones) == ""


# -- run files ------------------------------------------------------------------------------------
def test_run_files_are_readable_by_colleagues(tmp_path):
    old = os.umask(0o022)
    try:
        run = trained_run(tmp_path, steps=1024, every=1024)
    finally:
        os.umask(old)
    for name in ("config.toml", "checkpoint.json", "final.rdpolicy"):
        mode = stat.S_IMODE((run / name).stat().st_mode)
        assert mode == 0o644, (name, oct(mode))


# -- curve.png ------------------------------------------------------------------------------------
def test_ticks_are_round_numbers_covering_the_data():
    assert nice_ticks(0, 600_000, 6) == [0, 200_000, 400_000, 600_000]
    assert nice_ticks(0, 1_000_000, 6) == [0, 200_000, 400_000, 600_000, 800_000, 1_000_000]
    ticks = nice_ticks(-41.3, -3.2, 5)
    assert ticks[0] <= -41.3 and ticks[-1] >= -3.2 and len(ticks) <= 7
    assert [format_number(v, 100_000) for v in (0, 200_000, 1_500_000)] == ["0K", "200K", "1.5M"]
    assert format_number(-2.5, 0.5) == "-2.5" and format_number(0.05, 0.01) == "0.05"


def test_text_is_drawn_in_the_bitmap_font():
    image = np.zeros((20, 80, 4), dtype=np.float32)
    end = draw_text(image, "STEPS 10K", 1, 2, color=(1, 1, 1, 1))
    assert end == 1 + text_width("STEPS 10K") + 1
    ink = image[..., 0] > 0
    assert ink.sum() > 40 and not ink[:10].any()  # only within the 7 rows from the top, below row 2


def test_the_curve_has_axes_numbers_and_a_legend_in_each_runs_colour():
    steps = np.linspace(0, 600_000, 100)
    series = [Series("arm", steps, -40 + 30 * steps / steps[-1]), Series("human", steps, -30 + 10 * steps / steps[-1])]
    image = render_plot(series, 640, 240)
    assert image.shape == (240, 640, 4)

    def has(color, region):
        return np.isclose(region[..., :3], color[:3], atol=1e-3).all(axis=-1).sum()

    text = (0.85, 0.85, 0.87)
    left_margin, bottom_margin = image[20:, :30], image[:12, 30:]
    assert has(text, left_margin) > 30  # the return numbers beside the y axis
    assert has(text, bottom_margin) > 30  # the step numbers under the x axis
    assert has(text, image[-10:]) > 30  # the y axis's label above the plot
    for k in range(2):  # each run's curve, and its name in the legend, in its colour
        assert has(COLORS[k], image) > 200
    assert not np.isclose(image[..., :3], BACKGROUND[:3]).all()


def test_an_objects_type_is_named_with_its_article():
    from rig_dojo.errors import a_or_an

    assert [a_or_an(t) for t in ("empty", "mesh", "armature", "light")] == ["an empty", "a mesh", "an armature",
                                                                             "a light"]
