"""The render-settings learner: a contextual bandit over the settings space (no bpy).

Context: a frame's :class:`~.features.FrameFeatures`. Arms: every candidate of a
:class:`~.settings.SettingsSpace`. Outcome of pulling an arm: the render's quality against the
frame's reference and its render time. The learner keeps two Bayesian linear models over
features of (frame, settings):

- **quality**, as ``y = log10(1 - SSIM)`` (lower is better; the target 0.98 is -1.70). Its
  features start from the no-reference predictions (the analytic no-denoise SSIM at the
  effective samples, and how much two denoised 1-sample previews disagree) and add the
  samples the denoiser gets, the bounces (a truncated path loses light: a bias) and the
  resolution scale. The prior says "the no-reference predictions are right"; renders measured
  against references move it.
- **time**, as CPU seconds of the render: a constant, the denoiser, and the effective
  samples times pixels (per kind of bounce).

Choosing a frame's settings is "the cheapest predicted render whose quality is above the target
with confidence": ``mean + z * std <= log10(1 - target)``. While training, the quality model's
weights are drawn from the posterior instead (Thompson sampling), which explores where the
boundary between good enough and not is still uncertain. Over a shot, the previous frame's
choice is kept when it is still good enough and within ``switch_tolerance`` of the cheapest,
so settings do not flicker between neighbouring frames for a few percent.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .features import FrameFeatures
from .settings import DENOISERS, RenderSettings, SettingsSpace

QUALITY_TERMS = ("denoised", "denoised_difficulty", "denoised_log2_samples", "denoised_raw_predicted",
                 "fast_prefilter", "fast_log2_samples", "raw", "raw_predicted", "diffuse_bias", "glossy_bias",
                 "transmission_bias", "downscale")
# prior mean and std of each quality weight: "trust the no-reference predictions", loosely
# (the denoised previews have 4 samples: at N samples, y ~ their disagreement's y - 0.13 log2(N / 4))
_Q_PRIOR_MEAN = np.array([0.26, 1.0, -0.13, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0])
_Q_PRIOR_STD = np.array([0.5, 0.3, 0.08, 0.3, 0.3, 0.1, 0.5, 0.3, 1.5, 1.5, 1.5, 1.5])
TIME_TERMS = ("overhead", "denoise", "accurate_prefilter", "sample_diffuse", "sample_glossy", "sample_transmission",
              "sample")
_T_PRIOR_MEAN = np.array([0.05, 0.03, 0.15, 0.0, 0.0, 0.0, 0.02])
_T_PRIOR_STD = np.array([0.2, 0.1, 0.2, 0.02, 0.02, 0.02, 0.05])
# A fixed cost per time feature ("work", in about CPU seconds of a quiet machine): what the tuner ranks the renders
# it measures by, so the same shot and seed measure the same renders however loaded the machine is (the time
# model follows the measured CPU seconds, which a busy machine inflates unevenly). Each bounce kind adds to a
# sample's cost; the denoiser and its accurate prefilter cost per pixel.
WORK_WEIGHTS = np.array([0.05, 0.03, 0.15, 0.005, 0.005, 0.005, 0.02])
NOISE_FLOOR = 0.03      # log10 units: no model is trusted below this spread
FOCUS = 0.4             # log10 units: renders this far from the target count e^-1/2 as much
TIME_PIXELS = 1e4       # time features count samples per 10,000 pixels


def ssim_to_y(ssim_value) -> np.ndarray:
    return np.log10(np.maximum(1.0 - np.asarray(ssim_value, dtype=np.float64), 1e-6))


def y_to_ssim(y) -> np.ndarray:
    return 1.0 - 10.0 ** np.asarray(y, dtype=np.float64)


class BayesianLinear:
    """Linear regression with a Gaussian prior on the weights and a noise level estimated from residuals."""

    def __init__(self, prior_mean: np.ndarray, prior_std: np.ndarray, noise_std: float, noise_floor: float = 0.0):
        self.prior_mean = np.asarray(prior_mean, dtype=np.float64)
        self.prior_precision = 1.0 / np.asarray(prior_std, dtype=np.float64) ** 2
        self.noise_prior = float(noise_std)
        self.noise_floor = float(noise_floor)
        self.X = np.zeros((0, self.prior_mean.size))
        self.y = np.zeros(0)
        self.w = np.zeros(0)
        self._fit()

    def update(self, X: np.ndarray, y: np.ndarray, weight: float | np.ndarray = 1.0) -> None:
        """Add observations; ``weight`` < 1 counts one as noisier (a far-off region the model need not fit)."""
        y = np.atleast_1d(y).astype(np.float64)
        self.X = np.vstack([self.X, np.atleast_2d(X)])
        self.y = np.concatenate([self.y, y])
        self.w = np.concatenate([self.w, np.broadcast_to(weight, y.shape)])
        self._fit()

    def _fit(self) -> None:
        # two passes: weights with the current noise level, then the noise level from their residuals
        noise = self.noise_prior
        w = self.w
        for _ in range(2):
            Xw = self.X * w[:, None]
            precision = np.diag(self.prior_precision) + Xw.T @ self.X / noise ** 2
            cov = np.linalg.inv(precision)
            mean = cov @ (self.prior_precision * self.prior_mean + Xw.T @ self.y / noise ** 2)
            resid = self.y - self.X @ mean
            strength = 4.0  # the prior noise level counts as this many observations
            noise = max(self.noise_floor, float(np.sqrt((w @ resid ** 2 + strength * self.noise_prior ** 2)
                                                        / (w.sum() + strength))))
        self.mean, self.cov, self.noise = mean, cov, noise

    def predict(self, X: np.ndarray, noise: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Predictive mean and standard deviation (weights' uncertainty plus ``noise``, default the
        fitted noise level) per row of ``X``."""
        mean = X @ self.mean
        noise = self.noise if noise is None else max(noise, self.noise)
        var = np.einsum("ij,jk,ik->i", X, self.cov, X) + noise ** 2
        return mean, np.sqrt(var)

    def fit_without(self, out: np.ndarray) -> np.ndarray:
        """The posterior mean weights fitted without the observations where ``out`` is True."""
        other = BayesianLinear(self.prior_mean, 1.0 / np.sqrt(self.prior_precision), self.noise_prior,
                               self.noise_floor)
        other.X, other.y, other.w = self.X[~out], self.y[~out], self.w[~out]
        other._fit()
        return other.mean

    def group_offsets(self, groups: np.ndarray, weights: np.ndarray, keep: np.ndarray | None = None) -> dict:
        """Each group's weighted mean residual under ``weights`` (a per-frame offset the features missed);
        ``keep``: the observations ``groups`` labels (default all)."""
        keep = np.ones(self.y.size, dtype=bool) if keep is None else keep
        resid = self.y[keep] - self.X[keep] @ weights
        w = self.w[keep]
        return {int(g): float(np.average(resid[groups == g], weights=w[groups == g])) for g in np.unique(groups)}

    def sample_weights(self, rng: np.random.Generator) -> np.ndarray:
        return rng.multivariate_normal(self.mean, self.cov, method="cholesky")

    @property
    def n(self) -> int:
        return self.y.size


