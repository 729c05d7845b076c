"""Tracking a reference clip in physics (``--task track``): an Action or a BVH file read into the creature's
spec, the task's reference states, refusals, and training that keeps the clip upright better than the raw
keys played in physics."""

from __future__ import annotations

import hashlib
import json
import math

import bpy
import numpy as np
import pytest
from harness import run_cli

from rig_dojo.agents.config import TrainConfig
from rig_dojo.envs.base import GymView
from rig_dojo.envs.physics.mjcf import PhysicsSpec
from rig_dojo.envs.physics.task import make_physics_task
from rig_dojo.envs.physics.tracking import track_report
from rig_dojo.errors import RigDojoError
from rig_dojo.scene.builders import creatures
from rig_dojo.scene.physics.family import spec_from_config


def track_config(rig: str, reference: str, **physics) -> TrainConfig:
    config = TrainConfig(task="track")
    config.rig.rig = rig
    config.physics.reference = reference
    for key, value in physics.items():
        setattr(config.physics, key, value)
    return config


@pytest.fixture
def trotting(factory):
    quad = creatures.build_quadruped()
    creatures.key_trot(quad)
    return quad


def _bvh(names: dict[str, str], frames: int = 31, speed: float = 60.0, fps: float = 24.0) -> str:
    """A walk cycle in BVH (Y up, centimetres) on a skeleton shaped like ``creatures.build_biped``'s, its
    joints named ``names[biped bone]``: thighs swing half a cycle apart, the hips travel forward (+Z)."""
    def joint(key, offset, children, depth, end=None):
        pad = "  " * depth
        kind = "ROOT" if depth == 0 else "JOINT"
        chan = "CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation" if depth == 0 else \
            "CHANNELS 3 Zrotation Xrotation Yrotation"
        out = [f"{pad}{kind} {names[key]}", f"{pad}{{", f"{pad}  OFFSET {offset[0]} {offset[1]} {offset[2]}",
               f"{pad}  {chan}"]
        for child in children:
            out += child(depth + 1)
        if end is not None:
            out += [f"{pad}  End Site", f"{pad}  {{", f"{pad}    OFFSET {end[0]} {end[1]} {end[2]}", f"{pad}  }}"]
        return out + [f"{pad}}}"]

    def leg(side, x):
        foot = lambda d: joint(f"foot.{side}", (0, -40, 3), [], d, end=(0, -5, 16))  # noqa: E731
        shin = lambda d: joint(f"shin.{side}", (0, -40, -3), [foot], d)  # noqa: E731
        return lambda d: joint(f"thigh.{side}", (x, 0, 0), [shin], d)

    head = lambda d: joint("head", (0, 30, 0), [], d, end=(0, 15, 0))  # noqa: E731
    spine = lambda d: joint("spine", (0, 15, 0), [head], d)  # noqa: E731
    lines = ["HIERARCHY"] + joint("pelvis", (0, 90, 0), [spine, leg("L", 10), leg("R", -10)], 0)
    lines += ["MOTION", f"Frames: {frames}", f"Frame Time: {1.0 / fps:.6f}"]
    order = ["pelvis", "spine", "head", "thigh.L", "shin.L", "foot.L", "thigh.R", "shin.R", "foot.R"]
    for i in range(frames):
        w = 2 * math.pi * i / (frames - 1)
        rot = {f"thigh.{s}": 17.0 * math.sin(w + p) for s, p in (("L", 0.0), ("R", math.pi))}
        rot.update({f"shin.{s}": -34.0 * max(0.0, -math.cos(w + p)) for s, p in (("L", 0.0), ("R", math.pi))})
        values = [0.0, 90.0, speed * i / fps]
        for bone in order:
            values += [0.0, rot.get(bone, 0.0), 0.0]
        lines.append(" ".join(f"{v:.4f}" for v in values))
    return "\n".join(lines) + "\n"


BVH_NAMES = {"pelvis": "Hips", "spine": "Spine", "head": "Head", "thigh.L": "LeftUpLeg", "shin.L": "LeftLeg",
             "foot.L": "LeftFoot", "thigh.R": "RightUpLeg", "shin.R": "RightLeg", "foot.R": "RightFoot"}


# ---- the reference as the twin's states ------------------------------------------------------


