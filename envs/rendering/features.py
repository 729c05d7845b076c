"""Cheap, no-reference features of a frame, from low-sample preview renders.

Two previews of the same frame with ``k`` samples each and different seeds differ only by
Monte Carlo noise: half their squared difference estimates the per-pixel noise variance at
``k`` samples, and ``k`` times that the variance of one sample. With the local signal variance
of their mean, that gives a no-reference prediction of the SSIM a render with ``N`` samples
would reach without the denoiser (noise falls as ``1/N``):

    SSIM(N) ~ mean over windows of (2 s + C2) / (2 s + v / N + C2)

(``s``: the window's signal variance, ``v``: its per-sample noise variance; the luminance term
is 1 because noise does not move the mean). With ``N`` per pixel set by Cycles' adaptive
stopping rule (a pixel stops once its relative error falls under the threshold), the same
formula covers adaptive sampling.

The denoiser's result is not predictable that way, so two more previews are rendered with the
denoiser on (a few samples each, different seeds): how much those two disagree (``1 - SSIM``
between them) measures what the denoiser leaves at low samples in this frame. The learner corrects both
predictions for what they cannot see (the denoiser at more samples, fewer bounces) from renders
measured against references.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .metrics import C2, gaussian_filter_valid, luminance, ssim

DARK = 0.1
BRIGHT = 0.9
# Cycles' adaptive sampling (intern/cycles/scene/integrator.cpp): a pixel is checked every
# ADAPTIVE_STEP samples once past the automatic minimum ceil(16 / threshold^0.3), and stops when its
# error estimate is under 5 x threshold. The error is modelled from the previews' relative noise
# (display-referred, so ADAPTIVE_SCALE converts it; fitted on the benchmark shots).
ADAPTIVE_STEP = 16
ADAPTIVE_SCALE = 3


def adaptive_min_samples(threshold) -> np.ndarray:
    """Cycles' automatic minimum samples for an adaptive ``threshold`` (> 0)."""
    t = np.maximum(np.asarray(threshold, dtype=np.float64), 1e-6)
    return np.maximum(4.0, np.ceil(16.0 / t ** 0.3))


@dataclass(frozen=True)
class FrameFeatures:
    """What the tuner knows about a frame before choosing its settings."""

    frame: int
    preview_samples: int
    mean_luminance: float       # of the raw previews (display-encoded, 0..1)
    contrast: float             # standard deviation of the previews' luminance
    dark_fraction: float        # pixels darker than DARK
    bright_fraction: float      # pixels brighter than BRIGHT
    noise: float                # RMS per-sample noise of luminance (display units)
    relative_noise: float       # RMS of per-sample noise / (luminance + 0.05): how visible the noise is
    denoised_disagreement: float  # 1 - SSIM between the two denoised previews
    signal: np.ndarray          # per-window signal variance (valid region), for predicted_ssim
    noise_map: np.ndarray       # per-window per-sample noise variance
    relative_map: np.ndarray    # per-window per-sample relative noise (for the adaptive stopping rule)
    preview_seconds: float = 0.0
    preview_cpu_seconds: float = 0.0

    def effective_samples(self, samples, threshold) -> np.ndarray:
        """Per-window samples a render takes with ``samples`` cap and adaptive ``threshold``.

        ``samples`` and ``threshold`` broadcast together; returns their shape plus one axis of
        windows. Threshold 0: adaptive sampling off, every pixel takes the cap.
        """
        n = np.asarray(samples, dtype=np.float64)[..., None]
        t = np.asarray(threshold, dtype=np.float64)[..., None]
        rel = self.relative_map.ravel().astype(np.float64)
        on = t > 0
        safe_t = np.where(on, t, 1.0)
        stop = (ADAPTIVE_SCALE * rel / (5.0 * safe_t)) ** 2
        stop = np.maximum(stop, adaptive_min_samples(safe_t))
        stop = np.ceil(stop / ADAPTIVE_STEP) * ADAPTIVE_STEP
        return np.where(on, np.minimum(n, stop), n)

    def predicted_ssim(self, samples, threshold=0.0) -> np.ndarray:
        """No-denoise SSIM predicted for each (samples, threshold) pair (broadcast)."""
        n_eff = self.effective_samples(samples, threshold)
        s = self.signal.ravel().astype(np.float64)
        v = self.noise_map.ravel().astype(np.float64)
        return ((2 * s + C2) / (2 * s + v / n_eff + C2)).mean(axis=-1)

    def mean_samples(self, samples, threshold=0.0) -> np.ndarray:
        """The mean per-pixel samples for each (samples, threshold) pair: what the render costs."""
        return self.effective_samples(samples, threshold).mean(axis=-1)

    def vector(self) -> np.ndarray:
        """The scalar features as one vector (to pick frames that differ)."""
        return np.array([self.mean_luminance, self.contrast, self.dark_fraction, self.bright_fraction,
                         np.log10(self.noise + 1e-4), np.log10(self.relative_noise + 1e-4),
                         np.log10(self.denoised_disagreement + 1e-5)])

    def to_dict(self) -> dict:
        return {"frame": self.frame, "preview_samples": self.preview_samples,
                "mean_luminance": self.mean_luminance, "contrast": self.contrast,
                "dark_fraction": self.dark_fraction, "bright_fraction": self.bright_fraction, "noise": self.noise,
                "relative_noise": self.relative_noise, "denoised_disagreement": self.denoised_disagreement,
                "preview_seconds": self.preview_seconds, "preview_cpu_seconds": self.preview_cpu_seconds}


def frame_features(frame: int, first: np.ndarray, second: np.ndarray, samples: int,
                   denoised_first: np.ndarray, denoised_second: np.ndarray, seconds: float = 0.0,
                   cpu_seconds: float = 0.0) -> FrameFeatures:
    """Features of ``frame`` from two raw ``samples``-sample previews and two denoised ones (seeds differ)."""
    a = luminance(first)
    b = luminance(second)
    mean = 0.5 * (a + b)
    diff2 = 0.5 * (a - b) ** 2            # per-pixel noise variance of one preview (k samples)
    per_sample = diff2 * samples           # ... of one sample
    local_noise_k = gaussian_filter_valid(diff2)
    local_mean = gaussian_filter_valid(mean)
    local_var = gaussian_filter_valid(mean * mean) - local_mean ** 2
    # the mean of two previews carries half a preview's noise variance
    signal = np.maximum(local_var - 0.5 * local_noise_k, 0.0)
    noise_map = local_noise_k * samples
    relative_map = np.sqrt(noise_map) / (np.maximum(local_mean, 0.0) + 0.05)
    dark = mean < DARK
    relative = np.sqrt(per_sample) / (mean + 0.05)
    return FrameFeatures(
        frame=int(frame), preview_samples=int(samples), mean_luminance=float(mean.mean()),
        contrast=float(mean.std()), dark_fraction=float(dark.mean()), bright_fraction=float((mean > BRIGHT).mean()),
        noise=float(np.sqrt(per_sample.mean())), relative_noise=float(np.sqrt(np.mean(relative ** 2))),
        denoised_disagreement=float(max(1.0 - ssim(denoised_first, denoised_second), 1e-5)),
        signal=signal.astype(np.float32), noise_map=noise_map.astype(np.float32),
        relative_map=relative_map.astype(np.float32), preview_seconds=float(seconds),
        preview_cpu_seconds=float(cpu_seconds))
