"""How much can any per-frame choice of render settings gain over the best fixed one? (issue 19's ceiling)

Run: ``./dojo bench render_oracle`` (``nice -n 15`` on a shared machine). For each shot of
``RIG_DOJO_BENCH_SHOTS`` (default ``interior``; 24 frames at 128x96, Cycles on the CPU with 2 threads, as
``bench_render.py``) and ``RIG_DOJO_BENCH_TARGET`` (default SSIM 0.98), on ``RIG_DOJO_BENCH_ORACLE_FRAMES``
frames spread over the shot (default 6; ``all`` for every frame):

- **per-frame oracle**: on each frame separately, the cheapest setting that reaches the target against the
  frame's reference — a tuner that knew every frame's answer could do no better within these families;
- **best fixed**: the cheapest single setting that reaches the target on every one of those frames (per
  family, the most of the frames' fewest passing samples), as the bench's grid-search baseline.

Both search the same families (denoiser x bounces x adaptive threshold) and Cycles' sample steps up to 256 (the
fewest passing samples by bisection, quality taken to grow with samples), and share one cache of renders, so
they differ only in being allowed to change per frame. The printed ratio (fixed CPU s / oracle CPU s over the frames) is the most a per-frame tuner can be
faster than the best fixed setting on those frames: where it is under issue 19's 1.5x, that goal cannot be met
on the shot by choosing settings per frame, whatever the tuner learns.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

FRAMES = 24
WIDTH, HEIGHT = 128, 96
THREADS = 2
# denoiser x (diffuse, glossy, transmission) x adaptive threshold: the bench grid's families and the cheaper
# bounces the tuner picks
FAMILIES = tuple((dn, bounces, thr) for dn in ("accurate", "fast")
                 for bounces in ((1, 1, 2), (2, 2, 4), (4, 4, 4), (4, 4, 12))
                 for thr in (0.1, 0.05, 0.0))
MAX_SAMPLES = 256  # the ladder's top (the reference has 256 samples)


class _Cached:
    """The renderer with one cache of (frame, settings) renders shared by every search."""

    def __init__(self, renderer):
        self.renderer = renderer
        self.cache: dict = {}
        self.renders = 0

    def render(self, frame, settings):
        key = (frame, settings)
        if key not in self.cache:
            self.cache[key] = self.renderer.render(frame, settings)
            self.renders += 1
        return self.cache[key]

    def reference(self, frame):
        return self.renderer.reference(frame)


def _spread(count: int) -> list[int]:
    if count >= FRAMES:
        return list(range(1, FRAMES + 1))
    return sorted({1 + round(i * (FRAMES - 1) / max(count - 1, 1)) for i in range(count)})


def _least_samples(cached, frame: int, family, target: float, ssim) -> int | None:
    """The fewest samples of the ladder at which ``family`` reaches ``target`` on ``frame`` (bisection: quality
    is taken to grow with samples), or None when even the top does not."""
    from rig_dojo.envs.rendering.settings import SAMPLE_STEPS, RenderSettings

    denoiser, (diffuse, glossy, transmission), threshold = family
    ladder = [n for n in SAMPLE_STEPS if n <= MAX_SAMPLES]

    def passes(n: int) -> bool:
        settings = RenderSettings(n, threshold, diffuse, glossy, transmission, denoiser, 1.0)
        return ssim(cached.render(frame, settings).image, cached.reference(frame)) >= target

    if not passes(ladder[-1]):
        return None
    low, high = -1, len(ladder) - 1  # ladder[high] passes; ladder[low] fails (or is below the ladder)
    while high - low > 1:
        mid = (low + high) // 2
        if passes(ladder[mid]):
            high = mid
        else:
            low = mid
    return ladder[high]


def _oracle_shot(name: str, target: float, frames: list[int]) -> dict:
    import bpy

    from rig_dojo.envs.rendering.metrics import ssim
    from rig_dojo.envs.rendering.settings import RenderSettings
    from rig_dojo.scene.builders.render_shots import build_shot
    from rig_dojo.scene.render_tune import CyclesRenderer

    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = build_shot(name, frames=FRAMES, width=WIDTH, height=HEIGHT)

    def setting(family, n: int) -> RenderSettings:
        denoiser, (diffuse, glossy, transmission), threshold = family
        return RenderSettings(n, threshold, diffuse, glossy, transmission, denoiser, 1.0)

    with CyclesRenderer(scene, threads=THREADS) as renderer:
        cached = _Cached(renderer)
        began = time.perf_counter()
        for frame in frames:
            renderer.reference(frame)
        _note(f"{name}: references of frames {frames} in {time.perf_counter() - began:.0f} s")
        least = {}  # (frame, family) -> fewest passing samples
        for frame in frames:
            for family in FAMILIES:
                least[(frame, family)] = _least_samples(cached, frame, family, target, ssim)
            _note(f"{name} frame {frame}: {cached.renders} renders so far")
        per_frame = {}
        for frame in frames:
            options = [(cached.render(frame, setting(fam, least[(frame, fam)])).cpu_seconds, fam)
                       for fam in FAMILIES if least[(frame, fam)] is not None]
            seconds, fam = min(options)
            per_frame[frame] = {"settings": setting(fam, least[(frame, fam)]).short(), "cpu_seconds": seconds}
        fixed_options = []
        for fam in FAMILIES:
            if any(least[(f, fam)] is None for f in frames):
                continue
            n = max(least[(f, fam)] for f in frames)  # the fewest samples passing on every frame
            each = {f: cached.render(f, setting(fam, n)).cpu_seconds for f in frames}
            if all(ssim(cached.render(f, setting(fam, n)).image, renderer.reference(f)) >= target for f in frames):
                fixed_options.append((sum(each.values()), setting(fam, n), each))
        if not fixed_options:
            raise RuntimeError(f"{name}: no single setting of the families reaches SSIM {target} on {frames}")
        _total, fixed, fixed_each = min(fixed_options, key=lambda o: o[0])
    oracle_total = sum(p["cpu_seconds"] for p in per_frame.values())
    return {"shot": name, "target": target, "frames": frames, "per_frame": per_frame,
            "fixed": fixed.short(), "fixed_cpu_seconds": fixed_each, "oracle_cpu_seconds": oracle_total,
            "fixed_total_cpu_seconds": sum(fixed_each.values()), "renders": cached.renders,
            "ceiling": sum(fixed_each.values()) / oracle_total}


def _note(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def main() -> None:
    target = float(os.environ.get("RIG_DOJO_BENCH_TARGET", "0.98"))
    shots = [s for s in os.environ.get("RIG_DOJO_BENCH_SHOTS", "interior").split(",") if s]
    count = os.environ.get("RIG_DOJO_BENCH_ORACLE_FRAMES", "6")
    frames = _spread(FRAMES if count == "all" else int(count))
    out = Path(os.environ.get("RIG_DOJO_BENCH_OUT") or tempfile.mkdtemp(prefix="rig_dojo_bench_oracle_"))
    out.mkdir(parents=True, exist_ok=True)
    results = [_oracle_shot(name, target, frames) for name in shots]
    print(f"per-frame oracle vs best fixed, target SSIM {target:g}, frames {frames}, {len(FAMILIES)} families x "
          "Cycles sample steps, CPU seconds summed over the frames (one shared cache of renders)")
    print(f"{'shot':<9} {'oracle cpu s':>12} {'fixed cpu s':>11} {'ceiling':>8}  fixed setting / per-frame settings")
    for r in results:
        print(f"{r['shot']:<9} {r['oracle_cpu_seconds']:>12.2f} {r['fixed_total_cpu_seconds']:>11.2f} "
              f"{r['ceiling']:>7.2f}x  {r['fixed']} / "
              + ", ".join(f"{f}: {p['settings']} {p['cpu_seconds']:.2f}" for f, p in r["per_frame"].items()))
    (out / "render_oracle.json").write_text(json.dumps(results, indent=2))
    print(f"render_oracle.json in {out}")


if __name__ == "__main__":
    main()