def test_an_action_becomes_the_creatures_reference_states(trotting, tmp_path):
    spec = spec_from_config(track_config(trotting.name, "Trot"))
    action = bpy.data.actions["Trot"]
    assert spec.reference_name == "Trot" and len(spec.reference_frames) == 21
    assert trotting.animation_data.action is None  # sampling put the rig's own (no) Action back
    # the hinge angles are the Action's: front_L_thigh's X at frame 6 is the keyed 0.2 sin(2π 5/20)
    task = make_physics_task(spec, "track", n_envs=2, seed=0, config=track_config(trotting.name, "Trot").physics)
    j = [k for k, (b, a) in enumerate(zip(task.twin.layout.joint_bone, task.twin.layout.joint_axis))
         if spec.bone_names[b] == "front_L_thigh" and a == 0][0]
    assert task.ref_q[5, j] == pytest.approx(0.2 * math.sin(2 * math.pi * 5 / 20), abs=1e-6)
    # one cycle carries the root forward (-Y) by what the keys moved it: 0.6 units/s over 20 frames
    fps = bpy.context.scene.render.fps / bpy.context.scene.render.fps_base
    assert task.cycle_shift[:2] == pytest.approx([0.0, -0.6 * 20 / fps], abs=1e-6)
    ref = task.reference_at(np.array([25, 45]))
    assert ref["root"][1, 1] - ref["root"][0, 1] == pytest.approx(-0.6 * 20 / fps, abs=1e-6)
    assert np.allclose(ref["q"][0], task.ref_q[5]) and np.allclose(ref["q"][1], task.ref_q[5])
    # reference-state initialisation: every environment starts in the clip's pose at its own frame
    task.config.reset_noise = 0.0
    task.reset()
    assert np.allclose(task.twin.q, task.ref_q[task.phase0], atol=1e-9)
    # the reference travels with the spec's file (workers train without Blender)
    loaded = PhysicsSpec.load(spec.save(tmp_path / "creature.npz"))
    assert loaded.reference_name == "Trot" and np.array_equal(loaded.reference_euler, spec.reference_euler)
    assert action.users >= 1 and action.use_fake_user  # the user's Action is kept


def test_the_track_task_passes_the_env_checkers(trotting):
    from gymnasium.utils.env_checker import check_env
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    config = track_config(trotting.name, "Trot")
    spec = spec_from_config(config)
    check_env(GymView(make_physics_task(spec, "track", n_envs=1, seed=0, config=config.physics)),
              skip_render_check=True)
    sb3_check_env(GymView(make_physics_task(spec, "track", n_envs=1, seed=0, config=config.physics)))


def test_zero_actions_play_the_raw_keys_and_the_report_measures_them(trotting):
    config = track_config(trotting.name, "Trot")
    task = make_physics_task(spec_from_config(config), "track", n_envs=2, seed=0, config=config.physics)
    report = track_report(task, steps=40)
    # the servos follow the keys closely while the creature stands (that is what zero actions mean)
    assert report["falls"] == 0 and report["joint_error_degrees"] < 5.0, report
    assert report["foot_contacts"] > 0 and report["foot_sliding_cm"] >= 0.0, report
    assert report["reference_travel_sizes"] > 0.5, report
    # an action bends every joint away from the keys: the error grows
    bent = track_report(task, act=lambda obs: np.full((2, task.n_joints), 0.8), steps=40)
    assert bent["joint_error_degrees"] > report["joint_error_degrees"] + 2.0, (bent, report)


def test_foot_sliding_with_no_foot_on_the_ground_is_not_measured_rather_than_zero(trotting):
    """Thrown upwards at the first step, no foot touches the ground: sliding is unknown, not 0.00 cm."""
    from rig_dojo.envs.physics.family import report_line
    from rig_dojo.envs.physics.tracking import sliding_text

    config = track_config(trotting.name, "Trot")
    task = make_physics_task(spec_from_config(config), "track", n_envs=2, seed=0, config=config.physics)
    airborne = track_report(task, steps=6, push_at=0, push_velocity=(0.0, 0.0, 3.0))
    assert airborne["foot_contacts"] == 0 and airborne["foot_sliding_cm"] is None, airborne
    assert sliding_text(airborne) == "not measured (no foot touched the ground)"
    assert sliding_text(airborne, short=True) == "—"
    standing = track_report(task, steps=6)
    assert standing["foot_contacts"] > 0 and sliding_text(standing).endswith(" cm per contact step"), standing
    line = report_line({"physics": {"episodes": 2, "episode_seconds": 0.25,
                                    "trained": {"seconds_up": 0.25, "distance": 0.0},
                                    "zero_actions": {"seconds_up": 0.25, "distance": 0.0},
                                    "track": {"trained": airborne, "raw_keys": standing}}})
    assert "trained" in line and "foot sliding not measured" in line and " cm per contact step" in line, line


