"""What a render-settings tune reports: per frame, the settings, predicted and measured quality, time."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

from .settings import RenderSettings


@dataclass
class FrameResult:
    """One frame of the shot: its chosen settings, and what is known about rendering it with them."""

    frame: int
    settings: RenderSettings
    predicted_ssim: float           # the model's mean
    predicted_ssim_bound: float     # the confident lower bound the choice was made on
    predicted_seconds: float        # CPU seconds
    sampled: bool = False           # a training frame (it has a reference)
    measured_ssim: float | None = None   # against the frame's reference, when it was rendered
    measured_psnr: float | None = None
    seconds: float | None = None    # wall-clock seconds of the render with these settings
    cpu_seconds: float | None = None

    def to_dict(self) -> dict:
        return {"frame": self.frame, "settings": self.settings.to_dict(), "label": self.settings.short(),
                "predicted_ssim": self.predicted_ssim, "predicted_ssim_bound": self.predicted_ssim_bound,
                "predicted_seconds": self.predicted_seconds, "sampled": self.sampled,
                "measured_ssim": self.measured_ssim, "measured_psnr": _finite(self.measured_psnr),
                "seconds": self.seconds, "cpu_seconds": self.cpu_seconds}


@dataclass
class TuneReport:
    """The result of tuning a shot: one :class:`FrameResult` per frame, and how the tune went."""

    target_ssim: float
    frames: list[FrameResult]
    sampled_frames: list[int]
    training_renders: int
    tuning_seconds: float
    reference: dict
    learner: dict = field(default_factory=dict)
    features: list[dict] = field(default_factory=list)

    @property
    def measured(self) -> list[FrameResult]:
        return [f for f in self.frames if f.measured_ssim is not None]

    @property
    def below_target(self) -> list[int]:
        """Frames whose measured SSIM is under the target."""
        return [f.frame for f in self.measured if f.measured_ssim < self.target_ssim]

    def choices(self) -> dict[int, RenderSettings]:
        return {f.frame: f.settings for f in self.frames}

    def to_dict(self) -> dict:
        return {"target_ssim": self.target_ssim, "sampled_frames": self.sampled_frames,
                "training_renders": self.training_renders, "tuning_seconds": self.tuning_seconds,
                "reference": self.reference, "below_target": self.below_target,
                "frames": [f.to_dict() for f in self.frames], "learner": self.learner, "features": self.features}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def format(self) -> str:
        """A table: one row per frame (``*`` marks a sampled frame; measured columns are blank if not rendered)."""
        head = (f"{'frame':>5}  {'settings':<30} {'pred SSIM':>9} {'bound':>7} {'meas SSIM':>9} {'PSNR':>6} "
                f"{'pred cpu s':>10} {'cpu s':>6} {'wall s':>6}")
        lines = [head, "-" * len(head)]
        for f in self.frames:
            lines.append(
                f"{f.frame:>4}{'*' if f.sampled else ' '}  {f.settings.short():<30} {f.predicted_ssim:>9.4f} "
                f"{f.predicted_ssim_bound:>7.4f} {_num(f.measured_ssim, 9, 4)} {_num(f.measured_psnr, 6, 1)} "
                f"{f.predicted_seconds:>10.3f} {_num(f.cpu_seconds, 6, 3)} {_num(f.seconds, 6, 3)}")
        measured = self.measured
        below = self.below_target
        lines.append(f"target SSIM {self.target_ssim:g}; sampled frames {self.sampled_frames} "
                     f"({self.training_renders} training renders, {self.tuning_seconds:.1f} s); "
                     f"measured {len(measured)} frame(s), {len(below)} below the target"
                     + (f" ({below})" if below else ""))
        return "\n".join(lines)


def _num(value: float | None, width: int, digits: int) -> str:
    if value is None:
        return " " * width
    if math.isinf(value):
        return f"{'inf':>{width}}"
    return f"{value:>{width}.{digits}f}"


def _finite(value: float | None) -> float | None:
    return None if value is None or math.isinf(value) else value
