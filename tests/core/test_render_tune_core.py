"""Render-settings tuning without Blender (issue 19): image metrics, frame features, the settings space,
the learner's choice, the grid-search baseline and the comparison sheet."""

from __future__ import annotations

import numpy as np
import pytest

from rig_dojo.envs.rendering.baselines import search_fixed
from rig_dojo.envs.rendering.features import adaptive_min_samples, frame_features
from rig_dojo.envs.rendering.learner import RenderSettingsLearner
from rig_dojo.envs.rendering.metrics import (C1, gaussian_taps, luminance, match_size, psnr, quality_db, ssim,
                                             ssim_from_db)
from rig_dojo.envs.rendering.settings import CYCLES_DEFAULTS, ReferenceSettings, RenderSettings, SettingsSpace
from rig_dojo.envs.rendering.sheet import side_by_side
from rig_dojo.envs.rendering.tune import RenderOutcome, TuneRun, pick_frames
from rig_dojo.errors import RigDojoError




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
    # a repair never picks again what a frame already missed with
    missed = learner.choose(noisy, 0.98)
    other = learner.choose(noisy, 0.98, exclude=[missed])
    assert other != missed and learner.choose(noisy, 0.98, exclude=[]) == missed
    assert pick_frames([noisy, clean], 1) == [1]  # the frame the denoiser finds hardest comes first


class _SamplesRenderer:
    """A stand-in for Cycles: the image is a ramp plus noise that falls with the samples (no denoiser)."""

    def __init__(self, noise_per_frame):
        y, x = np.mgrid[0:24, 0:32]
        self.clean = np.stack([x / 31.0, y / 23.0, np.full(x.shape, 0.5)], axis=-1)
        self.noise = noise_per_frame
        self.rng = np.random.default_rng(0)

    def reference(self, frame):
        return self.clean

    def render(self, frame, settings, seed=None):
        sigma = self.noise[frame] / np.sqrt(settings.samples)
        image = self.clean + self.rng.normal(0.0, sigma, self.clean.shape)
        return RenderOutcome(image, 0.0, 0.01 * settings.samples)


def test_the_grid_search_finds_the_cheapest_setting_every_frame_passes():
    renderer = _SamplesRenderer({1: 0.05, 2: 0.4})
    families = (("off", (4, 4, 12), 0.0),)
    found = search_fixed(renderer, [1, 2], 0.9, order=[2], samples=(1, 4, 16, 64, 256), families=families)
    assert found.best is not None and found.best.denoiser == "off"
    # the noisy frame 2 sets the samples for both: every smaller count failed it, and frame 1 passes too
    smaller = [n for n in (1, 4, 16, 64, 256) if n < found.best.samples]
    assert smaller and all(any(t["frame"] == 2 and t["settings"]["samples"] == n and t["ssim"] < 0.9
                               for t in found.tried) for n in smaller)
    assert all(t["ssim"] >= 0.9 for t in found.tried if t["settings"]["samples"] == found.best.samples)
    assert found.cpu_seconds == pytest.approx(2 * 0.01 * found.best.samples)


def test_the_comparison_sheet_tiles_captioned_images():
    image = np.zeros((10, 12, 3))
    image[0] = 1.0  # the bottom row (Blender's row 0) is white
    sheet = side_by_side([[(image, "A"), (image, "B")]], zoom=2, title="T")
    assert sheet.shape[2] == 4 and sheet.shape[1] == 2 * (12 * 2 + 4) + 4
    white_rows = np.nonzero(np.all(sheet[:, 4:28, :3] == 1.0, axis=(1, 2)))[0]
    assert white_rows.size == 2  # the zoomed white row, still at the bottom of its tile


class _NoisyShot(_SamplesRenderer):
    """The stand-in with features too: previews are the same noisy ramp at 4 samples."""

    reference_settings = ReferenceSettings()

    def features(self, frame):
        raw = [self.render(frame, RenderSettings(4, 0.0, 4, 4, 12, "off")).image for _ in range(2)]
        return frame_features(frame, raw[0], raw[1], 4, raw[0], raw[1])


