"""Camera task: twin speed, trained vs fixed vs track-to camera, and a Workbench contact sheet of the bake.

Run: ``.venv/bin/python bench/run.py camera``. Prints

- env-steps/s of ``CameraTask`` at n_envs 1, 64, 1024 with occlusion rays on, and the
  ratio to the same task with occlusion off (the cost of the rays) and of the hierarchy
  against a brute-force ray test over every triangle, measured in this run;
- framing / occlusion / jerk of the policy-search camera, the fixed camera and a
  track-to camera on the demo shot (a subject on a zig-zag Follow Path behind a wall);
- the baked camera's verification error in Blender and the path of a contact sheet
  (8 frames rendered with Workbench, tiled into one PNG). The sheet goes to
  ``$RIG_DOJO_BENCH_OUT`` or the system temporary folder, never next to the code.
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


def main() -> None:
    import bpy

    from rig_dojo.scene.builders.camera import build_camera_demo_scene
    from rig_dojo.scene.camera.bake import bake_camera
    from rig_dojo.scene.camera.extract import extract_camera_shot
    from rig_dojo.scene.camera.verify import verify_camera_bake
    from rig_dojo.envs.camera.task import CameraTask, rollout, scripted_rollout, shot_metrics, train_policy_search

    bpy.ops.wm.read_factory_settings(use_empty=True)
    objs = build_camera_demo_scene()
    spec = extract_camera_shot(subject="Subject")
    print(f"shot: {spec.n_frames} frames, {len(spec.obstacle_triangles)} obstacle triangles, "
          f"{spec.subject_points.shape[1]} occlusion rays per camera")

    # --- twin speed -------------------------------------------------------------------------
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
    for name, fn in (("hierarchy", lambda: obstacles.segments_blocked(p0, p1)),
                     ("brute force", lambda: _brute_force_blocked(spec.obstacle_triangles, p0, p1))):
        best = float("inf")
        for _ in range(5):
            start = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - start)
        timings[name] = best
    print(f"occlusion rays ({len(p0)} x {len(spec.obstacle_triangles)} triangles): dense path "
          f"{timings['hierarchy'] * 1e3:.2f} ms, brute force {timings['brute force'] * 1e3:.2f} ms "
          f"({timings['brute force'] / timings['hierarchy']:.2f}x)")

    # the hierarchy on a bigger obstacle set (random boxes, 12 triangles each)
    from rig_dojo.envs.camera.twin import ObstacleSet

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

    # --- trained vs fixed vs track-to -------------------------------------------------------
    framing = "left_third"
    start = time.perf_counter()
    policy, history = train_policy_search(spec, generations=60, population=128, seed=0, framing=framing)
    train_s = time.perf_counter() - start
    ev = CameraTask(spec, n_envs=1, framing=framing)
    move = rollout(ev, policy)
    print(f"policy search: 60 generations x 128 cameras in {train_s:.1f} s "
          f"(return {history[0]:.2f} -> {history[-1]:.2f})")
    print(f"{'camera':10s} {'framing':>8s} {'occlusion':>10s} {'jerk rad/s^3':>13s}  (framing point: {framing})")
    for name, m in (("trained", move), ("fixed", scripted_rollout(ev, "fixed")),
                    ("track_to", scripted_rollout(ev, "track_to"))):
        s = shot_metrics(ev, m)
        print(f"{name:10s} {s['framing']:8.3f} {s['occlusion']:10.3f} {s['jerk']:13.2f}")

    # --- bake, verify, contact sheet --------------------------------------------------------
    result = bake_camera(objs["camera"], move, provenance={"bench": "camera"})
    check = verify_camera_bake(objs["camera"], spec, move)
    print(f"baked {result.keys_written} keys into '{result.action_name}' in {result.seconds * 1e3:.1f} ms; "
          f"verify: worst image error {check.image_error:.2e} (frame {check.worst_frame:g}), "
          f"camera position error {check.position_error:.2e}")
    objs["subject"].color = (0.9, 0.15, 0.1, 1.0)
    objs["wall"].color = (0.35, 0.45, 0.8, 1.0)
    out_dir = Path(os.environ.get("RIG_DOJO_BENCH_OUT") or Path(tempfile.gettempdir()) / "rig_dojo_bench")
    out_dir.mkdir(parents=True, exist_ok=True)
    frames = np.linspace(spec.frame_start, spec.frame_end, SHEET_FRAMES).round().astype(int).tolist()
    start = time.perf_counter()
    sheet = _render_contact_sheet(bpy.context.scene, frames, out_dir / "camera_contact_sheet.png")
    print(f"contact sheet of frames {frames} ({time.perf_counter() - start:.1f} s, Workbench): {sheet}")


if __name__ == "__main__":
    main()
