"""The render settings the tuner picks per frame, and the discrete space it picks them from.

A :class:`RenderSettings` is what one frame is rendered with: the samples cap, Cycles' adaptive
noise threshold (0 turns adaptive sampling off), the light-path bounces per kind, the denoiser,
and a resolution scale (1.0 unless the space allows a smaller one; frames rendered smaller are
not upscaled by Cycles, the metrics upscale them to compare). :class:`SettingsSpace` is the grid
of values the tuner chooses from; every combination is a candidate.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass, field

import numpy as np

from ...errors import RigDojoError

# Cycles' own total path-length cap; the per-kind bounces sit under it.
MAX_TOTAL_BOUNCES = 12
# The denoiser (OpenImageDenoise): off, on with the fast prefilter of its albedo and normal passes,
# or on with the accurate one (Cycles' default). The accurate prefilter denoises the two guide
# passes as well: at small sizes it costs about as much as the denoiser itself, the fast one little.
DENOISERS = ("off", "fast", "accurate")


@dataclass(frozen=True)
class RenderSettings:
    """Cycles settings for one frame."""

    samples: int = 4096
    adaptive_threshold: float = 0.01
    diffuse_bounces: int = 4
    glossy_bounces: int = 4
    transmission_bounces: int = 12
    denoiser: str = "accurate"
    resolution_scale: float = 1.0

    def __post_init__(self) -> None:
        if self.denoiser not in DENOISERS:
            raise RigDojoError(f"denoiser {self.denoiser!r}: pick one of {', '.join(DENOISERS)}")

    @property
    def denoise(self) -> bool:
        return self.denoiser != "off"

    @property
    def max_bounces(self) -> int:
        """The total bounce cap that goes with the per-kind caps (Cycles' ``max_bounces``)."""
        kinds = (self.diffuse_bounces, self.glossy_bounces, self.transmission_bounces)
        return max(max(kinds), min(sum(kinds), MAX_TOTAL_BOUNCES))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> RenderSettings:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise RigDojoError(f"unknown render setting(s) {', '.join(unknown)}; known: {', '.join(sorted(names))}")
        return cls(**data)

    def short(self) -> str:
        """A compact label: ``64spp t0.02 b2/4/8 dn``."""
        thr = f"t{self.adaptive_threshold:g}" if self.adaptive_threshold > 0 else "t-"
        text = (f"{self.samples}spp {thr} b{self.diffuse_bounces}/{self.glossy_bounces}/"
                f"{self.transmission_bounces}{DENOISER_LABELS[self.denoiser]}")
        return text + (f" x{self.resolution_scale:g}" if self.resolution_scale != 1.0 else "")


DENOISER_LABELS = {"off": "", "fast": " dnf", "accurate": " dn"}
# The sample counts offered, to the tuner (``SettingsSpace``) and to the grid search of the best fixed
# setting (``baselines.GRID_SAMPLES``) alike, so the comparison stays fair. Steps of about 1.25x to 1.5x: at
# a few samples with the denoiser a frame's need falls between powers of two (3, 5, 10, 12, 20), and a
# coarser step spends the difference on every frame.
SAMPLE_STEPS = (1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 20, 24, 32, 40, 48, 64, 96, 128, 192, 256, 384, 512, 1024)
CYCLES_DEFAULTS = RenderSettings()  # Cycles' factory settings (4096 samples, threshold 0.01, OIDN on)


@dataclass(frozen=True)
class SettingsSpace:
    """The values the tuner may pick, per setting; candidates are every combination."""

    samples: tuple[int, ...] = SAMPLE_STEPS
    adaptive_threshold: tuple[float, ...] = (0.0, 0.1, 0.05, 0.02, 0.01)
    diffuse_bounces: tuple[int, ...] = (1, 2, 4)
    glossy_bounces: tuple[int, ...] = (1, 2, 4)
    transmission_bounces: tuple[int, ...] = (2, 4, 8, 12)
    denoiser: tuple[str, ...] = DENOISERS
    resolution_scale: tuple[float, ...] = (1.0,)
    _candidates: tuple = field(default=(), init=False, repr=False, compare=False)
    _index: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("samples", "adaptive_threshold", "diffuse_bounces", "glossy_bounces", "transmission_bounces",
                     "denoiser", "resolution_scale"):
            values = getattr(self, name)
            if not values:
                raise RigDojoError(f"the settings space has no values for {name}")
        if min(self.samples) < 1:
            raise RigDojoError("samples must be at least 1")
        if any(t < 0 for t in self.adaptive_threshold):
            raise RigDojoError("adaptive noise thresholds must be >= 0 (0 turns adaptive sampling off)")
        if any(not 0.0 < s <= 1.0 for s in self.resolution_scale):
            raise RigDojoError("resolution scales must be in (0, 1]")
        combos = itertools.product(self.samples, self.adaptive_threshold, self.diffuse_bounces, self.glossy_bounces,
                                   self.transmission_bounces, self.denoiser, self.resolution_scale)
        object.__setattr__(self, "_candidates", tuple(RenderSettings(*c) for c in combos))
        object.__setattr__(self, "_index", {c: i for i, c in enumerate(self._candidates)})

    @property
    def candidates(self) -> tuple[RenderSettings, ...]:
        return self._candidates

    def __len__(self) -> int:
        return len(self._candidates)

    def index(self, settings: RenderSettings) -> int:
        """Position of ``settings`` among the candidates (ValueError if the space does not hold it)."""
        try:
            return self._index[settings]
        except KeyError:
            raise ValueError(f"{settings.short()} is not in the settings space") from None

    def table(self) -> np.ndarray:
        """``(n_candidates, 7)`` float array of the candidates' values, in field order (the denoiser as its
        index in ``DENOISERS``: 0 off, 1 fast, 2 accurate)."""
        return np.array([[c.samples, c.adaptive_threshold, c.diffuse_bounces, c.glossy_bounces,
                          c.transmission_bounces, float(DENOISERS.index(c.denoiser)), c.resolution_scale]
                         for c in self._candidates], dtype=np.float64)


@dataclass(frozen=True)
class ReferenceSettings:
    """How the reference of a sampled frame is rendered: many samples, every bounce, then denoised.

    The reference's residual noise limits the SSIM any render can reach against it: two 256-sample
    references of the benchmark shots with different seeds agree to SSIM 0.999 or better, above
    the targets users name (0.95 to 0.995).
    """

    samples: int = 256
    adaptive_threshold: float = 0.002
    bounces: int = 12
    denoiser: str = "accurate"

    def settings(self) -> RenderSettings:
        return RenderSettings(self.samples, self.adaptive_threshold, self.bounces, self.bounces, self.bounces,
                              self.denoiser, 1.0)