def test_a_shot_is_tuned_without_blender_and_noisier_frames_get_more_samples():
    shot = _NoisyShot({1: 0.05, 2: 0.05, 3: 0.3, 4: 0.3})
    space = SettingsSpace(samples=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512), adaptive_threshold=(0.0,),
                          diffuse_bounces=(4,), glossy_bounces=(4,), transmission_bounces=(12,), denoiser=("off",))
    report = TuneRun(shot, [1, 2, 3, 4], 0.9, space=space, sampled=2, rounds=6, pixels=32 * 24, seed=1).run()
    choices = report.choices()
    assert {frame <= 2 for frame in report.sampled_frames} == {True, False}  # one clean frame, one noisy one
    assert choices[1].samples < choices[3].samples and choices[2].samples < choices[4].samples
    for result in report.measured:  # the sampled frames were checked against their references
        assert result.measured_ssim >= 0.9
    assert report.below_target == []


def test_by_default_every_frame_of_a_shot_longer_than_six_frames_is_sampled():
    shot = _NoisyShot({f: 0.05 * f for f in range(1, 9)})
    space = SettingsSpace(samples=(4, 16, 64, 256), adaptive_threshold=(0.0,), diffuse_bounces=(4,),
                          glossy_bounces=(4,), transmission_bounces=(12,), denoiser=("off",))
    report = TuneRun(shot, list(range(1, 9)), 0.9, space=space, rounds=1, pixels=32 * 24, seed=1).run()
    assert report.sampled_frames == list(range(1, 9))  # not the 6 that differ most
    assert all(result.sampled and result.measured_ssim is not None for result in report.frames)
    assert report.below_target == []


def test_frame_offsets_drift_along_the_shot_and_unseen_frames_get_wider_bounds_further_away():
    import dataclasses

    rng = np.random.default_rng(4)
    image = rng.uniform(0.3, 0.7, (30, 40))
    base = frame_features(1, image, np.clip(image + rng.normal(0, 0.1, image.shape), 0, 1), 4, image,
                          np.clip(image + rng.normal(0, 0.02, image.shape), 0, 1))
    space = SettingsSpace(samples=(4, 8, 16, 32, 64), adaptive_threshold=(0.0,), diffuse_bounces=(4,),
                          glossy_bounces=(4,), transmission_bounces=(12,), denoiser=("fast", "accurate"))
    learner = RenderSettingsLearner(space)
    for frame in (1, 7, 13, 19):  # the same features, but the shot gets harder: an offset drifting with the frame
        feats = dataclasses.replace(base, frame=frame)
        for settings in space.candidates:
            q, _ = learner.rows(feats, settings)
            y = q @ learner.quality.prior_mean + 0.02 * frame + rng.normal(0, 0.01)
            learner.observe(feats, settings, 1.0 - 10.0 ** y, 0.1, target_ssim=0.98)
    learner.calibrate_frames()
    assert learner.interpolate_offsets
    assert learner.frame_offset(10) == pytest.approx((learner.offsets[7] + learner.offsets[13]) / 2)
    assert learner.offsets[19] - learner.offsets[1] == pytest.approx(0.36, abs=0.1)
    assert learner.unseen_noise_at(8) < learner.unseen_noise_at(25)


def test_the_tuner_and_the_grid_search_offer_the_same_finer_sample_steps():
    from rig_dojo.envs.rendering.baselines import GRID_SAMPLES

    assert SettingsSpace().samples == GRID_SAMPLES
    assert {3, 5, 12, 20} <= set(GRID_SAMPLES)


def _unrun_tune(frames, sampled, space):
    """A TuneRun over a stand-in shot with features but no renders yet (its selection rules tested alone)."""
    shot = _NoisyShot({f: 0.1 for f in frames})
    run = TuneRun(shot, frames, 0.9, space=space, sampled=len(sampled), pixels=32 * 24)
    run.features = {f: shot.features(f) for f in frames}
    run.sampled = list(sampled)
    return run


_SAMPLES_ONLY = dict(adaptive_threshold=(0.0,), diffuse_bounces=(4,), glossy_bounces=(4,),
                     transmission_bounces=(12,), denoiser=("off",))


def test_a_sampled_frame_gets_the_cheapest_setting_measured_at_the_target():
    space = SettingsSpace(samples=(1, 2, 4, 8, 16, 64, 256), **_SAMPLES_ONLY)
    n = {s.samples: s for s in space.candidates}
    run = _unrun_tune([1, 2, 3], [2], space)
    run.measured = {2: {n[2]: 0.85, n[4]: 0.91, n[16]: 0.97, n[256]: 0.999}}
    # the untrained model is far from confident; the measurements decide
    assert run.passing(2) == [n[4], n[16], n[256]]
    assert space.candidates[run._final_choice(2, None)] == n[4]
    run.measured[2][n[4]] = 0.89  # measured just under: the next cheapest that passed
    assert space.candidates[run._final_choice(2, None)] == n[16]


