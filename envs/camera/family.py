"""The camera family's core hooks (``envs.families``): its environments, the trained move and its report."""

from __future__ import annotations

from typing import Any, Callable

from ...rewards import TermConfig
from .task import CameraTask, rollout, scripted_rollout, shot_metrics
from .twin import CameraSpec


def task_kwargs(config) -> dict[str, Any]:
    """``CameraTask`` keyword arguments from ``config.camera`` and ``config.rewards``."""
    cam = config.camera
    terms = None
    if config.rewards:
        terms = [TermConfig(t.name, float(t.weight), bool(t.enabled), dict(t.params)) for t in config.rewards]
    return dict(terms=terms, mode=cam.mode, use_lens=bool(cam.use_lens), allow_roll=bool(cam.allow_roll),
                framing=cam.framing, tolerance=float(cam.tolerance), start_noise=float(cam.start_noise),
                occlusion=bool(cam.occlusion))


def env_factory(spec: CameraSpec) -> Callable[..., Any]:
    """``make_env(config, n_envs, seed)`` of the camera task over one shot."""
    def make_env(config, n_envs: int, seed: int) -> CameraTask:
        return CameraTask(spec, n_envs=n_envs, seed=seed, **task_kwargs(config))
    return make_env


def camera_move(policy, spec: CameraSpec, config):
    """The deterministic camera move of ``policy`` over the shot (from the camera's pose in the scene)."""
    task = CameraTask(spec, n_envs=1, **{**task_kwargs(config), "start_noise": 0.0})
    if hasattr(policy, "check_compatible"):
        policy.check_compatible(task)
    return task, rollout(task, lambda obs: policy.predict(obs, deterministic=True)[0])


def report(policy, spec: CameraSpec, config) -> dict[str, Any]:
    """Framing error, occlusion, jerk and collisions of the trained move and of two baselines:
    a fixed camera (the scene's pose) and a track-to camera (aimed at the subject every frame)."""
    task, move = camera_move(policy, spec, config)
    shot = {"camera": spec.camera_name, "subject": spec.subject_name, "bone": spec.subject_bone,
            "framing_point": task.framing, "frames": [int(spec.frame_start), int(spec.frame_end)],
            "trained": shot_metrics(task, move), "fixed": shot_metrics(task, scripted_rollout(task, "fixed")),
            "track_to": shot_metrics(task, scripted_rollout(task, "track_to"))}
    return {"shot": shot}


def report_line(report: dict) -> str:
    shot = report["shot"]
    parts = [f"{name} {shot[name]['framing']:.3f}/{shot[name]['occlusion']:.3f}/{shot[name]['jerk']:.3g}"
             for name in ("trained", "fixed", "track_to")]
    return f"shot ({shot['framing_point']}) framing/occlusion/jerk: " + ", ".join(parts)


def summary_fields(report: dict) -> dict:
    shot = report["shot"]
    trained = shot["trained"]
    return dict(camera=shot["camera"], subject=shot["subject"], framing_error=trained["framing"],
                occlusion=trained["occlusion"], jerk=trained["jerk"])


def load_spec(path) -> CameraSpec:
    return CameraSpec.load(path)