@dataclass
class Prediction:
    """The learner's view of every candidate for one frame."""

    y_mean: np.ndarray      # log10(1 - SSIM)
    y_std: np.ndarray
    seconds: np.ndarray     # predicted CPU seconds


@dataclass
class RenderSettingsLearner:
    """The contextual bandit: quality and time models over (frame features, settings)."""

    space: SettingsSpace = field(default_factory=SettingsSpace)
    pixels: int = 128 * 96
    confidence: float = 1.64   # z of the one-sided bound used when choosing for real (95%)
    switch_tolerance: float = 0.15
    seed: int = 0

    def __post_init__(self) -> None:
        self.quality = BayesianLinear(_Q_PRIOR_MEAN, _Q_PRIOR_STD, noise_std=0.08, noise_floor=NOISE_FLOOR)
        self.time = BayesianLinear(_T_PRIOR_MEAN, _T_PRIOR_STD, noise_std=0.1, noise_floor=0.01)
        self.rng = np.random.default_rng(self.seed)
        self._table = self.space.table()
        self._design_cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._frames: list[int] = []   # the frame of each quality observation
        self.unseen_noise: float | None = None  # spread of the quality model on unseen frames (calibrate_frames)
        self.offsets: dict[int, float] = {}     # per-frame quality offsets (calibrate_frames)
        self.interpolate_offsets = False

    # --- features of (frame, settings) ----------------------------------------------------------

    def designs(self, features: FrameFeatures) -> tuple[np.ndarray, np.ndarray]:
        """(quality design, time design) for every candidate of the space in this frame."""
        key = id(features)
        cached = self._design_cache.get(key)
        if cached is not None and cached[0] is features:
            return cached[1]
        t = self._table
        pairs, inverse = np.unique(t[:, :2], axis=0, return_inverse=True)
        inverse = inverse.ravel()
        raw_ssim = features.predicted_ssim(pairs[:, 0], pairs[:, 1])[inverse]
        mean_samples = features.mean_samples(pairs[:, 0], pairs[:, 1])[inverse]
        designs = quality_design(t, raw_ssim, mean_samples, features.denoised_disagreement), \
            time_design(t, mean_samples, self.pixels)
        self._design_cache[key] = (features, designs)
        return designs

    def rows(self, features: FrameFeatures, settings: RenderSettings) -> tuple[np.ndarray, np.ndarray]:
        """The design rows of one candidate (quality, time)."""
        index = self.space.index(settings)
        q, t = self.designs(features)
        return q[index], t[index]

    # --- learning --------------------------------------------------------------------------------

    def observe(self, features: FrameFeatures, settings: RenderSettings, ssim_value: float | None,
                cpu_seconds: float | None, target_ssim: float | None = None) -> None:
        """Add one measured render (``ssim_value`` None: no reference, time only).

        With ``target_ssim``, renders far from the target count less (``FOCUS`` in log10 units):
        the linear model then fits best where the choice is made.
        """
        q, t = self.rows(features, settings)
        if ssim_value is not None:
            y = float(ssim_to_y(ssim_value))
            weight = 1.0 if target_ssim is None else \
                float(np.exp(-0.5 * ((y - float(ssim_to_y(target_ssim))) / FOCUS) ** 2))
            self.quality.update(q, y, weight=max(weight, 0.05))
            self._frames.append(features.frame)
        if cpu_seconds is not None:
            self.time.update(t, np.array([cpu_seconds]))

    def calibrate_frames(self) -> float | None:
        """Per-frame quality offsets and the spread of the model on frames it has not seen.

        The linear model leaves each sampled frame with a mean residual (what its features missed). A frame
        between two sampled frames likely shares some of it, so an unseen frame gets the offset interpolated
        (in frame number) from its neighbours, if that helps: leave-one-frame-out, each sampled frame is
        predicted from a fit without it, with and without the interpolated offset, and the better of the two
        is used. Its error near the target sets the spread on unseen frames (``unseen_noise_at``): flat
        without interpolation; with it, growing as the square root of the distance to the nearest sampled
        frame (the offset drifts along the shot like a random walk), scaled from the held-out frames, whose
        nearest remaining neighbours are further away than any unseen frame's. Sampled frames get their own
        offset. Returns the spread at one frame from a sampled frame (None with fewer than two sampled
        frames).
        """
        frames = np.array(self._frames)
        seen = np.unique(frames)
        self.offsets = self.quality.group_offsets(frames, self.quality.mean)
        self.interpolate_offsets = False
        self.unseen_noise = None
        if seen.size < 2:
            return None
        plain, shifted, scaled = [], [], []
        near = self.quality.w >= 0.3
        for k in seen:
            out = frames == k
            weights = self.quality.fit_without(out)
            others = self.quality.group_offsets(frames[~out], weights, keep=~out)
            resid = self.quality.y[out & near] - self.quality.X[out & near] @ weights
            plain.append(resid)
            shifted.append(resid - _interpolate(others, k))
            gap = float(np.min(np.abs(np.array(sorted(others)) - k)))
            scaled.append(shifted[-1] / np.sqrt(max(gap, 1.0)))
        if np.concatenate(plain).size < 3:
            return None
        plain_rms = float(np.sqrt(np.mean(np.concatenate(plain) ** 2)))
        shifted_rms = float(np.sqrt(np.mean(np.concatenate(shifted) ** 2)))
        self.interpolate_offsets = shifted_rms < plain_rms
        self.unseen_noise = float(np.sqrt(np.mean(np.concatenate(scaled) ** 2))) if self.interpolate_offsets \
            else plain_rms
        return self.unseen_noise

    def unseen_noise_at(self, frame: int) -> float | None:
        """The quality model's spread on ``frame`` when it was not fitted on it (see ``calibrate_frames``)."""
        if self.unseen_noise is None:
            return None
        if not self.interpolate_offsets or not self.offsets:
            return self.unseen_noise
        gap = float(np.min(np.abs(np.array(sorted(self.offsets)) - frame)))
        return self.unseen_noise * float(np.sqrt(max(gap, 1.0)))

    def frame_offset(self, frame: int) -> float:
        """The quality offset of ``frame`` (0 before ``calibrate_frames``)."""
        offsets = self.offsets
        if not offsets:
            return 0.0
        if frame in offsets:
            return offsets[frame]
        return _interpolate(offsets, frame) if self.interpolate_offsets else 0.0

    # --- choosing --------------------------------------------------------------------------------

    def predict(self, features: FrameFeatures, unseen: bool = False, by_work: bool = False) -> Prediction:
        """Every candidate's predicted quality (mean, std) and CPU seconds; ``unseen``: a frame the quality
        model was not fitted on (its spread is at least ``unseen_noise_at(frame)``); ``by_work``: the seconds
        are the fixed ``work`` estimate instead of the time model's (reproducible under any load)."""
        q, t = self.designs(features)
        mean, std = self.quality.predict(q, self.unseen_noise_at(features.frame) if unseen else None)
        return Prediction(mean + self.frame_offset(features.frame), std, self._seconds(t, by_work))

    def work(self, features: FrameFeatures) -> np.ndarray:
        """Every candidate's fixed cost estimate (``WORK_WEIGHTS``): depends on the frame's features and the
        settings only, never on a measured time."""
        return self._seconds(self.designs(features)[1], True)

    def _seconds(self, time_rows: np.ndarray, by_work: bool) -> np.ndarray:
        return np.maximum(time_rows @ (WORK_WEIGHTS if by_work else self.time.mean), 1e-3)

    def choose(self, features: FrameFeatures, target_ssim: float, previous: RenderSettings | None = None,
               explore: bool = False, unseen: bool = False, exclude=(), by_work: bool = False) -> int:
        """Index of the candidate to render this frame with.

        ``explore``: Thompson sampling (weights drawn from the posterior, bound at the noise
        level only); else the cheapest candidate whose confident bound meets the target, or
        the previous frame's choice when it qualifies and costs within ``switch_tolerance``.
        If nothing qualifies, the candidate with the best bound. ``unseen``: a frame the quality model
        was not fitted on (a wider bound, see ``calibrate_frames``). ``exclude``: candidate indices never
        chosen (say, measured under the target on this frame already), unless that leaves none. ``by_work``:
        rank by the fixed ``work`` estimate, not the time model (the choice then never depends on how loaded
        the machine was when earlier renders were timed).
        """
        q, t = self.designs(features)
        y_target = float(ssim_to_y(target_ssim))
        seconds = self._seconds(t, by_work)
        if explore:
            weights = self.quality.sample_weights(self.rng)
            bound = q @ weights + 0.5 * self.quality.noise
        else:
            mean, std = self.quality.predict(q, self.unseen_noise_at(features.frame) if unseen else None)
            bound = mean + self.frame_offset(features.frame) + self.confidence * std
        if len(exclude) and len(exclude) < len(bound):
            bound = bound.copy()
            bound[np.asarray(list(exclude), dtype=np.int64)] = np.inf
        ok = bound <= y_target
        if not ok.any():
            return int(np.argmin(bound))
        cost = np.where(ok, seconds, np.inf)
        best = int(np.argmin(cost))
        if previous is not None and not explore:
            # temporal coherence: keep the previous frame's denoiser, bounces and threshold (only the samples
            # follow the frame) unless another family is cheaper by more than switch_tolerance
            values = np.array([previous.adaptive_threshold, previous.diffuse_bounces, previous.glossy_bounces,
                               previous.transmission_bounces, float(DENOISERS.index(previous.denoiser)),
                               previous.resolution_scale])
            same = ok & np.all(np.isclose(self._table[:, 1:], values), axis=1)
            if same.any():
                kept = int(np.argmin(np.where(same, seconds, np.inf)))
                if seconds[kept] <= (1.0 + self.switch_tolerance) * seconds[best]:
                    return kept
        return best

    def summary(self) -> dict:
        return {"quality_weights": dict(zip(QUALITY_TERMS, map(float, self.quality.mean))),
                "quality_noise": self.quality.noise, "unseen_frame_noise": self.unseen_noise,
                "frame_offsets": {int(k): v for k, v in self.offsets.items()},
                "interpolate_offsets": self.interpolate_offsets,
                "quality_observations": self.quality.n,
                "time_weights": dict(zip(TIME_TERMS, map(float, self.time.mean))),
                "time_noise": self.time.noise, "time_observations": self.time.n}