def test_a_frame_between_sampled_frames_is_never_dearer_than_a_setting_measured_passing_on_both():
    space = SettingsSpace(samples=(1, 2, 4, 8, 16, 64, 256), **_SAMPLES_ONLY)
    n = {s.samples: s for s in space.candidates}
    run = _unrun_tune([1, 2, 3, 4, 5, 6], [2, 5], space)
    run.measured = {2: {n[4]: 0.93, n[16]: 0.97, n[64]: 0.99}, 5: {n[4]: 0.88, n[16]: 0.95, n[64]: 0.99}}
    assert run.neighbours(3) == [2, 5] and run.neighbours(1) == [2] and run.neighbours(6) == [5]
    assert run.safe(3) == [n[16], n[64]]      # 4 samples failed frame 5
    assert run.safe(1) == [n[4], n[16], n[64]]  # before the first sampled frame: its one neighbour
    seconds = run.learner.predict(run.features[3]).seconds
    for frame, cap in ((3, n[16]), (4, n[16]), (1, n[4]), (6, n[16])):
        chosen = run._final_choice(frame, None)
        assert seconds[chosen] <= seconds[space.index(cap)] + 1e-12, frame
    assert space.candidates[run._final_choice(3, None)] == n[16]  # the untrained model is not confident
    # the bridges try the cheapest passing setting of each side on the other where it is cheaper than what
    # passes both: 4 samples (frame 2's) failed frame 5 and 16 (frame 5's) passes both, nothing is left
    assert run._bridge_candidates(2, 5) == []
    del run.measured[5][n[4]]  # not yet measured on frame 5: worth a render there
    assert run._bridge_candidates(2, 5) == [n[4]]


def test_a_tuned_shot_follows_its_measurements_and_bridges_neighbouring_sampled_frames():
    shot = _NoisyShot({1: 0.1, 2: 0.1, 3: 0.11, 4: 0.12, 5: 0.13, 6: 0.14})  # a shot getting noisier slowly
    space = SettingsSpace(samples=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512), **_SAMPLES_ONLY)
    run = TuneRun(shot, [1, 2, 3, 4, 5, 6], 0.9, space=space, sampled=3, rounds=4, pixels=32 * 24, seed=2)
    report = run.run()
    choices = report.choices()
    for frame in run.sampled:  # measured passing, and nothing measured passing on it was cheaper
        assert choices[frame] in run.passing(frame)
        assert choices[frame].samples == min(s.samples for s in run.passing(frame))
        # the descent stopped at a miss one step down (or at the fewest samples, or after 3 renders)
        fewer = run._fewer_samples(choices[frame])
        descents = [h for h in run.history if h["phase"] == "descend" and h["frame"] == frame]
        assert fewer is None or run.measured[frame].get(fewer, 1.0) < 0.9 or len(descents) == 3
    assert run.unseen_margin is not None and run.unseen_margin > 0
    capped = 0
    for frame in set(run.frames) - set(run.sampled):
        safe = run.safe(frame)  # measured passing with the margin on both neighbours: never dearer than that
        if safe:
            capped += 1
            assert choices[frame].samples <= min(s.samples for s in safe)
            floor = run._floor(run.unseen_margin)
            assert all(run.measured[f][s] >= floor for s in safe for f in run.neighbours(frame))
    assert capped  # the ascents and bridges found a setting measured passing with the margin on both sides
    assert report.below_target == []


