"""Render-settings tuning (issue 19): metrics, features, the tuner end to end on real Cycles renders, bad input.

Renders are Cycles on the CPU with one thread at 48x36 pixels and few samples (the ``tiny``
shot: a brightly lit flat wall on frame 1, a dark corner lit by one bounce on frame 2), so a
whole tune takes seconds. Never EEVEE.
"""

from __future__ import annotations

import json
import subprocess
import sys

import addon_utils
import bpy
import numpy as np
import pytest

from rig_dojo.envs.rendering.features import adaptive_min_samples, frame_features
from rig_dojo.envs.rendering.learner import RenderSettingsLearner
from rig_dojo.envs.rendering.metrics import (C1, gaussian_taps, luminance, match_size, psnr, quality_db, ssim,
                                             ssim_from_db)
from rig_dojo.envs.rendering.settings import CYCLES_DEFAULTS, RenderSettings, SettingsSpace
from rig_dojo.envs.rendering.tune import TuneRun, pick_frames
from rig_dojo.errors import RigDojoError

FAST = {"threads": 1, "reference_samples": 32, "sampled": 2, "rounds": 2}


def run_cli(*args, cwd=None, timeout=600):
    return subprocess.run([sys.executable, "-m", "rig_dojo", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd)


@pytest.fixture
def tiny(factory):
    from rig_dojo.envs.render_shots import build_shot

    return build_shot("tiny")


@pytest.fixture(scope="module")
def tiny_blend(tmp_path_factory, dojo_registered):
    from rig_dojo.envs.render_shots import build_shot

    bpy.ops.wm.read_factory_settings(use_empty=True)
    build_shot("tiny")
    path = tmp_path_factory.mktemp("render_tune") / "tiny.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    return path


# --- metrics (no Blender) ------------------------------------------------------------------------


def test_ssim_is_one_for_identical_images_and_falls_with_noise():
    rng = np.random.default_rng(0)
    image = rng.uniform(0.2, 0.8, (40, 50, 3))
    assert ssim(image, image) == pytest.approx(1.0)
    scores = [ssim(np.clip(image + rng.normal(0, s, image.shape), 0, 1), image) for s in (0.01, 0.05, 0.2)]
    assert 1.0 > scores[0] > scores[1] > scores[2] > 0.0


def test_ssim_of_flat_images_is_the_luminance_term():
    # flat windows have no variance: SSIM reduces to (2ab + C1) / (a^2 + b^2 + C1) exactly
    a, b = 0.3, 0.5
    expected = (2 * a * b + C1) / (a * a + b * b + C1)
    assert ssim(np.full((20, 20), a), np.full((20, 20), b)) == pytest.approx(expected, rel=1e-9)


def test_ssim_uses_luminance_and_a_normalised_gaussian_window():
    taps = gaussian_taps()
    assert taps.size == 11 and taps.sum() == pytest.approx(1.0) and taps[5] == taps.max()
    rgb = np.zeros((20, 20, 3))
    rgb[..., 1] = 1.0
    assert luminance(rgb)[0, 0] == pytest.approx(0.7152)
    # a change only a colour channel sees, balanced to keep luminance, leaves luminance SSIM at 1
    other = rgb.copy()
    other[..., 0], other[..., 1] = 0.7152 / 0.2126 * 0.1, 0.9
    assert ssim(other, rgb) == pytest.approx(1.0, abs=1e-3)
    with pytest.raises(ValueError, match="smaller than"):
        ssim(np.zeros((8, 8)), np.zeros((8, 8)))


def test_a_smaller_render_is_compared_at_the_reference_size():
    y, x = np.mgrid[0:36, 0:48]
    reference = np.stack([x / 47.0, y / 35.0, np.full(x.shape, 0.5)], axis=-1)
    half = reference[::2, ::2]
    assert match_size(reference, reference) is reference
    up = match_size(half, reference)
    assert up.shape == reference.shape and np.abs(up - reference).max() < 0.05  # a smooth ramp survives
    assert ssim(up, reference) > 0.99


def test_psnr_and_the_quality_scale():
    reference = np.zeros((10, 10, 3))
    assert psnr(reference + 0.1, reference) == pytest.approx(20.0)
    assert psnr(reference, reference) == float("inf")
    assert quality_db(0.99) == pytest.approx(20.0)
    assert ssim_from_db(quality_db(0.973)) == pytest.approx(0.973)


def test_features_estimate_the_noise_and_predict_the_ssim_of_more_samples():
    rng = np.random.default_rng(1)
    y, x = np.mgrid[0:48, 0:64]
    clean = 0.4 + 0.2 * np.sin(x / 5.0) * np.cos(y / 7.0)
    sigma = 0.1  # per-sample noise

    def render(n):
        return clean + rng.normal(0, sigma / np.sqrt(n), clean.shape)

    feats = frame_features(1, render(4), render(4), 4, clean, clean)
    assert feats.noise == pytest.approx(sigma, rel=0.1)
    predicted = feats.predicted_ssim([4, 16, 64])
    measured = [ssim(render(n), clean) for n in (4, 16, 64)]
    assert predicted == pytest.approx(measured, abs=0.05)  # the estimates of signal and noise are noisy themselves
    assert predicted[0] < predicted[1] < predicted[2]
    assert feats.denoised_disagreement == pytest.approx(1e-5)  # identical "denoised" previews


def test_adaptive_sampling_follows_cycles_minimum_and_cap():
    assert adaptive_min_samples(0.1) == 32 and adaptive_min_samples(0.01) == 64
    rng = np.random.default_rng(2)
    image = rng.uniform(0.3, 0.7, (30, 30))
    feats = frame_features(1, image, image + 0.05, 4, image, image)
    assert feats.mean_samples([16], [0.0])[0] == 16  # threshold 0: every pixel takes the cap
    assert feats.mean_samples([8], [0.1])[0] == 8  # the cap wins below the minimum
    assert 32 <= feats.mean_samples([1024], [0.1])[0] < 1024


def test_settings_space_and_cycles_defaults():
    space = SettingsSpace()
    assert len(space) == len(set(space.candidates))
    assert CYCLES_DEFAULTS == RenderSettings(4096, 0.01, 4, 4, 12, "accurate")
    assert space.candidates[space.index(RenderSettings(16, 0.0, 2, 2, 4, "fast"))].short() == "16spp t- b2/2/4 dnf"
    with pytest.raises(RigDojoError, match="denoiser"):
        RenderSettings(denoiser="magic")
    with pytest.raises(RigDojoError, match="unknown render setting"):
        RenderSettings.from_dict({"samplez": 3})


def test_the_learner_prefers_the_cheapest_settings_predicted_good_enough():
    rng = np.random.default_rng(3)
    image = rng.uniform(0.3, 0.7, (30, 40))
    noisy = frame_features(1, image, np.clip(image + rng.normal(0, 0.2, image.shape), 0, 1), 4, image,
                           np.clip(image + rng.normal(0, 0.05, image.shape), 0, 1))
    clean = frame_features(2, image, image + rng.normal(0, 0.002, image.shape), 4, image, image)
    learner = RenderSettingsLearner()
    picks = {f.frame: learner.space.candidates[learner.choose(f, 0.98)] for f in (noisy, clean)}
    assert picks[1] != picks[2]
    costs = {frame: learner.predict(f).seconds[learner.space.index(picks[frame])]
             for frame, f in ((1, noisy), (2, clean))}
    assert costs[2] < costs[1]  # the clean frame gets a cheaper render
    assert pick_frames([noisy, clean], 1) == [1]  # the frame the denoiser finds hardest comes first


# --- the tuner on real Cycles renders ------------------------------------------------------------


def test_a_tiny_shot_is_tuned_end_to_end(tiny):
    from rig_dojo.envs.render_tune_scene import KEYED_PROPERTY, keyed_frames, stored_summary, tune_scene

    scene = tiny
    report = tune_scene(scene, (1, 2), 0.95, **FAST)
    assert [f.frame for f in report.frames] == [1, 2]
    assert report.sampled_frames == [1, 2]
    # every frame was checked against its reference and reaches the target
    for result in report.frames:
        assert result.sampled and result.measured_ssim is not None and result.measured_ssim >= 0.95
        assert result.cpu_seconds > 0 and 0 < result.predicted_ssim <= 1
    assert report.below_target == []
    # the two frames differ (a lit flat wall, a dark corner), and so do their settings
    choices = report.choices()
    assert choices[1] != choices[2]
    # keyed on the scene, constant per frame; the user's render settings are back between keys
    assert keyed_frames(scene) == [1, 2] and KEYED_PROPERTY in scene
    for frame, settings in choices.items():
        scene.frame_set(frame)
        assert scene.cycles.samples == settings.samples
        assert scene.cycles.use_denoising == settings.denoise
        assert scene.cycles.diffuse_bounces == settings.diffuse_bounces
        assert scene.cycles.max_bounces == settings.max_bounces
    # the tune's own render settings are gone: engine, size, threads and output format are the scene's again
    assert scene.render.engine == 'CYCLES' and scene.render.resolution_percentage == 100
    assert scene.render.threads_mode == 'AUTO' and scene.render.image_settings.color_depth == '8'
    assert stored_summary(scene)["frames"][0][0] == 1
    text = report.format()
    assert "target SSIM 0.95" in text and "0 below the target" in text
    assert json.loads(report.to_json())["frames"][1]["settings"]["samples"] == choices[2].samples


def test_keys_never_overwrite_settings_the_user_keyed(tiny):
    from rig_dojo.envs.render_tune_scene import clear_keyed_settings, key_settings

    tiny.cycles.samples = 300
    tiny.cycles.keyframe_insert("samples", frame=1)
    with pytest.raises(RigDojoError, match="cycles.samples"):
        key_settings(tiny, {1: RenderSettings(8, 0.0, 2, 2, 4, "fast")})
    tiny.animation_data.action = None
    key_settings(tiny, {1: RenderSettings(8, 0.0, 2, 2, 4, "fast"), 2: RenderSettings(16, 0.1, 4, 4, 12, "off")})
    tiny.frame_set(1)
    assert tiny.cycles.denoising_prefilter == 'FAST' and tiny.cycles.samples == 8
    tiny.frame_set(2)
    assert not tiny.cycles.use_denoising and tiny.cycles.adaptive_threshold == pytest.approx(0.1)
    # a second tune replaces its own keys
    key_settings(tiny, {1: RenderSettings(12, 0.0, 2, 2, 4, "fast")})
    tiny.frame_set(1)
    assert tiny.cycles.samples == 12
    assert clear_keyed_settings(tiny) > 0
    assert "rig_dojo_render_tune_keys" not in tiny


@pytest.mark.parametrize("frames,target,message", [
    ((0, 2), 0.95, "outside the scene's frame range 1-2"),
    ((1, 5), 0.95, "outside the scene's frame range"),
    ((1, 2), 0.0, "(0, 1]"),
    ((1, 2), 1.2, "(0, 1]"),
    ((1, 2), 1.0, "below 1"),
])
def test_bad_input_is_one_clear_error(tiny, frames, target, message):
    from rig_dojo.envs.render_tune_scene import tune_scene

    samples = tiny.cycles.samples
    with pytest.raises(RigDojoError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")
                       .replace("]", r"\]")):
        tune_scene(tiny, frames, target, **FAST)
    assert tiny.cycles.samples == samples and "rig_dojo_render_tune_keys" not in tiny


def test_no_cycles_is_refused_by_the_tuner_the_operator_and_the_command(tiny, capsys):
    from rig_dojo import cli
    from rig_dojo.envs.render_tune_scene import tune_scene

    addon_utils.disable("cycles")
    try:
        with pytest.raises(RigDojoError, match="Cycles is not available"):
            tune_scene(tiny, (1, 2), 0.95, **FAST)
        with pytest.raises(RuntimeError, match="Cycles is not available"):  # the operator's ERROR report
            bpy.ops.rig_dojo.render_tune()
        assert cli.main(["render-tune", "--frames", "1-2", "--target-ssim", "0.95"], register=False) == 2
    finally:
        addon_utils.enable("cycles")
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("rig_dojo: error: Cycles is not available")


def test_a_scene_without_a_camera_is_refused(tiny):
    from rig_dojo.envs.render_tune_scene import tune_scene

    tiny.camera = None
    with pytest.raises(RigDojoError, match="no camera"):
        tune_scene(tiny, (1, 2), 0.95, **FAST)


@pytest.mark.parametrize("args,message", [
    (["--frames", "1-2", "--target-ssim", "0"], "(0, 1]"),
    (["--frames", "1-2", "--target-ssim", "1.5"], "(0, 1]"),
    (["--frames", "1-9", "--target-ssim", "0.95"], "outside the scene's frame range 1-2"),
    (["--frames", "2-1"], "END must be after START"),
    (["--minutes", "-1"], "positive"),
])
def test_the_command_refuses_bad_input_with_one_line(tiny_blend, tmp_path, args, message):
    proc = run_cli("render-tune", tiny_blend, *args, "--out", tmp_path / "out", cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], proc.stderr
    assert not (tmp_path / "out").exists()


def test_the_command_tunes_and_writes_a_report_and_a_keyed_copy(tiny_blend, tmp_path):
    before = tiny_blend.read_bytes()
    out = tmp_path / "out"
    proc = run_cli("render-tune", tiny_blend, "--frames", "1-2", "--target-ssim", "0.95", "--sampled", "2",
                   "--threads", "1", "--reference-samples", "32", "--out", out, "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout)  # stdout is the JSON alone (Blender's notes are silenced)
    assert [f["frame"] for f in report["frames"]] == [1, 2] and report["below_target"] == []
    assert all(f["measured_ssim"] >= 0.95 for f in report["frames"])
    assert json.loads((out / "report.json").read_text())["target_ssim"] == 0.95
    assert tiny_blend.read_bytes() == before  # the user's file is untouched
    code = ("import bpy, sys; bpy.ops.wm.open_mainfile(filepath=sys.argv[1]); s = bpy.context.scene;"
            "s.frame_set(2); print('SAMPLES', s.cycles.samples)")
    check = subprocess.run([sys.executable, "-c", code, str(out / "tuned.blend")], capture_output=True, text=True,
                           timeout=300)
    assert f"SAMPLES {report['frames'][1]['settings']['samples']}" in check.stdout, check.stdout + check.stderr
    table = run_cli("render-tune", tiny_blend, "--frames", "1-2", "--target-ssim", "0.95", "--sampled", "1",
                    "--threads", "1", "--reference-samples", "16", "--minutes", "0.01", "--out", tmp_path / "o2",
                    cwd=tmp_path)
    assert table.returncode == 0, table.stderr[-3000:]
    assert "pred SSIM" in table.stdout and "target SSIM 0.95" in table.stdout


def test_the_operators_tune_render_and_clear(tiny, tmp_path):
    from rig_dojo.envs.render_tune_scene import keyed_frames

    settings = tiny.rig_dojo_render_tune
    settings.target_ssim, settings.sampled_frames = 0.95, 2
    assert not bpy.ops.rig_dojo.render_adaptive.poll()  # nothing tuned yet
    assert bpy.ops.rig_dojo.render_tune() == {'FINISHED'}
    assert keyed_frames(tiny) == [1, 2]
    tiny.render.filepath = str(tmp_path / "frame_")
    tiny.render.image_settings.file_format = 'PNG'
    tiny.cycles.device = 'CPU'
    tiny.render.threads_mode, tiny.render.threads = 'FIXED', 1
    assert bpy.ops.rig_dojo.render_adaptive() == {'FINISHED'}
    assert sorted(p.name for p in tmp_path.glob("frame_*.png")) == ["frame_0001.png", "frame_0002.png"]
    assert bpy.ops.rig_dojo.render_tune_clear() == {'FINISHED'}
    assert keyed_frames(tiny) == [] and not bpy.ops.rig_dojo.render_adaptive.poll()


def test_the_render_tune_panel_draws(tiny, capfd):
    import test_sidebar

    from rig_dojo.envs.render_tune_scene import _panel_summary, key_settings
    from rig_dojo.envs.rendering.report import FrameResult, TuneReport

    frames = [FrameResult(f, RenderSettings(8, 0.0, 2, 2, 4, "fast"), 0.97, 0.96, 0.1, sampled=f == 1,
                          measured_ssim=0.971 if f == 1 else None) for f in (1, 2)]
    report = TuneReport(0.95, frames, [1], 5, 1.0, {})
    key_settings(tiny, report.choices(), report=_panel_summary(report))
    saved = test_sidebar.PANELS
    test_sidebar.PANELS = ("VIEW3D_PT_rig_dojo", "VIEW3D_PT_rig_dojo_render_tune")
    try:
        tiny.rig_dojo_render_tune.use_scene_range = False
        assert test_sidebar.draw_panels(capfd) == list(test_sidebar.PANELS)
    finally:
        test_sidebar.PANELS = saved


def test_the_tune_loop_respects_the_time_budget(tiny):
    from rig_dojo.envs.render_tune_scene import CyclesRenderer

    with CyclesRenderer(tiny, threads=1) as renderer:
        renderer.reference_settings = type(renderer.reference_settings)(samples=16)
        run = TuneRun(renderer, [1, 2], 0.9, sampled=1, rounds=50, minutes=1e-4, pixels=renderer.pixels)
        report = run.run()
    # one round over the one sampled frame, then the budget stops training (the check still runs)
    assert len([h for h in run.history if h["phase"] == "train"]) == 1
    assert len(report.frames) == 2
