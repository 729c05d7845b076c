"""Adaptive render settings (issue 19) vs Cycles' defaults vs the best single setting, on three shots.

Run: ``.venv/bin/python bench/run.py render`` (``nice -n 15`` on a shared machine). For each shot
(``lit``, ``glass``, ``interior`` from ``scene.builders.render_shots``; 24 frames at 128x96, Cycles on the
CPU with 2 threads) and the target SSIM (``RIG_DOJO_BENCH_TARGET``, default 0.98):

1. **tune**: ``TuneRun`` (previews of all 24 frames, references of the sampled frames, the bandit's
   training renders, the checks), timed;
2. **best fixed setting**: grid search on the same sampled frames and references
   (``rendering.baselines.search_fixed``), over the same sample counts as the tuner
   (``settings.SAMPLE_STEPS``) and the grid's families plus every family (denoiser, bounces,
   threshold) the tuner chose for a frame;
3. **all 24 frames**, interleaved per frame so load on the machine hits every method alike: a
   reference, Cycles' defaults, the best fixed setting, the adaptive settings; SSIM of each
   against the reference, wall-clock and CPU seconds of each render.

Prints one table (total render time of the 24 frames per method, frames below the target, worst
SSIM, speed-ups of adaptive against each baseline) and writes a side-by-side sheet per shot
(reference / default / best fixed / adaptive for the sampled frames, with per-frame times) and
``render_bench.json`` to ``$RIG_DOJO_BENCH_OUT`` or the system temporary folder.
``RIG_DOJO_BENCH_SHOTS=lit,glass`` runs a subset; ``RIG_DOJO_BENCH_SAMPLED`` sets how many frames the tuner
samples (default ``all``, render-tune's default: every frame measured against its reference, and the grid search
then uses all 24 too; ``6``: six frames, the others predicted with a margin, the grid search on those six).
The sheet shows at most 6 of the sampled frames, spread over the shot. ``RIG_DOJO_BENCH_DEFAULTS=0`` leaves
out Cycles' defaults (4096 samples: about 20 of the shot's 25 minutes), for repeats of a run that measured them.
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
_SAMPLED = os.environ.get("RIG_DOJO_BENCH_SAMPLED", "all")
SAMPLED = None if _SAMPLED == "all" else int(_SAMPLED)  # None: every frame (render-tune's default)
SHEET_ROWS = 6
DEFAULTS = os.environ.get("RIG_DOJO_BENCH_DEFAULTS", "1") != "0"


def _bench_shot(name: str, target: float, out: Path) -> dict:
    import bpy

    from rig_dojo.agents.curve import write_png
    from rig_dojo.envs.rendering.baselines import GRID_FAMILIES, search_fixed
    from rig_dojo.envs.rendering.metrics import ssim
    from rig_dojo.envs.rendering.settings import CYCLES_DEFAULTS
    from rig_dojo.envs.rendering.sheet import side_by_side
    from rig_dojo.envs.rendering.tune import TuneRun
    from rig_dojo.scene.builders.render_shots import build_shot
    from rig_dojo.scene.render_tune import CyclesRenderer

    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = build_shot(name, frames=FRAMES, width=WIDTH, height=HEIGHT)
    frames = list(range(1, FRAMES + 1))
    with CyclesRenderer(scene, threads=THREADS) as renderer:
        began = time.perf_counter()
        run = TuneRun(renderer, frames, target, sampled=SAMPLED, pixels=renderer.pixels)
        report = run.run()
        _note(f"{name}: tuned in {time.perf_counter() - began:.0f} s, sampled frames {run.sampled}")
        tune_seconds = time.perf_counter() - began
        tune_cpu = sum(h["cpu_seconds"] for h in run.history)
        began = time.perf_counter()
        hardest = sorted(run.sampled, key=lambda f: -run.features[f].denoised_disagreement)
        # the grid's families, and those the tuner chose (so the fixed setting may use what adaptive uses)
        chosen = [(s.denoiser, (s.diffuse_bounces, s.glossy_bounces, s.transmission_bounces), s.adaptive_threshold)
                  for s in report.choices().values()]
        families = tuple(dict.fromkeys(GRID_FAMILIES + tuple(chosen)))
        fixed = search_fixed(renderer, run.sampled, target, order=hardest, families=families)
        search_seconds = time.perf_counter() - began
        _note(f"{name}: grid search {fixed.renders} renders, {search_seconds:.0f} s, best fixed "
              f"{fixed.best.short() if fixed.best else None}")
        if fixed.best is None:
            raise RuntimeError(f"{name}: no setting of the grid reaches SSIM {target} on the sampled frames")
        methods = {"default": lambda f: CYCLES_DEFAULTS, "fixed": lambda f: fixed.best,
                   "adaptive": lambda f: report.choices()[f]}
        if not DEFAULTS:
            del methods["default"]
        rows = []
        images = {}
        for frame in frames:
            reference = renderer.reference(frame)
            row = {"frame": frame, "sampled": frame in run.sampled}
            for method, pick in methods.items():
                settings = pick(frame)
                outcome = renderer.render(frame, settings)
                row[method] = {"settings": settings.short(), "ssim": ssim(outcome.image, reference),
                               "seconds": outcome.seconds, "cpu_seconds": outcome.cpu_seconds}
                if frame in run.sampled:
                    images[(frame, method)] = outcome.image
            if frame in run.sampled:
                images[(frame, "reference")] = reference
            rows.append(row)
            _note(f"{name} frame {frame}: " + ", ".join(f"{m} {row[m]['ssim']:.4f} {row[m]['cpu_seconds']:.2f}s"
                                                     for m in methods))
        reference_settings = renderer.reference_settings.settings().short()
    totals = {}
    for method in methods:
        totals[method] = {
            "seconds": sum(r[method]["seconds"] for r in rows),
            "cpu_seconds": sum(r[method]["cpu_seconds"] for r in rows),
            "below_target": sum(r[method]["ssim"] < target for r in rows),
            "worst_ssim": min(r[method]["ssim"] for r in rows),
        }
    sheet_rows = []
    shown = [run.sampled[round(i * (len(run.sampled) - 1) / max(SHEET_ROWS - 1, 1))]
             for i in range(min(SHEET_ROWS, len(run.sampled)))]
    for frame in dict.fromkeys(shown):
        cells = [(images[(frame, "reference")], f"F{frame} REFERENCE")]
        for m in methods:
            r = rows[frame - 1][m]
            caption = f"{m.upper()} {r['seconds']:.2f}S/{r['cpu_seconds']:.2f} SSIM {r['ssim']:.3f}"
            cells.append((images[(frame, m)], caption))
        sheet_rows.append(cells)
    sheet = out / f"render_{name}.png"
    write_png(sheet, side_by_side(sheet_rows, title=f"{name.upper()}  TARGET SSIM {target:g}  "
                                                    f"(WALL S/CPU S, SSIM VS THE REFERENCE)"))
    return {"shot": name, "target": target, "sampled": run.sampled, "fixed": fixed.best.short(),
            "fixed_search_renders": fixed.renders, "fixed_search_seconds": search_seconds,
            "tune_seconds": tune_seconds, "tune_training_cpu_seconds": tune_cpu,
            "tune_renders": report.training_renders, "reference": reference_settings,
            "totals": totals, "frames": rows, "sheet": str(sheet), "learner": report.learner}


def _note(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _table(results: list[dict]) -> str:
    head = (f"{'shot':<9} {'method':<9} {'wall s':>7} {'cpu s':>7} {'<target':>7} {'worst':>6}  "
            f"{'adaptive speed-up (wall / cpu)':<30} settings")
    lines = [head, "-" * len(head)]
    for res in results:
        t = res["totals"]
        for method in [m for m in ("default", "fixed", "adaptive") if m in t]:
            m = t[method]
            if method == "adaptive":
                speed = ""
                settings = "per frame: " + ", ".join(sorted({r["adaptive"]["settings"] for r in res["frames"]}))[:60]
            else:
                a = t["adaptive"]
                speed = f"{m['seconds'] / a['seconds']:.2f}x / {m['cpu_seconds'] / a['cpu_seconds']:.2f}x"
                settings = res["frames"][0][method]["settings"]
            lines.append(f"{res['shot']:<9} {method:<9} {m['seconds']:>7.2f} {m['cpu_seconds']:>7.2f} "
                         f"{m['below_target']:>4}/{len(res['frames']):<2} {m['worst_ssim']:>6.4f}  {speed:<30} "
                         f"{settings}")
        lines.append(f"{'':<9} tune: {res['tune_renders']} renders, {res['tune_seconds']:.1f} s wall "
                     f"(sampled {res['sampled']}); grid search: {res['fixed_search_renders']} renders, "
                     f"{res['fixed_search_seconds']:.1f} s")
    return "\n".join(lines)


def main() -> None:
    target = float(os.environ.get("RIG_DOJO_BENCH_TARGET", "0.98"))
    shots = [s for s in os.environ.get("RIG_DOJO_BENCH_SHOTS", "lit,glass,interior").split(",") if s]
    out = Path(os.environ.get("RIG_DOJO_BENCH_OUT") or tempfile.mkdtemp(prefix="rig_dojo_bench_render_"))
    out.mkdir(parents=True, exist_ok=True)
    results = []
    for name in shots:
        began = time.perf_counter()
        results.append(_bench_shot(name, target, out))
        print(f"{name}: {time.perf_counter() - began:.0f} s", flush=True)
    print(f"24 frames per shot at {WIDTH}x{HEIGHT}, Cycles CPU {THREADS} threads, target SSIM {target:g}; "
          f"references {results[0]['reference']}; times are totals over the 24 frames on a shared machine")
    print(_table(results))
    (out / "render_bench.json").write_text(json.dumps(results, indent=2))
    print(f"sheets and render_bench.json in {out}")


if __name__ == "__main__":
    main()