def test_frames_between_sampled_frames_need_a_margin_as_wide_as_neighbours_differ():
    space = SettingsSpace(samples=(1, 2, 4, 8, 16, 64, 256), **_SAMPLES_ONLY)
    n = {s.samples: s for s in space.candidates}
    run = _unrun_tune([1, 2, 3, 4, 5, 6, 7], [1, 4, 7], space)  # target 0.9: y = -1

    def at(y):  # the SSIM of y = log10(1 - SSIM)
        return 1.0 - 10.0 ** y

    # 8 and 16 samples measured on neighbouring frames differ by 0.1 and 0.3 in y; 256 samples (far above the
    # target) by a lot, which does not count
    run.measured = {1: {n[8]: at(-1.05), n[16]: at(-1.5), n[256]: at(-3.0)},
                    4: {n[8]: at(-1.15), n[16]: at(-1.2), n[256]: at(-2.0)},
                    7: {n[16]: at(-1.25)}}
    margin = run._estimate_margin()
    assert margin == pytest.approx(2.0 * np.sqrt((0.1 ** 2 + 0.3 ** 2 + 0.05 ** 2) / 3))
    # per frame of distance (the pairs are 3 frames apart): frames 2, 3, 5, 6 are each 1 from a sampled frame
    assert run.unseen_rate == pytest.approx(margin / np.sqrt(3))
    run.unseen_margin = margin
    assert run.margin_at(2) == run.margin_at(6) == pytest.approx(run.unseen_rate)
    run.unseen_rate = None  # a flat margin (fewer than two differences measured)  # ~0.45: 16 samples measured at -1.2 on frame 4 is not enough for frames 2, 3
    assert run.safe(2) == [n[256]] and run.safe(5) == []
    run.unseen_margin = 0.1
    assert run.safe(2) == [n[16], n[256]] and run.safe(5) == [n[16]]
    assert run._floor(0.0) == 0.9 and run._floor(0.1) == pytest.approx(at(-1.1))


class _DarkCorner(_NoisyShot):
    """The stand-in where one diffuse bounce loses light (a bias no sample count makes up), and whose render
    times are as uneven as a loaded machine's (``load``: a generator of its own, never the image noise's)."""

    def __init__(self, noise_per_frame, load_seed=0):
        super().__init__(noise_per_frame)
        self.load = np.random.default_rng(load_seed)

    def render(self, frame, settings, seed=None):
        outcome = super().render(frame, settings, seed)
        if settings.diffuse_bounces < 4:
            outcome.image = outcome.image * 0.6
        outcome.cpu_seconds *= float(self.load.uniform(0.5, 3.0))
        return outcome


_BOUNCES = dict(adaptive_threshold=(0.0,), diffuse_bounces=(1, 4), glossy_bounces=(4,), transmission_bounces=(12,),
                denoiser=("off",))


def test_a_sampled_frame_nothing_passed_on_is_rescued_with_every_bounce():
    space = SettingsSpace(samples=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512), **_BOUNCES)
    shot = _DarkCorner({1: 0.1, 2: 0.1})
    run = TuneRun(shot, [1, 2], 0.9, space=space, sampled=1, pixels=32 * 24)
    run.features = {f: shot.features(f) for f in (1, 2)}
    run.sampled = [2]
    one_bounce = RenderSettings(512, 0.0, 1, 4, 12, "off")
    assert run._check_render(2, one_bounce, "check") < 0.9  # the most samples: still short of the light
    lines = list(run._rescue(2))
    rescued = [h["settings"] for h in run.history if h["phase"] == "rescue"]
    assert len(lines) == len(rescued) >= 1
    assert all(s.diffuse_bounces == 4 for s in rescued)  # every bounce the space has
    assert [s.samples for s in rescued] == [1, 8, 64, 512][:len(rescued)]  # about 4x a step, from the fewest
    assert run.passing(2) == [rescued[-1]]  # it stopped at the first that passed
    assert list(run._rescue(2)) == []  # a frame with a passing setting needs no rescue


def test_the_descent_bisects_down_to_the_largest_count_measured_failing():
    space = SettingsSpace(samples=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512), **_SAMPLES_ONLY)
    n = {s.samples: s for s in space.candidates}
    run = _unrun_tune([1, 2], [1], space)
    run.measured = {1: {n[512]: 0.99, n[2]: 0.5}}
    list(run._descend(1))
    tried = [h["settings"].samples for h in run.history if h["phase"] == "descend"]
    # between 2 (failing) and 512 (passing): the middle count first, then halves of what is left
    assert tried[0] == 32 and len(tried) <= run.descents
    passing = min(s.samples for s in run.passing(1))
    failing = max(s.samples for s, q in run.measured[1].items() if q < 0.9 and s.samples < passing)
    assert passing <= 32 and (len(tried) == run.descents or
                              space.samples.index(passing) - space.samples.index(failing) == 1)