def quality_design(table: np.ndarray, raw_ssim: np.ndarray, mean_samples: np.ndarray,
                   denoised_disagreement: float) -> np.ndarray:
    """Quality features per candidate (rows of ``SettingsSpace.table()``), in ``QUALITY_TERMS`` order."""
    samples, _thr, diffuse, glossy, transmission, denoiser, scale = table.T
    dn = (denoiser > 0).astype(np.float64)
    fast = (denoiser == 1).astype(np.float64)
    raw = 1.0 - dn
    raw_predicted = ssim_to_y(raw_ssim)
    difficulty = float(np.log10(max(denoised_disagreement, 1e-5) / 2.0))
    log_samples = np.log2(np.maximum(mean_samples, 1.0))
    return np.stack([
        dn, dn * difficulty, dn * log_samples, dn * raw_predicted, fast, fast * log_samples,
        raw, raw * raw_predicted,
        2.0 ** -diffuse, 2.0 ** -glossy, 2.0 ** -(transmission / 2.0),
        1.0 - scale,
    ], axis=1)


def time_design(table: np.ndarray, mean_samples: np.ndarray, pixels: int) -> np.ndarray:
    """Time features per candidate, in ``TIME_TERMS`` order (CPU seconds are linear in them)."""
    _samples, _thr, diffuse, glossy, transmission, denoiser, scale = table.T
    area = scale ** 2 * pixels / TIME_PIXELS
    work = mean_samples * area
    return np.stack([np.ones_like(work), (denoiser > 0) * area, (denoiser == 2) * area,
                     work * diffuse / 4.0, work * glossy / 4.0, work * transmission / 12.0, work], axis=1)


def _interpolate(offsets: dict, frame: int) -> float:
    """Linear interpolation of per-frame ``offsets`` at ``frame`` (the nearest one beyond either end)."""
    keys = np.array(sorted(offsets), dtype=np.float64)
    values = np.array([offsets[k] for k in sorted(offsets)])
    return float(np.interp(frame, keys, values))
