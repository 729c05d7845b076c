"""Camera task: twin speed, the shot suite (solved vs learned vs fixed vs Track To vs Track To + dolly),
Workbench contact sheets.

Run: ``./dojo bench camera`` (``bench/run.py camera``). Prints

- env-steps/s of ``CameraTask`` at n_envs 1, 64, 1024 with occlusion rays on, and the
  ratio to the same task with occlusion off (the cost of the rays) and of the hierarchy
  against a brute-force ray test over every triangle, measured in this run;
- the shot suite (``scene/builders/camera_shots.py``: six shots built with bpy), each trained the way
  ``python -m rig_dojo train shot.blend --task camera`` does with the defaults (the shot solver,
  ``algo = "solve"``) and with the learned policy's defaults (``cem``), against a fixed camera,
  Track To and Track To + the best straight dolly: framing / occlusion / jerk / collisions /
  frames on target (``envs.camera.task.shot_metrics``, the numbers of summary.json), the
  training seconds, and whether the default meets the bar of issue 17 (framing <= Track To's
  + 0.02, occlusion <= max(0.05, half Track To's), jerk <= Track To's, no collision);
- per shot, the baked solved camera's verification error in Blender and a contact sheet (8
  frames rendered with Workbench: the solved camera on top, Track To below), written to
  ``$RIG_DOJO_BENCH_OUT`` or the system temporary folder, never next to the code.

``RIG_DOJO_BENCH_SHOTS=loop,zig_zag`` picks shots; ``RIG_DOJO_BENCH_CEM=0`` leaves the learned policy out;
``RIG_DOJO_BENCH_VARIANT=3`` measures jittered variants of the shots (layouts no setting was tuned on).
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np

SECONDS = 1.5  # per speed measurement
SHEET_FRAMES = 8
SHEET_COLUMNS = 4


def _steps_per_second(task, seconds: float = SECONDS) -> float:
    task.reset()
    rng = np.random.default_rng(0)
    action = rng.uniform(-1, 1, (task.num_envs, task.action_space.shape[0]))
    task.step(action)
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        task.step(action)
        steps += 1
    return steps * task.num_envs / (time.perf_counter() - start)


def _brute_force_blocked(tris: np.ndarray, p0: np.ndarray, p1: np.ndarray) -> np.ndarray:
    """All segments against all triangles at once (the baseline of the hierarchy)."""
    a, e1, e2 = tris[:, 0], tris[:, 1] - tris[:, 0], tris[:, 2] - tris[:, 0]
    d = (p1 - p0)[:, None]
    pv = np.cross(d, e2[None])
    det = np.einsum("stj,tj->st", pv, e1)
    ok = np.abs(det) > 1e-12
    inv = np.where(ok, 1.0 / np.where(ok, det, 1.0), 0.0)
    tv = p0[:, None] - a[None]
    u = np.einsum("stj,stj->st", tv, pv) * inv
    qv = np.cross(tv, e1[None])
    v = np.einsum("stj,sj->st", qv, p1 - p0) * inv
    t = np.einsum("stj,tj->st", qv, e2) * inv
    return (ok & (u >= 0) & (v >= 0) & (u + v <= 1) & (t > 1e-6) & (t < 1 - 1e-6)).any(axis=1)


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _render_contact_sheet(scene, frames: list[int], path: Path) -> Path:
    import bpy

    render = scene.render
    render.engine = "BLENDER_WORKBENCH"
    render.resolution_percentage = 50
    scene.display.shading.color_type = "OBJECT"
    tiles = []
    with tempfile.TemporaryDirectory() as tmp:
        for f in frames:
            scene.frame_set(f)
            render.filepath = str(Path(tmp) / f"frame_{f:04d}.png")
            bpy.ops.render.render(write_still=True)
            image = bpy.data.images.load(render.filepath)
            w, h = image.size
            px = np.empty(w * h * 4, dtype=np.float32)
            image.pixels.foreach_get(px)
            bpy.data.images.remove(image)
            tiles.append(np.flipud(px.reshape(h, w, 4)))  # Blender rows run bottom-up
    h, w = tiles[0].shape[:2]
    rows = -(-len(tiles) // SHEET_COLUMNS)
    sheet = np.ones((rows * h, SHEET_COLUMNS * w, 4), dtype=np.float32)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, SHEET_COLUMNS)
        sheet[r * h:(r + 1) * h, c * w:(c + 1) * w] = tile
    out = bpy.data.images.new("rig_dojo_contact_sheet", SHEET_COLUMNS * w, rows * h, alpha=True)
    out.pixels.foreach_set(np.flipud(sheet).ravel())
    out.filepath_raw = str(path)
    out.file_format = "PNG"
    out.save()
    bpy.data.images.remove(out)
    return path


def _twin_speed() -> None:
    import bpy

    from rig_dojo.envs.camera.task import CameraTask
    from rig_dojo.envs.camera.twin import ObstacleSet
    from rig_dojo.scene.builders.camera import build_camera_demo_scene
    from rig_dojo.scene.camera.extract import extract_camera_shot

    bpy.ops.wm.read_factory_settings(use_empty=True)
    build_camera_demo_scene()
    spec = extract_camera_shot(subject="Subject")
    print(f"demo shot: {spec.n_frames} frames, {len(spec.obstacle_triangles)} obstacle triangles, "
          f"{spec.subject_points.shape[1]} occlusion rays per camera")
    for n in (1, 64, 1024):
        with_rays = _steps_per_second(CameraTask(spec, n_envs=n, start_noise=0.1, seed=0))
        without = _steps_per_second(CameraTask(spec, n_envs=n, start_noise=0.1, seed=0, occlusion=False))
        print(f"n_envs={n:5d}: {with_rays:10.0f} env-steps/s with occlusion "
              f"({with_rays / without:.2f}x of the rate without rays)")
    task = CameraTask(spec, n_envs=1024, start_noise=0.3, seed=0)
    task.reset()
    p0 = np.repeat(task.twin.pos, spec.subject_points.shape[1], axis=0)
    p1 = spec.subject_points[np.zeros(1024, dtype=int)].reshape(-1, 3)
    obstacles = spec.obstacles()
    assert np.array_equal(obstacles.segments_blocked(p0, p1), _brute_force_blocked(spec.obstacle_triangles, p0, p1))
    timings = {}
    for name, fn in (("per-object", lambda: obstacles.segments_blocked(p0, p1)),
                     ("brute force", lambda: _brute_force_blocked(spec.obstacle_triangles, p0, p1))):
        timings[name] = min(_timed(fn) for _ in range(5))
    print(f"occlusion rays ({len(p0)} x {len(spec.obstacle_triangles)} triangles): dense path with object boxes "
          f"{timings['per-object'] * 1e3:.2f} ms, brute force {timings['brute force'] * 1e3:.2f} ms "
          f"({timings['brute force'] / timings['per-object']:.2f}x)")
    rng = np.random.default_rng(0)
    boxes = []
    for _ in range(300):
        c, hlf = rng.uniform(-8, 8, 3), rng.uniform(0.1, 0.6, 3)
        v = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)]) * hlf + c
        for q in ((0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)):
            boxes += [[v[q[0]], v[q[1]], v[q[2]]], [v[q[0]], v[q[2]], v[q[3]]]]
    big = np.array(boxes)
    big_set = ObstacleSet(big)
    q0, q1 = rng.uniform(-8, 8, (2048, 3)), rng.uniform(-8, 8, (2048, 3))
    assert np.array_equal(big_set.segments_blocked(q0, q1), _brute_force_blocked(big, q0, q1))
    t_h = min(_timed(lambda: big_set.segments_blocked(q0, q1)) for _ in range(3))
    t_b = min(_timed(lambda: _brute_force_blocked(big, q0, q1)) for _ in range(3))
    print(f"occlusion rays (2048 x {len(big)} triangles): hierarchy {t_h * 1e3:.1f} ms, "
          f"brute force {t_b * 1e3:.1f} ms ({t_b / t_h:.1f}x)")


def meets_bar(ours: dict, track: dict) -> bool:
    """Issue 17's bar: framing <= Track To's + 0.02, occlusion <= max(0.05, half Track To's), jerk <= Track
    To's, no collision."""
    return bool(ours["framing"] <= track["framing"] + 0.02 and ours["occlusion"] <= max(0.05, track["occlusion"] / 2)
                and ours["jerk"] <= track["jerk"] and ours["collisions"] == 0)


def train_shot(config, spec, run_dir: Path) -> tuple[dict, float, object]:
    """Train (or solve) ``config`` on ``spec`` as the command line does; returns the shot report, the
    seconds it took and the policy file."""
    from rig_dojo.agents.policy_file import load_policy
    from rig_dojo.agents.session import make_session
    from rig_dojo.envs.families import env_factory, training_report

    session = make_session(config, env_factory(spec, config), run_dir)
    began = time.perf_counter()
    session.start()
    state = session.wait()
    seconds = time.perf_counter() - began
    if state != "finished":
        raise RuntimeError(f"training ended {state}: {session.error}")
    policy = load_policy(run_dir / "final.rdpolicy")
    return training_report(policy, spec, config)["shot"], seconds, policy


def _track_to_camera(shot, spec):
    """A second camera at the scene camera's pose with a Track To constraint on the subject (for the sheet)."""
    import bpy

    from mathutils import Matrix

    from rig_dojo.envs.camera.twin import camera_rotation

    cam = bpy.data.objects[shot.camera]
    twin = bpy.data.objects.new("TrackToCam", cam.data)
    bpy.context.scene.collection.objects.link(twin)
    world = np.eye(4)
    world[:3, :3], world[:3, 3] = camera_rotation(spec.camera_angles[None])[0], spec.camera_position
    twin.matrix_world = Matrix(world.tolist())  # the scene camera's pose before the bake
    con = twin.constraints.new('TRACK_TO')
    con.target = bpy.data.objects[shot.subject]
    if shot.bone:
        con.subtarget = shot.bone
    con.track_axis, con.up_axis = 'TRACK_NEGATIVE_Z', 'UP_Y'
    return twin


def _suite_sheet(scene, shot, spec, frames: list[int], path: Path) -> Path:
    """Two rows of Workbench renders: the solved (baked) camera, then Track To from the scene camera's pose."""
    import bpy

    from rig_dojo.scene.builders.camera_shots import color_for_render

    color_for_render(shot)
    cam = bpy.data.objects[shot.camera]
    track = _track_to_camera(shot, spec)
    out_paths = []
    for which in (cam, track):
        scene.camera = which
        out_paths.append(_render_contact_sheet(scene, frames, path.with_name(f"{path.stem}_{which.name}.png")))
    scene.camera = cam
    _stack_vertically(out_paths, path)
    for p in out_paths:
        p.unlink(missing_ok=True)
    return path


def _stack_vertically(paths: list[Path], out: Path) -> None:
    import bpy

    sheets = []
    for p in paths:
        image = bpy.data.images.load(str(p))
        w, h = image.size
        px = np.empty(w * h * 4, dtype=np.float32)
        image.pixels.foreach_get(px)
        bpy.data.images.remove(image)
        sheets.append(np.flipud(px.reshape(h, w, 4)))
    gap = np.ones((6, sheets[0].shape[1], 4), dtype=np.float32)
    stacked = np.concatenate([sheets[0], gap, sheets[1]])
    image = bpy.data.images.new("rig_dojo_suite_sheet", stacked.shape[1], stacked.shape[0], alpha=True)
    image.pixels.foreach_set(np.flipud(stacked).ravel())
    image.filepath_raw = str(out)
    image.file_format = "PNG"
    image.save()
    bpy.data.images.remove(image)


def _row(name: str, m: dict, seconds: float | None = None) -> str:
    secs = f"{seconds:7.1f}" if seconds is not None else "      -"
    return (f"  {name:16s} {m['framing']:8.3f} {m['occlusion']:9.3f} {m['jerk']:9.3g} {m['collisions']:5d} "
            f"{m['on_target']:7.0%} {secs}")


def _suite() -> None:
    import bpy

    from rig_dojo.envs.camera.family import camera_move
    from rig_dojo.scene.builders import scenes
    from rig_dojo.scene.builders.camera_shots import SHOTS, build_shot, shot_config
    from rig_dojo.scene.camera.bake import bake_camera
    from rig_dojo.scene.camera.verify import verify_camera_bake
    from rig_dojo.scene.families import spec_from_config

    names = [n for n in os.environ.get("RIG_DOJO_BENCH_SHOTS", ",".join(SHOTS)).split(",") if n]
    with_cem = os.environ.get("RIG_DOJO_BENCH_CEM", "1") != "0"
    variant = os.environ.get("RIG_DOJO_BENCH_VARIANT")
    variant = int(variant) if variant else None
    out_dir = Path(os.environ.get("RIG_DOJO_BENCH_OUT") or Path(tempfile.gettempdir()) / "rig_dojo_bench")
    out_dir.mkdir(parents=True, exist_ok=True)
    print(f"\nshot suite{'' if variant is None else f' (variant {variant})'}: each camera over the shot; lower is "
          "better except 'on target' (frames framed within 0.08 and unoccluded); seconds of training on this machine")
    print(f"  {'camera':16s} {'framing':>8s} {'occlusion':>9s} {'jerk':>9s} {'coll.':>5s} {'target':>7s} {'seconds':>7s}")
    verdicts = []
    for name in names:
        scenes.empty_scene()
        shot = build_shot(name, variant)
        config = shot_config(shot)
        spec = spec_from_config(config)
        print(f"{name}: {shot.description}; {spec.n_frames} frames, scale {spec.scale:.2f} scene units, "
              f"{len(spec.obstacle_names)} obstacles ({int(spec.moving_triangles.shape[1] > 0)} animated sets)")
        with tempfile.TemporaryDirectory() as tmp:
            report, seconds, policy = train_shot(config, spec, Path(tmp) / "solve")
            rows = [("solve (default)", report["trained"], seconds)]
            if with_cem:
                cem_report, cem_seconds, _ = train_shot(shot_config(shot, "cem"), spec, Path(tmp) / "cem")
                rows.append(("cem (learned)", cem_report["trained"], cem_seconds))
            rows += [("fixed", report["fixed"], None), ("Track To", report["track_to"], None),
                     ("Track To + dolly", report["track_to_dolly"], None)]
            for label, m, secs in rows:
                print(_row(label, m, secs))
            ok = meets_bar(report["trained"], report["track_to"]) and seconds <= 60.0
            verdicts.append((name, ok))
            # bake the solved move into the scene, verify it in Blender, render the sheet
            task, move = camera_move(policy, spec, config)
            result = bake_camera(shot.camera, move, provenance={"bench": "camera suite"})
            check = verify_camera_bake(shot.camera, spec, move)
        frames = np.linspace(spec.frame_start, spec.frame_end, SHEET_FRAMES).round().astype(int).tolist()
        sheet = _suite_sheet(bpy.context.scene, shot, spec, frames, out_dir / f"camera_suite_{name}.png")
        print(f"  bar of issue 17 (and <= 60 s): {'met' if ok else 'NOT met'}; baked {result.keys_written} keys, "
              f"verified in Blender: worst image error {check.image_error:.1e}; sheet (top solved, bottom Track To): "
              f"{sheet}")
    met = sum(ok for _, ok in verdicts)
    print(f"suite: the default meets the bar on {met} of {len(verdicts)} shots"
          + ("" if met == len(verdicts) else f" (not: {', '.join(n for n, ok in verdicts if not ok)})"))


def main() -> None:
    if os.environ.get("RIG_DOJO_BENCH_SHOTS") is None:
        _twin_speed()
    _suite()


if __name__ == "__main__":
    main()