def test_which_renders_are_measured_does_not_depend_on_how_loaded_the_machine_was():
    space = SettingsSpace(samples=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512), adaptive_threshold=(0.0,),
                          diffuse_bounces=(1, 2, 4), glossy_bounces=(1, 4), transmission_bounces=(12,),
                          denoiser=("off", "fast"))

    def measured(load_seed, by_work):  # the same shot and seed; render times drawn differently (a busy machine)
        shot = _DarkCorner({1: 0.1, 2: 0.3, 3: 0.3, 4: 0.1}, load_seed=load_seed)
        run = TuneRun(shot, [1, 2, 3, 4], 0.9, space=space, sampled=2, rounds=3, repairs=0, pixels=32 * 24, seed=1,
                      by_work=by_work)
        report = run.run()
        assert report.below_target == []  # every sampled frame ends measured at the target
        assert all(report.choices()[frame].diffuse_bounces == 4 for frame in run.sampled)
        return [(h["frame"], h["settings"], h["phase"]) for h in run.history]

    assert measured(0, True) == measured(1, True) == measured(2, True)
    # ranked by the time model fitted on the uneven times instead, the renders measured differ
    assert not measured(0, False) == measured(1, False) == measured(2, False)


def test_frames_beyond_the_sampled_ones_need_a_wider_margin_and_are_predicted_conservatively():
    space = SettingsSpace(samples=(1, 2, 4, 8, 16, 64, 256), **_SAMPLES_ONLY)
    n = {s.samples: s for s in space.candidates}
    frames = list(range(1, 21))
    run = _unrun_tune(frames, [8, 10, 12], space)  # spacing 2; frame 1 is 7 frames before the first
    run.unseen_margin = 0.2
    assert run.margin_at(9) == run.margin_at(11) == 0.2
    assert run.margin_at(7) == pytest.approx(0.2)  # within one spacing of the first sampled frame
    assert run.margin_at(1) == pytest.approx(0.2 * np.sqrt(7 / 2)) and run.margin_at(20) > run.margin_at(14)
    assert run._needed_margin(8) == pytest.approx(run.margin_at(1)) and run._needed_margin(10) == 0.2
    # measured 0.95 and 0.97 on the neighbours of frame 9: predicted no better than the worse, bounded below it
    run.measured = {8: {n[16]: 0.95}, 10: {n[16]: 0.97}, 12: {}}
    mean, bound = run.predicted_quality(9, n[16])
    assert mean <= 0.95 + 1e-12 and bound <= 1.0 - 10.0 ** (np.log10(0.05) + 0.2) + 1e-12


def test_the_margin_grows_with_the_distance_to_the_nearest_sampled_frame():
    space = SettingsSpace(samples=(1, 2, 4, 8, 16, 64, 256), **_SAMPLES_ONLY)
    n = {s.samples: s for s in space.candidates}
    run = _unrun_tune(list(range(1, 14)), [1, 5, 13], space)

    def at(y):
        return 1.0 - 10.0 ** y

    # one setting differs by 0.2 over 4 frames (1-5) and by 0.2 sqrt 2 over 8 (5-13): 0.1 per sqrt(frame) both times
    run.measured = {1: {n[16]: at(-1.0)}, 5: {n[16]: at(-1.2)}, 13: {n[16]: at(-1.2 - 0.2 * np.sqrt(2))}}
    run.unseen_margin = run._estimate_margin()
    assert run.unseen_rate == pytest.approx(2.0 * 0.1)
    assert run.margin_at(2) == run.margin_at(6) == pytest.approx(0.2)      # next to a sampled frame
    assert run.margin_at(3) == pytest.approx(0.2 * np.sqrt(2))
    assert run.margin_at(9) == pytest.approx(0.2 * 2.0)                    # halfway: 4 frames from either
    assert run._needed_margin(5) == pytest.approx(run.margin_at(9)) and run._needed_margin(1) == run.margin_at(3)
    # the second bridges measure each pair at the widest margin a frame between the two needs
    run.measured = {1: {n[64]: at(-2.0)}, 5: {n[16]: at(-1.2)}, 13: {n[16]: at(-1.5)}}
    list(run._bridges(None))
    bridged = [(h["frame"], h["settings"].samples) for h in run.history if h["phase"] == "bridge"]
    # 1-5 at margin_at(3) = 0.28: 16 samples (-1.2 on frame 5) falls short, frame 1's 64 is tried on frame 5;
    # 5-13 at margin_at(9) = 0.4: 16 samples already missed it on frame 5, so 64 (passing on 5 now) on frame 13
    assert bridged == [(5, 64), (13, 64)]
    run.unseen_rate = 0.1  # neighbours that differ less: 16 samples passes 1-5's margin (0.14) on frame 5
    list(run._bridges(None))
    assert (1, 16) in [(h["frame"], h["settings"].samples) for h in run.history if h["phase"] == "bridge"]