def test_a_bvh_file_is_mapped_and_retargeted(factory, tmp_path):
    biped = creatures.build_biped()
    path = tmp_path / "walk.bvh"
    path.write_text(_bvh(BVH_NAMES))
    before = (set(bpy.data.objects), set(bpy.data.actions), set(bpy.data.armatures))
    config = track_config(biped.name, str(path), reference_map={v: k for k, v in BVH_NAMES.items()})
    assert bpy.context.view_layer.objects.active == biped and biped.select_get()
    spec = spec_from_config(config)
    assert (set(bpy.data.objects), set(bpy.data.actions), set(bpy.data.armatures)) == before  # import removed
    assert bpy.context.view_layer.objects.active == biped and biped.select_get()  # selection as it was
    assert spec.reference_name == "walk" and len(spec.reference_frames) == 31
    k = spec.bone_names.index("thigh.L")
    swing = np.degrees(spec.reference_euler[:, k, 0])
    assert swing.max() == pytest.approx(17.0, abs=0.5) and swing.min() == pytest.approx(-17.0, abs=0.5)
    knee = np.degrees(spec.reference_euler[:, spec.bone_names.index("shin.R"), 0])
    assert knee.min() == pytest.approx(-34.0, abs=0.5)
    # the hips travel forward (-Y in Blender) by 0.6 m/s scaled to the biped's size, and stay level
    travel = spec.reference_root[-1, :3, 3] - spec.reference_root[0, :3, 3]
    assert travel[1] < -0.5 and abs(travel[0]) < 1e-6 and abs(travel[2]) < 1e-6
    task = make_physics_task(spec, "track", n_envs=2, seed=0, config=config.physics)
    assert track_report(task, steps=10)["joint_error_degrees"] < 5.0


def test_a_bvh_that_blender_exported_z_up_is_read_standing_and_said(factory, tmp_path):
    """Blender's own BVH exporter writes Z up; read with the BVH convention's Y up, that skeleton lay flat and its
    travel was scaled by its height along Z (~0): the hips went 10^6 sizes. It is read Z-up, and said so."""
    biped = creatures.build_biped()
    y_up = tmp_path / "walk.bvh"
    y_up.write_text(_bvh(BVH_NAMES))
    bpy.ops.import_anim.bvh(filepath=str(y_up), update_scene_fps=False, update_scene_duration=False)
    imported = bpy.context.active_object
    z_up = tmp_path / "walk_from_blender.bvh"
    bpy.ops.export_anim.bvh(filepath=str(z_up), frame_start=1, frame_end=31)
    bpy.data.objects.remove(imported)
    bpy.context.view_layer.objects.active = biped
    biped.select_set(True)
    mapping = {v: k for k, v in BVH_NAMES.items()}
    standard = spec_from_config(track_config(biped.name, str(y_up), reference_map=mapping))
    exported = spec_from_config(track_config(biped.name, str(z_up), reference_map=mapping))
    assert not any("read Z-up" in n for n in standard.notes)
    assert any(n.startswith("walk_from_blender.bvh is read Z-up") for n in exported.notes), exported.notes
    travel = [s.reference_root[-1, :3, 3] - s.reference_root[0, :3, 3] for s in (standard, exported)]
    assert np.allclose(travel[1], travel[0], atol=0.02), travel  # the same walk, not 10^6 sizes
    assert np.allclose(exported.reference_euler, standard.reference_euler, atol=np.radians(1.0))


def test_a_bvh_whose_bones_match_nothing_is_refused(factory, tmp_path):
    biped = creatures.build_biped()
    path = tmp_path / "walk.bvh"
    path.write_text(_bvh({bone: f"Bip01_{i}" for i, bone in enumerate(BVH_NAMES)}))
    before = set(bpy.data.objects)
    with pytest.raises(RigDojoError, match="no bone of walk.bvh matches a bone of 'Biped'"):
        spec_from_config(track_config(biped.name, str(path)))
    assert set(bpy.data.objects) == before
    (tmp_path / "junk.bvh").write_text("not a motion file\n")
    with pytest.raises(RigDojoError, match="junk.bvh is not a BVH file .a BVH file starts with HIERARCHY"):
        spec_from_config(track_config(biped.name, str(tmp_path / "junk.bvh")))
    (tmp_path / "cut.bvh").write_text(_bvh(BVH_NAMES)[:60])  # a real file cut short
    with pytest.raises(RigDojoError, match="cut.bvh is not a BVH file Blender can read .it ends early"):
        spec_from_config(track_config(biped.name, str(tmp_path / "cut.bvh")))
    assert set(bpy.data.objects) == before


