"""What can a render tuner gain on a frame it does not measure? (issue 19: the seed's share of the ceiling)

Run: ``./dojo bench render_seeds`` (``nice -n 15`` on a shared machine). For each shot of ``RIG_DOJO_BENCH_SHOTS``
(default ``interior``; 24 frames at 128x96, Cycles on the CPU with 2 threads, as ``bench_render.py``) and
``RIG_DOJO_BENCH_TARGET`` (default SSIM 0.98), every frame is rendered with each setting of ``FAMILIES`` x
``SAMPLES`` twice: with the scene's seed (the render a user gets) and with another seed (the same setting's
quality drawn again), each measured against the frame's reference. Then, over all the frames:

- **measured oracle**: each frame's cheapest setting whose render (the scene's seed) reaches the target: what
  a tuner gets on a frame it measured against a reference, including where that seed happened to land well;
- **expected-quality oracle at z**: each frame's cheapest setting whose *expected* quality (the mean of
  ``y = log10(1 - SSIM)`` over the two seeds) clears the target by ``z`` times the seed spread (the RMS of the
  two seeds' difference / sqrt 2 near the target): a tuner that knew every frame's expected quality and never
  measured the frame itself can do no better, and ``z`` is the safety it needs against the seed. The mean
  includes the scene's seed, so it knows half of that render's luck: the figure is an upper bound of what
  predicting can gain;
- **best fixed**: the cheapest single setting of the same families reaching the target on every frame.

Printed: CPU seconds over the frames, the ratio of the best fixed to each, and the frames under the target.
Where the expected-quality oracle is under 1.5x at a z that keeps every frame at the target, issue 19's goal
cannot be met by *predicting* frames, however good the model: the frames have to be measured.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

FRAMES = 24
WIDTH, HEIGHT = 128, 96
THREADS = 2
# (denoiser, (diffuse, glossy, transmission), adaptive threshold): the families the tuner and the oracle bench
# chose on the interior shot
FAMILIES = (("fast", (4, 4, 12), 0.05), ("accurate", (4, 4, 12), 0.0), ("fast", (2, 2, 4), 0.05))
SAMPLES = (3, 4, 5, 6, 8, 10, 12, 16, 20, 24, 32)
OTHER_SEED = 4242
SAFETY = (0.0, 0.5, 1.0, 1.64)
NEAR = 0.3  # log10 units of 1 - SSIM: the renders near the target that measure the seed spread


def _y(quality: float) -> float:
    return float(np.log10(max(1.0 - quality, 1e-6)))


def _measure_shot(name: str) -> list[dict]:
    import bpy

    from rig_dojo.envs.rendering.metrics import ssim
    from rig_dojo.envs.rendering.settings import RenderSettings
    from rig_dojo.scene.builders.render_shots import build_shot
    from rig_dojo.scene.render_tune import CyclesRenderer

    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = build_shot(name, frames=FRAMES, width=WIDTH, height=HEIGHT)
    rows = []
    began = time.perf_counter()
    with CyclesRenderer(scene, threads=THREADS) as renderer:
        for frame in range(1, FRAMES + 1):
            reference = renderer.reference(frame)
            for family in FAMILIES:
                denoiser, (diffuse, glossy, transmission), threshold = family
                for n in SAMPLES:
                    settings = RenderSettings(n, threshold, diffuse, glossy, transmission, denoiser, 1.0)
                    own = renderer.render(frame, settings)
                    other = renderer.render(frame, settings, seed=OTHER_SEED)
                    rows.append({"frame": frame, "family": list(family), "samples": n,
                                 "cpu_seconds": own.cpu_seconds, "ssim": ssim(own.image, reference),
                                 "ssim_other_seed": ssim(other.image, reference)})
            _note(f"{name} frame {frame}: {time.perf_counter() - began:.0f} s")
    return rows


def analyse(rows: list[dict], target: float) -> dict:
    """The oracles and the best fixed setting from the measured rows (see the module docstring)."""
    y_target = _y(target)
    frames = sorted({r["frame"] for r in rows})
    key = {(json.dumps(r["family"]), r["frame"], r["samples"]): r for r in rows}
    families = sorted({json.dumps(r["family"]) for r in rows})
    samples = sorted({r["samples"] for r in rows})
    near = [r for r in rows if abs(_y(r["ssim"]) - y_target) <= NEAR]
    spread = float(np.sqrt(np.mean([(_y(r["ssim"]) - _y(r["ssim_other_seed"])) ** 2 for r in near]) / 2.0))

    def settle(passes) -> tuple[float, int]:
        cost, below = 0.0, 0
        for f in frames:
            options = [(key[(fam, f, n)]["cpu_seconds"], fam, n) for fam in families for n in samples
                       if passes(key[(fam, f, n)])]
            if not options:  # nothing passes: the most samples of the first family (counted if under the target)
                options = [(key[(families[0], f, samples[-1])]["cpu_seconds"], families[0], samples[-1])]
            seconds, fam, n = min(options)
            cost += seconds
            below += key[(fam, f, n)]["ssim"] < target
        return cost, below

    fixed = min(((sum(key[(fam, f, n)]["cpu_seconds"] for f in frames), fam, n) for fam in families for n in samples
                 if all(key[(fam, f, n)]["ssim"] >= target for f in frames)), default=None)
    result = {"frames": frames, "seed_spread": spread, "fixed": None, "oracles": {}}
    if fixed is not None:
        result["fixed"] = {"cpu_seconds": fixed[0], "family": json.loads(fixed[1]), "samples": fixed[2]}
    cost, below = settle(lambda r: r["ssim"] >= target)
    result["oracles"]["measured"] = {"cpu_seconds": cost, "below": below}
    for z in SAFETY:
        cost, below = settle(
            lambda r, z=z: (_y(r["ssim"]) + _y(r["ssim_other_seed"])) / 2 + z * spread <= y_target)
        result["oracles"][f"expected z={z:g}"] = {"cpu_seconds": cost, "below": below}
    return result


def _note(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def main() -> None:
    target = float(os.environ.get("RIG_DOJO_BENCH_TARGET", "0.98"))
    shots = [s for s in os.environ.get("RIG_DOJO_BENCH_SHOTS", "interior").split(",") if s]
    out = Path(os.environ.get("RIG_DOJO_BENCH_OUT") or tempfile.mkdtemp(prefix="rig_dojo_bench_seeds_"))
    out.mkdir(parents=True, exist_ok=True)
    results = {}
    for name in shots:
        rows = _measure_shot(name)
        results[name] = {"rows": rows, "analysis": analyse(rows, target)}
    print(f"target SSIM {target:g}, {FRAMES} frames at {WIDTH}x{HEIGHT}, families {FAMILIES} x samples {SAMPLES}, "
          "CPU seconds over the frames; ratio = best fixed / method")
    for name, res in results.items():
        a = res["analysis"]
        fixed = a["fixed"]
        print(f"{name}: seed spread {a['seed_spread']:.3f} (log10 of 1 - SSIM); best fixed "
              + (f"{fixed['samples']} spp {fixed['family']}: {fixed['cpu_seconds']:.2f} s" if fixed else "none"))
        for method, m in a["oracles"].items():
            ratio = f"{fixed['cpu_seconds'] / m['cpu_seconds']:.2f}x" if fixed else "-"
            print(f"  {method:<18} {m['cpu_seconds']:>7.2f} s  {ratio:>6}  under the target: {m['below']}")
    (out / "render_seeds.json").write_text(json.dumps(results, indent=2))
    print(f"render_seeds.json in {out}")


if __name__ == "__main__":
    main()
