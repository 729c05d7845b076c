"""The baseline the tuner is measured against: the best single setting for a whole shot, by grid search.

For each family of settings (denoiser, bounces, adaptive threshold) the search raises the
samples until every sampled frame reaches the target against its reference (the frame the
denoiser finds hardest is tried first, so most families are settled in a few renders), then
keeps the family whose passing setting took the least CPU time over the sampled frames.
Renders are cached per (frame, settings), so a setting is never rendered twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .metrics import match_size, ssim
from .settings import SAMPLE_STEPS, RenderSettings

GRID_SAMPLES = SAMPLE_STEPS  # the tuner's sample counts (settings.SettingsSpace), so neither has finer steps
# (denoiser, (diffuse, glossy, transmission), adaptive threshold): Cycles' defaults and cheaper variants
GRID_FAMILIES = tuple((dn, bounces, thr) for dn in ("fast", "accurate", "off")
                      for bounces in ((4, 4, 12), (2, 2, 4)) for thr in (0.01, 0.1))


@dataclass
class FixedSearch:
    """The outcome of the grid search."""

    best: RenderSettings | None
    cpu_seconds: float                      # of ``best`` over the sampled frames
    renders: int
    tried: list[dict] = field(default_factory=list)   # every render: frame, settings, ssim, cpu seconds


def search_fixed(renderer, frames: list[int], target_ssim: float, order: list[int] | None = None,
                 samples: tuple[int, ...] = GRID_SAMPLES, families=GRID_FAMILIES) -> FixedSearch:
    """The cheapest single setting that reaches ``target_ssim`` on every frame of ``frames``.

    ``order``: frames to try first (the hardest); ``renderer`` implements ``rendering.tune.Renderer``.
    """
    cache: dict[tuple[int, RenderSettings], tuple[float, float]] = {}
    tried: list[dict] = []

    def measure(frame: int, settings: RenderSettings) -> tuple[float, float]:
        key = (frame, settings)
        if key not in cache:
            outcome = renderer.render(frame, settings)
            reference = renderer.reference(frame)
            quality = ssim(match_size(outcome.image, reference), reference)
            cache[key] = (quality, outcome.cpu_seconds)
            tried.append({"frame": frame, "settings": settings.to_dict(), "ssim": quality,
                          "cpu_seconds": outcome.cpu_seconds})
        return cache[key]

    frames_in_order = list(dict.fromkeys((order or []) + list(frames)))
    best, best_cost = None, float("inf")
    for denoiser, (diffuse, glossy, transmission), threshold in families:
        start = 0
        for k, n in enumerate(samples):
            if k < start:
                continue
            settings = RenderSettings(n, threshold, diffuse, glossy, transmission, denoiser, 1.0)
            cost, ok = 0.0, True
            for frame in frames_in_order:
                quality, seconds = measure(frame, settings)
                cost += seconds
                if quality < target_ssim:
                    ok = False
                    break
            if ok:
                full = sum(cache[(f, settings)][1] for f in frames_in_order)
                if full < best_cost:
                    best, best_cost = settings, full
                break
            # already dearer than the best passing setting on the frames measured: more samples only cost more
            if cost >= best_cost:
                break
    return FixedSearch(best, best_cost, len(tried), tried)