def test_bad_references_are_refused(trotting):
    with pytest.raises(RigDojoError, match="no Action named 'Trott'; closest: Trot"):
        spec_from_config(track_config(trotting.name, "Trott"))
    short = bpy.data.actions.new("Blink")
    trotting.animation_data.action = short
    trotting.pose.bones["front_L_thigh"].keyframe_insert("rotation_euler", frame=5)
    trotting.animation_data.action = None
    with pytest.raises(RigDojoError, match="shorter than one control step"):
        spec_from_config(track_config(trotting.name, "Blink"))
    other = bpy.data.actions.new("Elsewhere")
    trotting.animation_data.action = other
    trotting.pose.bones["front_L_thigh"].keyframe_insert("rotation_euler", frame=1)
    trotting.pose.bones["front_L_thigh"].keyframe_insert("rotation_euler", frame=9)
    trotting.animation_data.action = None
    with pytest.raises(RigDojoError, match="physics.reference_map.*no bone 'Ghost'"):
        spec_from_config(track_config(trotting.name, "Elsewhere", reference_map={"Ghost": "torso"}))
    with pytest.raises(RigDojoError, match="the track task needs a reference clip"):
        spec_from_config(track_config(trotting.name, ""))


# ---- the command line: train, report, bake, refusals ------------------------------------------


