"""Tuning a shot's render settings: the loop, with the renderer passed in (no bpy here).

``TuneRun`` drives any :class:`Renderer` (the Cycles one is ``scene.render_tune``):

1. **Features** of every frame of the shot from cheap previews.
2. **Sampled frames**: the ``sampled`` frames that differ most (farthest-point in feature space,
   starting from the frame the denoiser finds hardest), and their high-sample references.
3. **Training** (the bandit): round after round over the sampled frames in shot order, the
   learner picks settings by Thompson sampling, the frame is rendered, its SSIM against the
   reference and its render time update the models. Stops after ``rounds`` rounds or
   ``minutes`` (after one full round at least).
4. **Check** each sampled frame with the settings chosen for real (confident bound); a frame
   measured under the target is an outcome like any other: the models learn it and the frame
   is chosen again (never a setting it already missed with), up to ``repairs`` times.
5. **Descend** on each sampled frame: its cheapest setting measured passing is rendered with the
   next smaller sample count of the space, and again while that passes (up to ``descents`` times),
   as the grid search does for the fixed setting.
6. **Bridge** each pair of neighbouring sampled frames: the cheapest setting measured passing on
   one is rendered on the other (at most two renders a pair), so that a setting measured passing
   on both is known for the frames between them. How much one setting's quality differs between
   neighbouring sampled frames sets the margin a frame between them needs (``_estimate_margin``:
   ``unseen_confidence`` times the RMS difference); a sampled frame where nothing measured passes
   with it gets more samples in its cheapest passing family until one does (up to ``descents``
   renders), and a second round of bridges looks for settings passing with that margin on both.
7. **Apply** to every frame of the shot, in order (``_final_choice``): a sampled frame gets the
   cheapest setting *measured* at the target on it (every training, check, descend and bridge render
   counts; the one measured best where none passed); a frame between sampled frames gets the cheapest
   setting measured passing with the margin on both its neighbouring sampled frames, or the model's choice where
   that is cheaper and its cautious bound meets the target (the model keeps the previous frame's
   denoiser, bounces and threshold where that is still good enough and about as cheap).
   ``verify=True`` also renders every frame with its settings and against a reference, so the
   report measures all of them
   (each render's time, not its quality, goes on into the time model for the next frame).

``steps()`` yields a progress line after each render, so an operator can run it from a modal
timer; ``run()`` drains it.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ...errors import RigDojoError
from .features import FrameFeatures
from .learner import RenderSettingsLearner, ssim_to_y, y_to_ssim
from .metrics import match_size, psnr, ssim
from .report import FrameResult, TuneReport
from .settings import ReferenceSettings, RenderSettings, SettingsSpace


NEAR = 0.3  # log10 units of 1 - SSIM: the renders near the target that set the margin of unseen frames


@dataclass
class RenderOutcome:
    """One render: the image (display-referred, ``(h, w, 3)``), wall-clock and CPU seconds."""

    image: np.ndarray
    seconds: float
    cpu_seconds: float


class Renderer(Protocol):
    reference_settings: ReferenceSettings

    def render(self, frame: int, settings: RenderSettings, seed: int | None = None) -> RenderOutcome: ...

    def reference(self, frame: int) -> np.ndarray: ...

    def features(self, frame: int) -> FrameFeatures: ...


def check_target(target_ssim: float) -> None:
    if not (isinstance(target_ssim, (int, float)) and 0.0 < target_ssim <= 1.0):
        raise RigDojoError(f"target SSIM {target_ssim}: give a value in (0, 1], e.g. 0.98")
    if target_ssim == 1.0:
        raise RigDojoError("target SSIM 1 means identical to the reference, which only the reference itself "
                           "reaches; give a value below 1, e.g. 0.98")


def pick_frames(features: list[FrameFeatures], count: int) -> list[int]:
    """``count`` frames that differ most: farthest-point in standardized feature space, from the hardest."""
    if count >= len(features):
        return [f.frame for f in features]
    vectors = np.array([f.vector() for f in features])
    spread = vectors.std(axis=0)
    vectors = (vectors - vectors.mean(axis=0)) / np.where(spread > 1e-9, spread, 1.0)
    first = int(np.argmax([f.denoised_disagreement for f in features]))
    chosen = [first]
    dist = np.linalg.norm(vectors - vectors[first], axis=1)
    while len(chosen) < count:
        nxt = int(np.argmax(dist))
        chosen.append(nxt)
        dist = np.minimum(dist, np.linalg.norm(vectors - vectors[nxt], axis=1))
    return sorted(features[i].frame for i in chosen)


class TuneRun:
    """One tune of one shot (see the module docstring)."""

    def __init__(self, renderer: Renderer, frames: list[int], target_ssim: float, *,
                 space: SettingsSpace | None = None, sampled: int = 6, rounds: int = 6,
                 minutes: float | None = None, repairs: int = 3, descents: int = 3, verify: bool = False,
                 pixels: int = 128 * 96,
                 seed: int = 0, confidence: float = 1.64, unseen_confidence: float = 2.0):
        check_target(target_ssim)
        if not frames:
            raise RigDojoError("no frames to tune")
        if sampled < 1:
            raise RigDojoError("sample at least one frame")
        if minutes is not None and minutes <= 0:
            raise RigDojoError(f"--minutes {minutes}: give a positive time budget")
        self.renderer = renderer
        self.frames = list(frames)
        self.target = float(target_ssim)
        self.space = space or SettingsSpace()
        self.sampled_count = sampled
        self.rounds = rounds
        self.minutes = minutes
        self.repairs = repairs
        self.descents = descents
        self.verify = verify
        self.learner = RenderSettingsLearner(self.space, pixels=pixels, seed=seed, confidence=confidence)
        self.features: dict[int, FrameFeatures] = {}
        self.sampled: list[int] = []
        self.history: list[dict] = []  # every training render: frame, settings, ssim, seconds
        self.unseen_confidence = unseen_confidence
        self.unseen_margin: float | None = None  # log10 units (``_estimate_margin``), after the first bridges
        # sampled frame -> settings -> SSIM measured against the reference (the lowest of repeats)
        self.measured: dict[int, dict[RenderSettings, float]] = {}
        self._outcomes: dict[tuple[int, RenderSettings], RenderOutcome] = {}
        self.report: TuneReport | None = None

    # --- the loop ----------------------------------------------------------------------------------

    def run(self, progress=None) -> TuneReport:
        for line in self.steps():
            if progress is not None:
                progress(line)
        assert self.report is not None
        return self.report

    def steps(self) -> Iterator[str]:
        began = time.monotonic()
        renderer, learner = self.renderer, self.learner
        for k, frame in enumerate(self.frames):
            self.features[frame] = renderer.features(frame)
            yield f"features of frame {frame} ({k + 1}/{len(self.frames)})"
        self.sampled = pick_frames([self.features[f] for f in self.frames], self.sampled_count)
        for k, frame in enumerate(self.sampled):
            renderer.reference(frame)
            yield f"reference of frame {frame} ({k + 1}/{len(self.sampled)})"
        deadline = None if self.minutes is None else began + 60.0 * self.minutes
        for r in range(self.rounds):
            previous = None
            for frame in self.sampled:
                feats = self.features[frame]
                index = learner.choose(feats, self.target, previous, explore=True)
                settings = self.space.candidates[index]
                quality = self._train_render(frame, settings)
                previous = settings
                yield f"round {r + 1}: frame {frame} {settings.short()} -> SSIM {quality:.4f}"
            if deadline is not None and time.monotonic() > deadline:
                break
        learner.calibrate_frames()
        # the sampled frames with their settings for real; a miss is learned from and chosen again
        for frame in self.sampled:
            for _ in range(self.repairs + 1):
                missed = [self.space.index(s) for s, q in self.measured.get(frame, {}).items() if q < self.target]
                settings = self.space.candidates[learner.choose(self.features[frame], self.target, exclude=missed)]
                quality = self._check_render(frame, settings, "check")
                yield f"check frame {frame}: {settings.short()} -> SSIM {quality:.4f}"
                if quality >= self.target:
                    break
        # descend: fewer samples in the family of each sampled frame's cheapest passing setting, while it passes
        for frame in self.sampled:
            best = self._cheapest(frame, self.passing(frame))
            for _ in range(self.descents if best is not None else 0):
                lower = self._fewer_samples(best)
                if lower is None:
                    break
                quality = self.measured[frame].get(lower)
                if quality is None:
                    quality = self._check_render(frame, lower, "descend")
                    yield f"descend frame {frame}: {lower.short()} -> SSIM {quality:.4f}"
                if quality < self.target:
                    break
                best = lower
        learner.calibrate_frames()  # again, with the checks' renders
        # bridges: a setting measured passing on both sampled frames of a pair caps the frames between them;
        # first at the target, then (with how much one setting's SSIM differs between neighbours measured) at
        # the margin unseen frames need
        yield from self._bridges(0.0)
        self.unseen_margin = self._estimate_margin()
        yield from self._ascend(self.unseen_margin)
        yield from self._bridges(self.unseen_margin)
        learner.calibrate_frames()
        results = []
        previous = None
        for frame in self.frames:
            feats = self.features[frame]
            unseen = frame not in self.sampled
            index = self._final_choice(frame, previous)
            settings = self.space.candidates[index]
            prediction = learner.predict(feats, unseen=unseen)
            result = FrameResult(
                frame=frame, settings=settings, predicted_ssim=float(y_to_ssim(prediction.y_mean[index])),
                predicted_ssim_bound=float(y_to_ssim(prediction.y_mean[index]
                                                     + learner.confidence * prediction.y_std[index])),
                predicted_seconds=float(prediction.seconds[index]), sampled=frame in self.sampled)
            if (frame, settings) in self._outcomes:
                self._measure(result, self._outcomes[(frame, settings)], renderer.reference(frame))
            elif self.verify:
                outcome = renderer.render(frame, settings)
                self._measure(result, outcome, renderer.reference(frame))
                # its time (never its quality: the reference is for the report) updates the time model
                learner.observe(feats, settings, None, outcome.cpu_seconds)
                yield f"verify frame {frame}: {settings.short()} -> SSIM {result.measured_ssim:.4f}"
            results.append(result)
            previous = settings
        self.report = TuneReport(
            target_ssim=self.target, frames=results, sampled_frames=list(self.sampled),
            training_renders=len(self.history), tuning_seconds=time.monotonic() - began,
            reference=vars(renderer.reference_settings).copy(),
            learner={**learner.summary(), "unseen_margin": self.unseen_margin},
            features=[self.features[f].to_dict() for f in self.frames])
        yield "done"

    # --- helpers ---------------------------------------------------------------------------------

    def _train_render(self, frame: int, settings: RenderSettings) -> float:
        return self._check_render(frame, settings, "train")

    def _check_render(self, frame: int, settings: RenderSettings, phase: str) -> float:
        """Render a sampled ``frame`` with ``settings`` against its reference; the models learn it and it is
        recorded in ``measured`` (the lowest SSIM if rendered again) and ``history``."""
        outcome = self.renderer.render(frame, settings)
        reference = self.renderer.reference(frame)
        quality = ssim(match_size(outcome.image, reference), reference)
        self.learner.observe(self.features[frame], settings, quality, outcome.cpu_seconds, self.target)
        self.history.append({"frame": frame, "settings": settings, "ssim": quality, "seconds": outcome.seconds,
                             "cpu_seconds": outcome.cpu_seconds, "phase": phase})
        seen = self.measured.setdefault(frame, {})
        if settings not in seen or quality <= seen[settings]:
            seen[settings] = quality
            self._outcomes[(frame, settings)] = outcome
        return quality

    # --- the choice from measurements ---------------------------------------------------------------

    def passing(self, frame: int, margin: float = 0.0) -> list[RenderSettings]:
        """The settings measured at or above the target on sampled ``frame`` (against its reference);
        ``margin`` (log10 units of 1 - SSIM) above it."""
        floor = self._floor(margin)
        return [s for s, q in self.measured.get(frame, {}).items() if q >= floor]

    def _floor(self, margin: float) -> float:
        """The SSIM ``margin`` log10 units of (1 - SSIM) better than the target (the target at 0)."""
        return self.target if margin <= 0 else float(y_to_ssim(ssim_to_y(self.target) - margin))

    def _estimate_margin(self) -> float:
        """How far above the target a setting must measure on both neighbouring sampled frames to be trusted
        on the frames between them: ``unseen_confidence`` times the RMS difference of ``y = log10(1 - SSIM)``
        of one setting measured on two neighbouring sampled frames (an unseen frame differs from its
        neighbour by about as much: the scene moves and the render noise differs). With fewer than two
        such differences, the quality model's spread of one render (times sqrt 2) stands in. Only settings
        measured within ``NEAR`` of the target on one of the two count."""
        diffs: list[float] = []
        y_target = float(ssim_to_y(self.target))
        for a, b in zip(self.sampled, self.sampled[1:]):
            on_a, on_b = self.measured.get(a, {}), self.measured.get(b, {})
            for s in set(on_a) & set(on_b):
                ya, yb = float(ssim_to_y(on_a[s])), float(ssim_to_y(on_b[s]))
                if min(abs(ya - y_target), abs(yb - y_target)) <= NEAR:  # where the choice is made
                    diffs.append(ya - yb)
        spread = float(np.sqrt(np.mean(np.square(diffs)))) if len(diffs) >= 2 else \
            float(np.sqrt(2.0) * self.learner.quality.noise)
        return self.unseen_confidence * spread

    def _ascend(self, margin: float) -> Iterator[str]:
        """On each sampled frame where no setting was measured passing with ``margin``: more samples in the
        family of its cheapest passing setting until one does (up to ``descents`` renders)."""
        floor = self._floor(margin)
        for frame in self.sampled:
            current = self._cheapest(frame, self.passing(frame))
            if current is None or self.passing(frame, margin):
                continue
            for _ in range(self.descents):
                more = [n for n in self.space.samples if n > current.samples]
                if not more:
                    break
                current = dataclasses.replace(current, samples=min(more))
                quality = self.measured[frame].get(current)
                if quality is None:
                    quality = self._check_render(frame, current, "ascend")
                    yield f"ascend frame {frame}: {current.short()} -> SSIM {quality:.4f}"
                if quality >= floor:
                    break

    def _bridges(self, margin: float) -> Iterator[str]:
        """For each pair of neighbouring sampled frames, measure on each the cheapest setting passing with
        ``margin`` on the other (``_bridge_candidates``) until one passes with it on both."""
        floor = self._floor(margin)
        for a, b in zip(self.sampled, self.sampled[1:]):
            for settings in self._bridge_candidates(a, b, margin):
                for frame in (a, b):
                    if settings not in self.measured.get(frame, {}):
                        quality = self._check_render(frame, settings, "bridge")
                        yield f"bridge {a}-{b}: frame {frame} {settings.short()} -> SSIM {quality:.4f}"
                if all(self.measured[f][settings] >= floor for f in (a, b)):
                    break

    def neighbours(self, frame: int) -> list[int]:
        """The nearest sampled frame on each side of ``frame`` (one beyond either end of them)."""
        before = [f for f in self.sampled if f < frame]
        after = [f for f in self.sampled if f > frame]
        return ([max(before)] if before else []) + ([min(after)] if after else [])

    def safe(self, frame: int) -> list[RenderSettings]:
        """For a frame that was not sampled: the settings measured passing with ``unseen_margin`` on both its
        neighbouring sampled frames (on the one at either end of the shot)."""
        sides = [set(self.passing(f, self.unseen_margin or 0.0)) for f in self.neighbours(frame)]
        if not sides:
            return []
        return sorted(set.intersection(*sides), key=self.space.index)

    def _cheapest(self, frame: int, options: list[RenderSettings]) -> RenderSettings | None:
        """The option predicted cheapest to render ``frame`` with (the time model)."""
        if not options:
            return None
        seconds = self.learner.predict(self.features[frame]).seconds
        return min(options, key=lambda s: (seconds[self.space.index(s)], self.space.index(s)))

    def _fewer_samples(self, settings: RenderSettings) -> RenderSettings | None:
        """``settings`` with the next smaller sample count of the space (None at the smallest)."""
        fewer = [n for n in self.space.samples if n < settings.samples]
        return dataclasses.replace(settings, samples=max(fewer)) if fewer else None

    def _bridge_candidates(self, a: int, b: int, margin: float = 0.0) -> list[RenderSettings]:
        """Settings worth measuring on both sampled frames ``a`` and ``b``: the cheapest measured passing (with
        ``margin``) on each, where it is cheaper (over both frames) than the cheapest already passing on both
        and was not measured under that on the other."""
        floor = self._floor(margin)
        both = set(self.passing(a, margin)) & set(self.passing(b, margin))

        def cost(s: RenderSettings) -> float:
            i = self.space.index(s)
            return sum(float(self.learner.predict(self.features[f]).seconds[i]) for f in (a, b))

        def untried(s: RenderSettings) -> bool:  # not yet measured under the floor on either frame
            return all(self.measured.get(f, {}).get(s, 1.0) >= floor for f in (a, b))

        current = min((cost(s) for s in both), default=float("inf"))
        options = {self._cheapest(a, self.passing(a, margin)), self._cheapest(b, self.passing(b, margin))} - {None}
        return sorted((s for s in options if cost(s) < current and untried(s)), key=cost)

    def _final_choice(self, frame: int, previous: RenderSettings | None) -> int:
        """The candidate ``frame`` is rendered with.

        A sampled frame: the cheapest setting measured at the target on it (a measurement beats the model);
        the one measured best if none reached it. A frame between sampled frames: the model's confident
        choice (``learner.choose`` with the wider bound of unseen frames) only where it is cheaper than the
        cheapest setting measured passing on both neighbouring sampled frames (``safe``), which is the choice
        otherwise (and where the model is not confident of any candidate).
        """
        learner, feats = self.learner, self.features[frame]
        if frame in self.sampled:
            measured = self._cheapest(frame, self.passing(frame))
            if measured is None:  # nothing reached the target: the best measured (it is in the report)
                measured = max(self.measured[frame].items(), key=lambda item: item[1])[0] \
                    if self.measured.get(frame) else None
            if measured is not None:
                return self.space.index(measured)
            return learner.choose(feats, self.target, previous)
        index = learner.choose(feats, self.target, previous, unseen=True)
        cap = self._cheapest(frame, self.safe(frame))
        if cap is None:
            return index
        prediction = learner.predict(feats, unseen=True)
        confident = prediction.y_mean[index] + learner.confidence * prediction.y_std[index] <= ssim_to_y(self.target)
        capped = self.space.index(cap)
        if confident and prediction.seconds[index] < prediction.seconds[capped]:
            return index
        return capped

    @staticmethod
    def _measure(result: FrameResult, outcome: RenderOutcome, reference: np.ndarray) -> None:
        image = match_size(outcome.image, reference)
        result.measured_ssim = ssim(image, reference)
        result.measured_psnr = psnr(image, reference)
        result.seconds = outcome.seconds
        result.cpu_seconds = outcome.cpu_seconds
