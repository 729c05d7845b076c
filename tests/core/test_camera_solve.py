"""The shot solver without Blender: its building blocks, its settings, its session and solved-path files, the
algorithm-hooks registry that finds them, animated obstacles and the one set of shot metrics, on a shot made
by hand (the shot suite built with bpy is tests/blender/test_camera_shots.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rig_dojo.agents.config import SEARCH_ALGORITHMS, TrainConfig, defaults_for
from rig_dojo.envs.camera.solve import SolveWeights, bspline_basis, whittaker_matrices
from rig_dojo.envs.camera.task import CameraTask, scripted_rollout, shot_metrics
from rig_dojo.envs.camera.twin import CameraSpec
from rig_dojo.errors import RigDojoError

FRAMES = 30


def _box(center, half) -> np.ndarray:
    """``(12, 3, 3)`` triangles of a closed box."""
    c, h = np.asarray(center, float), np.asarray(half, float)
    v = np.array([[-1, -1, -1], [1, -1, -1], [1, 1, -1], [-1, 1, -1], [-1, -1, 1], [1, -1, 1], [1, 1, 1], [-1, 1, 1]])
    v = c + v * h
    quads = [(0, 3, 2, 1), (4, 5, 6, 7), (0, 1, 5, 4), (1, 2, 6, 5), (2, 3, 7, 6), (3, 0, 4, 7)]
    return np.array([v[list(t)] for a, b, c_, d in quads for t in ((a, b, c_), (a, c_, d))])


def hand_made_shot(moving: bool = True) -> CameraSpec:
    """A subject walking along +x at y = 5, a wall hiding part of its path from a camera at the origin, and
    (``moving``) a van crossing between them during the middle third of the shot."""
    t = np.linspace(0.0, 1.0, FRAMES)
    subject = np.stack([-3.0 + 6.0 * t, np.full(FRAMES, 5.0), np.full(FRAMES, 1.0)], axis=1)
    offsets = np.array([[0, 0, 0], [0.3, 0, 0], [-0.3, 0, 0], [0, 0, 0.3], [0, 0, -0.3]])
    wall = _box((-1.5, 2.5, 1.0), (0.8, 0.1, 1.5))
    kwargs = {}
    if moving:
        van_x = np.where((t > 0.33) & (t < 0.66), 0.0, 30.0)  # far away except in the middle third
        kwargs = dict(moving_triangles=np.stack([_box((x, 1.5, 1.0), (1.0, 0.3, 1.5)) for x in van_x]),
                      moving_ids=np.ones(12, dtype=np.int64))
    return CameraSpec(
        camera_name="Cam", subject_name="Walker", subject_positions=subject,
        subject_points=subject[:, None, :] + offsets[None], camera_position=np.array([0.0, -1.0, 1.2]),
        camera_angles=np.array([0.0, 0.0, 0.0]), subject_radius=0.3, lens=35.0, resolution_x=640,
        resolution_y=360, frame_start=1, frame_end=FRAMES, obstacle_triangles=wall,
        obstacle_ids=np.zeros(12, dtype=np.int64), obstacle_names=["Wall", "Van"],
        obstacle_closed=np.array([True, True]), **kwargs)


# --- building blocks ------------------------------------------------------------------------


def test_spline_basis_and_smoother_are_what_the_solver_assumes():
    basis = bspline_basis(97, 8)
    np.testing.assert_allclose(basis.sum(axis=1), 1.0, atol=1e-12)  # a constant offset is representable
    t = np.linspace(0, 1, 97)
    coef, *_ = np.linalg.lstsq(basis, t, rcond=None)
    np.testing.assert_allclose(basis @ coef, t, atol=1e-9)  # and so is a straight line at constant speed
    assert np.all(np.abs(np.diff(basis @ np.random.default_rng(0).normal(size=8), n=4)) < 1e-3)  # smooth
    ident, strong = whittaker_matrices(60, [0.0, 1e6])
    np.testing.assert_array_equal(ident, np.eye(60))
    ramp = 0.3 + 0.01 * np.arange(60) ** 2  # a quadratic passes through untouched
    np.testing.assert_allclose(strong @ ramp, ramp, atol=1e-6)
    noisy = ramp + np.random.default_rng(1).normal(0, 0.05, 60)
    assert np.abs(np.diff(strong @ noisy, n=3)).max() < 0.1 * np.abs(np.diff(noisy, n=3)).max()


def test_moving_obstacles_hide_the_subject_only_while_they_pass():
    spec, still = hand_made_shot(), hand_made_shot(moving=False)
    cam = np.tile(spec.camera_position, (FRAMES, 1))
    frames = np.arange(FRAMES)
    occ, _, _ = CameraTask(spec, n_envs=1).measure_positions(cam, frames)
    occ_still, _, _ = CameraTask(still, n_envs=1).measure_positions(cam, frames)
    t = np.linspace(0.0, 1.0, FRAMES)
    passing = (t > 0.33) & (t < 0.66)  # the van's frames
    assert np.all(occ[passing] > 0) and np.all(occ[~passing] == occ_still[~passing])
    assert np.any(occ[passing] > occ_still[passing])
    # inside the van while it passes is a collision, not before
    _, collision, _ = CameraTask(spec, n_envs=1).measure_positions(np.tile([0.0, 1.5, 1.0], (FRAMES, 1)), frames)
    assert collision[FRAMES // 2] and not collision[0]


def test_shot_files_keep_the_moving_obstacles(tmp_path):
    spec = hand_made_shot()
    loaded = CameraSpec.load(spec.save(tmp_path / "shot.npz"))
    np.testing.assert_array_equal(loaded.moving_triangles, spec.moving_triangles)
    np.testing.assert_array_equal(loaded.moving_ids, spec.moving_ids)


def test_shot_metrics_define_success_as_the_readme_says():
    spec = hand_made_shot(moving=False)
    task = CameraTask(spec, n_envs=1)
    track = shot_metrics(task, scripted_rollout(task, "track_to"))
    assert track["framing"] < 1e-9 and track["collisions"] == 0 and 0 < track["occlusion"] < 1
    assert track["jerk"] == pytest.approx(np.hypot(track["jerk_position"], track["jerk_rotation"]))
    assert track["on_target"] < 1.0 and track["success"] == (track["on_target"] >= 0.9)


# --- settings and the algorithm-hooks registry ------------------------------------------------


def test_solve_is_the_cameras_default_and_found_through_the_registry():
    from rig_dojo.agents.cem import CemSession
    from rig_dojo.agents.session import TrainingSession, session_class
    from rig_dojo.envs.camera.solve_session import ShotSolveSession
    from rig_dojo.envs.families import algorithm_hooks, all_algorithms, family_of

    family = family_of("camera")
    assert family.default_algorithm == "solve" and {"solve", "cem"} <= set(family.algorithms)
    assert SEARCH_ALGORITHMS == ("cem", "solve")  # the sidebar stores the index: new names go last
    assert session_class("solve") is ShotSolveSession and session_class("cem") is CemSession
    assert session_class("ppo") is TrainingSession and algorithm_hooks("ppo") is None
    assert "solve" in all_algorithms()
    config = TrainConfig(task="camera")
    config.algo = defaults_for("solve", "camera")
    config.validate()


def test_the_solver_settings_are_checked_and_name_the_key():
    from rig_dojo.envs.camera.solve_session import SOLVE_EXTRA

    assert set(SOLVE_EXTRA) == {"elite", "knots_per_second"} | set(SolveWeights.names())
    config = TrainConfig(task="camera")
    config.algo = defaults_for("solve")
    for extra, message in (({"elit": 0.2}, "algo.extra.elit is not a setting of solve"),
                           ({"framing": -1.0}, "algo.extra.framing must be a number, 0 or more"),
                           ({"elite": 1.5}, r"algo.extra.elite must be a fraction in \(0, 1\]"),
                           ({"knots_per_second": 0.0}, "knots_per_second must be greater than 0")):
        config.algo.extra = extra
        with pytest.raises(RigDojoError, match=message):
            config.validate()
    config.algo.extra, config.algo.n_envs = {}, 2
    with pytest.raises(RigDojoError, match="population of candidate paths; it needs at least 4"):
        config.validate()
    reach = TrainConfig(task="reach")
    reach.algo = defaults_for("solve")
    with pytest.raises(RigDojoError, match="solve cannot train the reach task"):
        reach.validate()


# --- the session, its policy file and the family's evaluation ---------------------------------------


@pytest.fixture(scope="module")
def solved(tmp_path_factory):
    from rig_dojo.agents.session import make_session
    from rig_dojo.envs.camera.family import env_factory

    spec = hand_made_shot()
    config = TrainConfig(task="camera")
    config.algo = defaults_for("solve")
    config.algo.total_steps = 12_000
    run = tmp_path_factory.mktemp("solve") / "run"
    session = make_session(config, env_factory(spec), run)
    session.start()
    assert session.wait(300) == "finished", session.error
    return spec, config, run, session


def test_a_solve_that_converges_before_its_budget_says_so(tmp_path, monkeypatch):
    import rig_dojo.envs.camera.solve_session as solve_session
    from rig_dojo.agents.session import make_session
    from rig_dojo.envs.camera.family import env_factory

    monkeypatch.setattr(solve_session, "PATIENCE", 1)  # the first generation without a better path ends it
    config = TrainConfig(task="camera")
    config.algo = defaults_for("solve")
    config.algo.total_steps = 10**9
    session = make_session(config, env_factory(hand_made_shot()), tmp_path / "run")
    session.start()
    assert session.wait(300) == "finished", session.error
    assert session.latest().step < 10**9
    assert session.end_note.startswith("the best path did not improve for 1 generation: the solve converged at "
                                       f"step {session.latest().step:,d} of 1,000,000,000"), session.end_note


def test_a_solve_writes_a_run_folder_and_a_solved_path_without_pickle(solved):
    from rig_dojo.agents.policy_file import load_policy

    spec, config, run, session = solved
    for name in ("config.toml", "metrics.csv", "checkpoint.json", "final.rdpolicy"):
        assert (run / name).is_file(), name
    snap = session.latest()
    assert snap.step >= 12_000 and snap.preview.shape == (FRAMES, 2, 3)
    assert sum(snap.term_means.values()) == pytest.approx(snap.mean_return)  # the cost's parts add up
    assert json.loads((run / "checkpoint.json").read_text())["algo"] == "solve"
    policy = load_policy(run / "final.rdpolicy")
    assert policy.algo == "solve" and np.allclose(policy.arrays["positions"], snap.preview[:, 0])
    with pytest.raises(RigDojoError, match="no actions to predict"):
        policy.predict(np.zeros((1, 30), np.float32))


def test_the_report_and_the_familys_evaluation_are_one_set_of_numbers(solved):
    from rig_dojo.agents.policy_file import load_policy
    from rig_dojo.envs.camera.family import env_factory
    from rig_dojo.envs.families import evaluate_policy, evaluation_in_report, report_line, training_report

    spec, config, run, _ = solved
    policy = load_policy(run / "final.rdpolicy")
    report = training_report(policy, spec, config)
    shot = report["shot"]
    assert shot["method"] == "solve" and set(shot) >= {"trained", "fixed", "track_to", "track_to_dolly"}
    result = evaluate_policy(policy, spec, config, env_factory(spec), 64)
    assert result.episodes == 1 and evaluation_in_report("camera")
    assert result.final_error == shot["trained"]["framing"] and result.success_rate == shot["trained"]["on_target"]
    # the solve sees past the wall and the van better than Track To from the scene camera's place
    assert shot["trained"]["occlusion"] < shot["track_to"]["occlusion"] and shot["trained"]["collisions"] == 0
    line = report_line("camera", report)
    assert line.count("\n") == 1 and line.startswith("solved move, frames 1-30") and "Track To + dolly" in line


def test_a_solved_path_refuses_a_shot_whose_subject_moved_or_frames_it_does_not_cover(solved):
    from dataclasses import replace

    from rig_dojo.agents.policy_file import load_policy
    from rig_dojo.envs.camera.family import camera_move

    spec, config, run, _ = solved
    policy = load_policy(run / "final.rdpolicy")
    _, move = camera_move(policy, spec, config)
    np.testing.assert_allclose(move.positions, policy.arrays["positions"])
    moved = replace(spec, subject_positions=spec.subject_positions + [0.0, 0.0, 0.5],
                    subject_points=spec.subject_points + [0.0, 0.0, 0.5])
    with pytest.raises(RigDojoError, match="the subject has moved since"):
        camera_move(policy, moved, config)
    longer = replace(spec, frame_start=0)
    with pytest.raises(RigDojoError, match="the solved path covers frames 1-30"):
        camera_move(policy, longer, config)


def test_a_solve_resumes_from_its_checkpoint_and_starts_from_a_solved_path(solved, tmp_path):
    import shutil

    from rig_dojo.agents.session import make_session
    from rig_dojo.envs.camera.family import env_factory

    spec, config, run, session = solved
    copy = tmp_path / "resumed"
    shutil.copytree(run, copy)
    steps = session.latest().step
    text = (copy / "config.toml").read_text().replace("total_steps = 12000", "total_steps = 24000")
    (copy / "config.toml").write_text(text)
    resumed = make_session(None, env_factory(spec), copy, resume=True)
    resumed.start()
    assert resumed.wait(300) == "finished", resumed.error
    assert resumed.latest().step > steps and resumed.solver.best_cost <= session.solver.best_cost
    fresh = make_session(config, env_factory(spec), tmp_path / "init", init_from=run / "final.rdpolicy")
    fresh.start()
    assert fresh.wait(300) == "finished", fresh.error
    assert fresh.solver.best_cost <= session.solver.best_cost + 1e-9
