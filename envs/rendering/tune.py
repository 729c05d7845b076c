"""Tuning a shot's render settings: the loop, with the renderer passed in (no bpy here).

``TuneRun`` drives any :class:`Renderer` (the Cycles one is ``scene.render_tune``):

1. **Features** of every frame of the shot from cheap previews.
2. **Sampled frames**: the ``sampled`` frames that differ most (farthest-point in feature space,
   starting from the frame the denoiser finds hardest), and their high-sample references. ``sampled=None``
   samples every frame: each is then rendered with a setting measured at the target on it, and steps 6-7's
   margins do not arise (a frame that is only predicted needs a margin against the render's own noise:
   ``bench/bench_render_seeds.py`` measures what that costs even when the prediction is exact).
3. **Training** (the bandit): round after round over the sampled frames in shot order, the
   learner picks settings by Thompson sampling, the frame is rendered, its SSIM against the
   reference and its render time update the models. Stops after ``rounds`` rounds or
   ``minutes`` (after one full round at least).
4. **Check** each sampled frame with the settings chosen for real (confident bound); a frame
   measured under the target is an outcome like any other: the models learn it and the frame
   is chosen again (never a setting it already missed with), up to ``repairs`` times.
   A sampled frame where nothing passed after the repairs is **rescued**: every bounce of the space and
   the accurate denoiser, from the fewest samples up about 4x at a time, until one passes (the light a
   truncated path loses is a bias no sample count makes up; 1-bounce settings of a corner lit by a
   bounce never reach the target).
5. **Descend** on each sampled frame: fewer samples in the family of its cheapest setting measured
   passing, by bisection over the space's sample counts down to the largest count measured failing
   (up to ``descents`` renders).
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
   The report's predicted quality of a frame that was not sampled is the worse of the model's and of what
   its settings measured on the neighbouring sampled frames, the bound lowered by the frame's margin.
   ``verify=True`` also renders every frame with its settings and against a reference, so the
   report measures all of them
   (each render's time, not its quality, goes on into the time model for the next frame).

Which renders are measured is ranked by a fixed work estimate (``by_work``, the default; the learner's
``WORK_WEIGHTS``), not by measured CPU seconds, so one shot and seed measure the same renders however loaded
the machine is; the final choice among measured settings uses the time model fitted on measured CPU seconds.
An unseen frame's margin grows with the square root of its distance to the nearest sampled frame
(``margin_at``: its quality drifts from the sampled frame's like a random walk, whose step the differences
between neighbouring sampled frames measure), so a frame next to a sampled frame needs less than one halfway
to the next, and one far beyond the last sampled frame more.

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
RESCUE_STRIDE = 3  # a rescue climbs the sample counts of the space three steps at a time (about 4x)


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
                 space: SettingsSpace | None = None, sampled: int | None = None, rounds: int = 6,
                 minutes: float | None = None, repairs: int = 3, descents: int = 3, verify: bool = False,
                 pixels: int = 128 * 96,
                 seed: int = 0, confidence: float = 1.64, unseen_confidence: float = 2.0, by_work: bool = True):
        check_target(target_ssim)
        if not frames:
            raise RigDojoError("no frames to tune")
        if sampled is not None and sampled < 1:
            raise RigDojoError("sample at least one frame")
        if minutes is not None and minutes <= 0:
            raise RigDojoError(f"--minutes {minutes}: give a positive time budget")
        self.renderer = renderer
        self.frames = list(frames)
        self.target = float(target_ssim)
        self.space = space or SettingsSpace()
        self.sampled_count = len(self.frames) if sampled is None else sampled  # None: every frame
        self.rounds = rounds
        self.minutes = minutes
        self.repairs = repairs
        self.descents = descents
        self.verify = verify
        # rank the renders to measure by the fixed work estimate (reproducible under load); the final choice
        # among measured settings is by the time model (measured CPU seconds) either way
        self.by_work = by_work
        self.learner = RenderSettingsLearner(self.space, pixels=pixels, seed=seed, confidence=confidence)
        self.features: dict[int, FrameFeatures] = {}
        self.sampled: list[int] = []
        self.history: list[dict] = []  # every training render: frame, settings, ssim, seconds
        self.unseen_confidence = unseen_confidence
        self.unseen_margin: float | None = None  # log10 units (``_estimate_margin``), after the first bridges
        # the margin one frame from a sampled frame (log10 units; ``_estimate_margin``): ``margin_at`` grows it
        # as the square root of the distance; None with too few measurements (a flat ``unseen_margin`` then)
        self.unseen_rate: float | None = None
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
                index = learner.choose(feats, self.target, previous, explore=True, by_work=self.by_work)
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
                settings = self.space.candidates[learner.choose(self.features[frame], self.target, exclude=missed,
                                                                 by_work=self.by_work)]
                quality = self._check_render(frame, settings, "check")
                yield f"check frame {frame}: {settings.short()} -> SSIM {quality:.4f}"
                if quality >= self.target:
                    break
            # nothing measured passing yet (say, too few bounces for the light of a dark corner, which no number
            # of samples makes up): more samples with every bounce the space allows, until one passes
            yield from self._rescue(frame)
        # descend: fewer samples in the family of each sampled frame's cheapest passing setting (a bisection)
        for frame in self.sampled:
            yield from self._descend(frame)
        learner.calibrate_frames()  # again, with the checks' renders
        # bridges: a setting measured passing on both sampled frames of a pair caps the frames between them;
        # first at the target, then (with how much one setting's SSIM differs between neighbours measured) at
        # the margin unseen frames need
        yield from self._bridges(0.0)
        self.unseen_margin = self._estimate_margin()
        yield from self._ascend()
        yield from self._bridges(None)
        learner.calibrate_frames()
        results = []
        previous = None
        for frame in self.frames:
            feats = self.features[frame]
            unseen = frame not in self.sampled
            index = self._final_choice(frame, previous)
            settings = self.space.candidates[index]
            prediction = learner.predict(feats, unseen=unseen)
            if unseen:  # only predicted: conservatively (the margin of unseen frames, what neighbours measured)
                predicted, bound = self.predicted_quality(frame, settings)
            else:
                predicted = float(y_to_ssim(prediction.y_mean[index]))
                bound = float(y_to_ssim(prediction.y_mean[index] + learner.confidence * prediction.y_std[index]))
            result = FrameResult(
                frame=frame, settings=settings, predicted_ssim=predicted, predicted_ssim_bound=bound,
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
        measured within ``NEAR`` of the target on one of the two count.

        Also sets ``unseen_rate``: the same per frame of distance, each difference divided by the square root
        of the two frames' distance (a frame's quality drifts along the shot like a random walk), so that
        ``margin_at`` can scale the margin with an unseen frame's distance to its nearest sampled frame."""
        diffs: list[float] = []
        scaled: list[float] = []
        y_target = float(ssim_to_y(self.target))
        for a, b in zip(self.sampled, self.sampled[1:]):
            on_a, on_b = self.measured.get(a, {}), self.measured.get(b, {})
            for s in set(on_a) & set(on_b):
                ya, yb = float(ssim_to_y(on_a[s])), float(ssim_to_y(on_b[s]))
                if min(abs(ya - y_target), abs(yb - y_target)) <= NEAR:  # where the choice is made
                    diffs.append(ya - yb)
                    scaled.append((ya - yb) / float(np.sqrt(b - a)))
        self.unseen_rate = self.unseen_confidence * float(np.sqrt(np.mean(np.square(scaled)))) \
            if len(scaled) >= 2 else None
        spread = float(np.sqrt(np.mean(np.square(diffs)))) if len(diffs) >= 2 else \
            float(np.sqrt(2.0) * self.learner.quality.noise)
        return self.unseen_confidence * spread

    def _ascend(self) -> Iterator[str]:
        """On each sampled frame where no setting was measured passing with the margin its unseen neighbours
        need (``_needed_margin``): more samples in the family of its cheapest passing setting until one does
        (up to ``descents`` renders)."""
        for frame in self.sampled:
            margin = self._needed_margin(frame)
            floor = self._floor(margin)
            current = self._cheapest(frame, self.passing(frame), by_work=self.by_work)
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

    def _bridges(self, margin: float | None) -> Iterator[str]:
        """For each pair of neighbouring sampled frames, measure on each the cheapest setting passing with
        ``margin`` on the other (``_bridge_candidates``) until one passes with it on both. ``margin`` None: the
        widest that a frame between the two needs (``margin_at``; pairs with no frame between are skipped)."""
        for a, b in zip(self.sampled, self.sampled[1:]):
            if margin is None:
                between = [self.margin_at(f) for f in self.frames if a < f < b]
                if not between:
                    continue
            pair_margin = max(between) if margin is None else margin
            floor = self._floor(pair_margin)
            for settings in self._bridge_candidates(a, b, pair_margin):
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
        """For a frame that was not sampled: the settings measured passing with its margin (``margin_at``) on
        both its neighbouring sampled frames (on the one at either end of the shot)."""
        margin = self.margin_at(frame)
        sides = [set(self.passing(f, margin)) for f in self.neighbours(frame)]
        if not sides:
            return []
        return sorted(set.intersection(*sides), key=self.space.index)

    def _cheapest(self, frame: int, options: list[RenderSettings], by_work: bool = False) -> RenderSettings | None:
        """The option predicted cheapest to render ``frame`` with (the time model; ``by_work``: the fixed work
        estimate)."""
        if not options:
            return None
        seconds = self.learner.predict(self.features[frame], by_work=by_work).seconds
        return min(options, key=lambda s: (seconds[self.space.index(s)], self.space.index(s)))

    def _descend(self, frame: int) -> Iterator[str]:
        """Fewer samples for sampled ``frame`` in the family of its cheapest passing setting: a bisection over the
        sample counts of the space between that setting's and the largest count measured failing in the family
        (or the fewest), up to ``descents`` renders. A check or a rescue often lands far above what the frame
        needs (quality flattens with samples, the model is cautious); one step down at a time rarely gets back."""
        best = self._cheapest(frame, self.passing(frame), by_work=self.by_work)
        if best is None:
            return
        counts = sorted(self.space.samples)
        seen = self.measured[frame]
        family = dataclasses.replace(best, samples=0)
        hi = counts.index(best.samples)
        lo = max((counts.index(s.samples) for s, q in seen.items()
                  if dataclasses.replace(s, samples=0) == family and s.samples < best.samples and q < self.target),
                 default=-1)
        renders = 0
        while hi - lo > 1 and renders < self.descents:
            mid = (lo + hi) // 2
            settings = dataclasses.replace(best, samples=counts[mid])
            quality = seen.get(settings)
            if quality is None:
                quality = self._check_render(frame, settings, "descend")
                renders += 1
                yield f"descend frame {frame}: {settings.short()} -> SSIM {quality:.4f}"
            if quality >= self.target:
                hi = mid
            else:
                lo = mid

    def _rescue(self, frame: int) -> Iterator[str]:
        """A sampled ``frame`` where nothing was measured passing: its best measured setting with every bounce
        of the space and the accurate denoiser (where the space has them), from the fewest samples up in steps
        of about 4x, until one passes (the descent then looks for fewer samples). A truncated light path is a
        bias that no sample count makes up; the reference has every bounce."""
        seen = self.measured.get(frame, {})
        if not seen or any(q >= self.target for q in seen.values()):
            return
        best = max(seen.items(), key=lambda item: item[1])[0]
        space = self.space
        family = dataclasses.replace(
            best, diffuse_bounces=max(space.diffuse_bounces), glossy_bounces=max(space.glossy_bounces),
            transmission_bounces=max(space.transmission_bounces),
            denoiser="accurate" if "accurate" in space.denoiser else best.denoiser)
        counts = sorted(space.samples)
        ladder = counts[::RESCUE_STRIDE] + ([counts[-1]] if (len(counts) - 1) % RESCUE_STRIDE else [])
        for n in ladder:
            settings = dataclasses.replace(family, samples=n)
            quality = seen.get(settings)
            if quality is None:
                quality = self._check_render(frame, settings, "rescue")
                yield f"rescue frame {frame}: {settings.short()} -> SSIM {quality:.4f}"
            if quality >= self.target:
                return

    def margin_at(self, frame: int) -> float:
        """The margin (log10 units) an unseen ``frame`` needs on its neighbouring sampled frames.

        With ``unseen_rate`` measured: that times the square root of the frame's distance to its nearest sampled
        frame (a frame next to a sampled frame needs less than one halfway to the next; one far beyond the
        last needs more). Otherwise ``unseen_margin`` between two sampled frames (measured as their difference, over a wider distance than
        any frame between them has to the nearer one), growing as the square root of the distance beyond the
        mean spacing of the sampled frames for a frame before the first or after the last of them (one
        neighbour to go by, possibly further away than any two neighbours were apart)."""
        margin = self.unseen_margin or 0.0
        if frame in self.sampled or not self.sampled or margin <= 0:
            return margin
        if self.unseen_rate is not None:
            gap = float(min(abs(frame - f) for f in self.sampled))
            return self.unseen_rate * float(np.sqrt(max(gap, 1.0)))
        if self.sampled[0] < frame < self.sampled[-1]:
            return margin
        spacing = float(np.mean(np.diff(self.sampled))) if len(self.sampled) > 1 else 1.0
        gap = float(min(abs(frame - f) for f in self.sampled))
        return margin * float(np.sqrt(max(1.0, gap / max(spacing, 1.0))))

    def _needed_margin(self, sampled_frame: int) -> float:
        """The widest margin an unseen frame that has ``sampled_frame`` as a neighbour needs."""
        needs = [self.margin_at(f) for f in self.frames
                 if f not in self.sampled and sampled_frame in self.neighbours(f)]
        return max(needs, default=self.unseen_margin or 0.0)

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
            return sum(float(self.learner.predict(self.features[f], by_work=self.by_work).seconds[i])
                       for f in (a, b))

        def untried(s: RenderSettings) -> bool:  # not yet measured under the floor on either frame
            return all(self.measured.get(f, {}).get(s, 1.0) >= floor for f in (a, b))

        current = min((cost(s) for s in both), default=float("inf"))
        options = {self._cheapest(a, self.passing(a, margin), by_work=self.by_work),
                   self._cheapest(b, self.passing(b, margin), by_work=self.by_work)} - {None}
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
        # the model's choice must meet the target with the frame's margin on top of its own cautious bound
        floor = self._floor(self.margin_at(frame))
        index = learner.choose(feats, floor, previous, unseen=True)
        cap = self._cheapest(frame, self.safe(frame))
        if cap is None:
            return index
        prediction = learner.predict(feats, unseen=True)
        confident = prediction.y_mean[index] + learner.confidence * prediction.y_std[index] <= ssim_to_y(floor)
        capped = self.space.index(cap)
        if confident and prediction.seconds[index] < prediction.seconds[capped]:
            return index
        return capped

    def predicted_quality(self, frame: int, settings: RenderSettings) -> tuple[float, float]:
        """(predicted SSIM, its cautious lower bound) of an unseen ``frame`` rendered with ``settings``: the
        worse of the model's and of what ``settings`` measured on the neighbouring sampled frames, each bound
        lowered by the frame's margin (``margin_at``), since nothing was measured on the frame itself."""
        learner = self.learner
        index = self.space.index(settings)
        prediction = learner.predict(self.features[frame], unseen=True)
        margin = self.margin_at(frame)
        mean = float(prediction.y_mean[index])
        bound = mean + learner.confidence * float(prediction.y_std[index]) + margin
        measured = [self.measured[f][settings] for f in self.neighbours(frame)
                    if settings in self.measured.get(f, {})]
        if measured:
            worst = max(float(ssim_to_y(q)) for q in measured)
            mean, bound = max(mean, worst), max(bound, worst + margin)
        return float(y_to_ssim(mean)), float(y_to_ssim(bound))

    @staticmethod
    def _measure(result: FrameResult, outcome: RenderOutcome, reference: np.ndarray) -> None:
        image = match_size(outcome.image, reference)
        result.measured_ssim = ssim(image, reference)
        result.measured_psnr = psnr(image, reference)
        result.seconds = outcome.seconds
        result.cpu_seconds = outcome.cpu_seconds