@pytest.fixture(scope="module")
def trot_blend(tmp_path_factory, dojo_registered):
    folder = tmp_path_factory.mktemp("track_cli")
    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.context.scene.frame_start, bpy.context.scene.frame_end = 1, 40
    creatures.key_trot(creatures.build_quadruped())
    path = folder / "trot.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    return path


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.slow
def test_the_command_line_trains_reports_and_bakes_a_tracking_run(trot_blend, tmp_path):
    before = _digest(trot_blend)
    run = tmp_path / "run"
    proc = run_cli("train", trot_blend, "--task", "track", "--rig", "Quadruped", "--reference", "Trot",
                   "--steps", "4096", "--out", run, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "tracking the reference: trained" in proc.stdout and "raw keys" in proc.stdout, proc.stdout
    summary = json.loads((run / "summary.json").read_text())
    track = summary["report"]["physics"]["track"] if "report" in summary else summary["physics"]["track"]
    for name in ("trained", "raw_keys"):
        assert {"joint_error_degrees", "end_error_cm", "foot_sliding_cm", "falls"} <= set(track[name])
        assert np.isfinite(track[name]["joint_error_degrees"])
    assert 'reference = "Trot"' in (run / "config.toml").read_text()
    out = tmp_path / "baked.blend"
    baked = run_cli("bake", trot_blend, "--policy", run / "final.rdpolicy", "--frames", "1-30", "--output", out,
                    cwd=tmp_path)
    assert baked.returncode == 0, baked.stdout + baked.stderr
    assert "verified in Blender" in baked.stdout
    assert _digest(trot_blend) == before  # the user's file is untouched; the bake went to --output


@pytest.mark.slow
def test_a_bvh_file_is_tracked_from_the_command_line(factory, tmp_path):
    """A BVH walk with its own bone names, mapped in the TOML's physics.reference_map, trains and bakes."""
    biped = creatures.build_biped()
    bpy.context.scene.frame_start, bpy.context.scene.frame_end = 1, 30
    scene = tmp_path / "biped.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(scene))
    before = _digest(scene)
    bvh = tmp_path / "walk.bvh"
    bvh.write_text(_bvh(BVH_NAMES))
    config = track_config(biped.name, str(bvh), reference_map={v: k for k, v in BVH_NAMES.items()})
    config.save(tmp_path / "track.toml")
    run = tmp_path / "run"
    proc = run_cli("train", scene, "--config", tmp_path / "track.toml", "--steps", "2048", "--out", run, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "tracking the reference: trained" in proc.stdout, proc.stdout
    # what the twin did with the clip is said before training (these notes were made and never shown)
    assert "rig_dojo: note: walk.bvh: 9 of the creature's 9 bones follow the BVH" in proc.stderr, proc.stderr
    assert f'reference = "{bvh}"' in (run / "config.toml").read_text()
    baked = run_cli("bake", scene, "--policy", run / "final.rdpolicy", "--frames", "1-12", "--output",
                    tmp_path / "baked.blend", cwd=tmp_path)
    assert baked.returncode == 0 and "verified in Blender" in baked.stdout, baked.stdout + baked.stderr
    assert _digest(scene) == before


@pytest.mark.slow
@pytest.mark.parametrize("args,message", [
    (["--reference", "Ghost"], "no Action named 'Ghost'"),
    ([], "the track task needs a reference clip"),
    (["--reference", "missing.bvh"], "no file 'missing.bvh'"),
    (["--reference", "junk.bvh"], "junk.bvh is not a BVH file (a BVH file starts with HIERARCHY)"),
    (["--reference", "cut.bvh"], "cut.bvh is not a BVH file Blender can read (it ends early"),
])
def test_bad_track_input_exits_2_with_one_line(trot_blend, tmp_path, args, message):
    before = _digest(trot_blend)
    (tmp_path / "junk.bvh").write_text("garbage\n")
    (tmp_path / "cut.bvh").write_text(_bvh(BVH_NAMES)[:60])  # Blender's importer fails inside: its traceback is not ours
    proc = run_cli("train", trot_blend, "--task", "track", "--rig", "Quadruped", *args, "--steps", "64",
                   "--out", tmp_path / "run", cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], proc.stderr
    assert not (tmp_path / "run").exists() and _digest(trot_blend) == before


@pytest.mark.slow
def test_a_minute_of_training_tracks_the_trot_better_than_the_raw_keys(trotting):
    """The raw keys played in physics keep their joints but shuffle in place, slide their feet, and a shove
    topples them; a minute of our PPO with the track defaults carries the creature along the clip's path on
    feet that slide less, and it stays up when shoved."""
    from rig_dojo.agents.algorithms import build_model
    from rig_dojo.agents.config import defaults_for
    from rig_dojo.agents.threads import use_training_threads
    from rig_dojo.envs.physics.family import env_factory, make_task

    config = track_config(trotting.name, "Trot")
    config.algo = defaults_for("ppo", "track")
    spec = spec_from_config(config)
    use_training_threads()
    make_env = env_factory(spec)
    model = build_model(config, make_env(config, config.algo.n_envs, 0))
    model.learn(400_000)

    def measure(act, **push):
        return track_report(make_task(spec, config, 8, 1234), act, **push)

    def policy(obs):
        return model.predict(obs, deterministic=True)[0]

    raw, trained = measure(None), measure(policy)
    shove = {"push_at": 150, "push_velocity": (1.0, 0.0, 0.0)}  # sideways, 1 size/s, at 5 s
    raw_pushed, trained_pushed = measure(None, **shove), measure(policy, **shove)
    print(f"raw keys {raw}\ntrained {trained}\nshoved: raw keys {raw_pushed['falls']} of 8 fell, "
          f"trained {trained_pushed['falls']}")
    # (the end-effector and root errors are printed, not asserted: after a minute they swing between
    # checkpoints, 0.15-1.4 of the raw keys' in the benchmark's evaluations)
    assert trained["falls"] == 0 and trained["joint_error_degrees"] <= 5.0, trained
    assert trained["travel_sizes"] > 1.6 * raw["travel_sizes"], (trained, raw)
    assert trained["foot_sliding_cm"] < 0.85 * raw["foot_sliding_cm"], (trained, raw)
    assert trained_pushed["falls"] < raw_pushed["falls"], (trained_pushed, raw_pushed)


def test_tracking_stands_a_biped_on_flat_soles_by_default_and_other_tasks_on_round_ones(factory):
    """``physics.sole_width`` 0 is the task's own: tracking's 4 radii (two capsules a foot, a flat band between:
    the walk was not tracked on round soles), 2 elsewhere (one capsule: the stand and library figures)."""
    biped = creatures.build_biped()
    creatures.key_walk(biped)
    config = track_config(biped.name, "Walk")
    assert config.physics.sole_width == 0.0
    spec = spec_from_config(config)

    def sole_geoms(task) -> int:
        m = task.twin.model
        return sum((m.geom(g).name or "").startswith("sole") for g in range(m.ngeom))

    track = make_physics_task(spec, "track", n_envs=1, seed=0, config=config.physics)
    stand = make_physics_task(spec, "stand", n_envs=1, seed=0, config=config.physics)
    assert (track.sole_width, sole_geoms(track)) == (4.0, 4)
    assert (stand.sole_width, sole_geoms(stand)) == (2.0, 2)
    config.physics.sole_width = 2.0  # asked for: kept
    assert sole_geoms(make_physics_task(spec, "track", n_envs=1, seed=0, config=config.physics)) == 2
