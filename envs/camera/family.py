"""The camera family's core hooks (``envs.families``): its environments, the trained move and its report."""

from __future__ import annotations

from typing import Any, Callable

from ...rewards import TermConfig
from .task import SUCCESS_FRACTION, CameraTask, rollout, scripted_rollout, shot_metrics
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
    """The deterministic camera move of ``policy`` over the shot (from the camera's pose in the scene);
    a solved path (``algo = "solve"``) plays back over the shot's frames."""
    task = CameraTask(spec, n_envs=1, **{**task_kwargs(config), "start_noise": 0.0})
    if hasattr(policy, "check_compatible"):
        policy.check_compatible(task)
    if getattr(policy, "algo", "") == "solve":
        from .solve_session import path_rollout

        return task, path_rollout(policy, task)
    return task, rollout(task, lambda obs: policy.predict(obs, deterministic=True)[0])


#: the cameras a shot report compares, in order, and how the command line and the sidebar name them
SHOT_CAMERAS = (("trained", "trained"), ("fixed", "fixed"), ("track_to", "Track To"),
                ("track_to_dolly", "Track To + dolly"))


def report(policy, spec: CameraSpec, config) -> dict[str, Any]:
    """The shot metrics (``envs.camera.task.shot_metrics``) of the trained or solved move and of three
    baselines: a fixed camera (the scene's pose), a Track To camera (aimed at the subject every frame)
    and Track To on the best straight dolly (``envs.camera.solve.track_to_dolly``)."""
    from .solve import track_to_dolly

    task, move = camera_move(policy, spec, config)
    dolly, _ = track_to_dolly(task)
    shot = {"camera": spec.camera_name, "subject": spec.subject_name, "bone": spec.subject_bone,
            "framing_point": task.framing, "frames": [int(spec.frame_start), int(spec.frame_end)],
            "method": getattr(policy, "algo", config.algo.name), "tolerance": task.tolerance,
            "success_fraction": SUCCESS_FRACTION,
            "trained": shot_metrics(task, move), "fixed": shot_metrics(task, scripted_rollout(task, "fixed")),
            "track_to": shot_metrics(task, scripted_rollout(task, "track_to")),
            "track_to_dolly": shot_metrics(task, dolly)}
    return {"shot": shot}


def evaluation_from_metrics(metrics: dict, frames: int):
    """The camera's ``agents.evaluate.Evaluation`` from the shot metrics of its one deterministic move (one
    set of numbers): success rate = the fraction of frames framed and visible, final error = the mean
    framing error, jerk = the shot's jerk (rad/s³), limit violations = frames in collision."""
    from ...agents.evaluate import Evaluation

    return Evaluation(episodes=1, success_rate=float(metrics["on_target"]), final_error=float(metrics["framing"]),
                      mean_jerk=float(metrics["jerk"]), limit_violation_total=float(metrics["collisions"]),
                      limit_violation_mean=float(metrics["collisions"]) / max(frames, 1), mean_return=float("nan"))


def evaluate(policy, spec: CameraSpec, config, episodes: int = 1):
    """The family's evaluation (``envs.families.evaluate_policy``): the shot metrics of the one deterministic
    move over the shot, the same numbers as :func:`report`'s ``trained`` (``episodes`` is not used)."""
    task, move = camera_move(policy, spec, config)
    return evaluation_from_metrics(shot_metrics(task, move), spec.n_frames)


def report_lines(shot: dict) -> tuple[str, str]:
    """Two lines for the command line and the sidebar: the move's numbers and success, then the table
    against the baselines (framing/occlusion/jerk/collisions, the same numbers as summary.json)."""
    m = shot["trained"]
    name = "solved" if shot.get("method") == "solve" else "trained"
    verdict = "success" if m["success"] else "not a success"
    first = (f"{name} move, frames {shot['frames'][0]}-{shot['frames'][1]}: {verdict} (framed within "
             f"{shot.get('tolerance', 0.08):g} of {shot['framing_point'].replace('_', ' ')} and unoccluded on "
             f"{m['on_target']:.0%} of frames, {m['collisions']} collisions; success needs "
             f"{shot.get('success_fraction', SUCCESS_FRACTION):.0%} and none); framing {m['framing']:.3f}, occlusion "
             f"{m['occlusion']:.3f}, jerk {m['jerk']:.3g} rad/s³")
    parts = [f"{name if key == 'trained' else label} {shot[key]['framing']:.3f}/{shot[key]['occlusion']:.3f}/"
             f"{shot[key]['jerk']:.3g}/{shot[key]['collisions']}" for key, label in SHOT_CAMERAS if key in shot]
    return first, "framing/occlusion/jerk/collisions: " + ", ".join(parts)


def report_line(report: dict) -> str:
    return "\n".join(report_lines(report["shot"]))


def summary_fields(report: dict) -> dict:
    shot = report["shot"]
    trained = shot["trained"]
    return dict(camera=shot["camera"], subject=shot["subject"], framing_error=trained["framing"],
                occlusion=trained["occlusion"], jerk=trained["jerk"], jerk_position=trained["jerk_position"],
                jerk_rotation=trained["jerk_rotation"], collisions=trained["collisions"],
                on_target=trained["on_target"], success=trained["success"])


def load_spec(path) -> CameraSpec:
    return CameraSpec.load(path)
