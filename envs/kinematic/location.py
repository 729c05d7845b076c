"""Location controls in rig-normalised units (no bpy).

A location control's channels (``pose_bone.location``) are in its rest frame, scaled by what
its parent passes down. The tasks move them in chain lengths (DESIGN.md rule 5), inside the
Limit Location box the rig gives them, or inside a box the user sets (``rig.location_range``
chain lengths each way around the current location).
"""

from __future__ import annotations

import numpy as np

from ...errors import RigDojoError
from .rig_spec import RigSpec


def channel_units_per_chain(spec: RigSpec) -> np.ndarray:
    """(L,) location-channel units per chain length (world) for each location control, at the held pose."""
    if not spec.location_controls:
        return np.zeros(0)
    from .twin import RigTwin

    twin = RigTwin(spec)
    rot = np.broadcast_to(np.eye(3), (1, len(spec.controls), 3, 3))
    nodes = twin.forward(rot, all_nodes=True)[0]
    idx = spec.location_index
    world = np.linalg.norm(nodes[idx, :3, :3], axis=-2)  # world size of the bone's axes
    own = np.linalg.norm(spec.basis[idx, :3, :3], axis=-2)  # its own pose scale
    inherited = np.cbrt(np.prod(world / np.where(own > 0, own, 1.0), axis=-1))  # world units per channel unit
    world_scale = float(np.cbrt(abs(np.linalg.det(spec.object_matrix[:3, :3])))) or 1.0
    chain = spec.chain_length * world_scale
    return chain / np.where(inherited > 0, inherited, 1.0)


def missing_bounds(spec: RigSpec, location_range: float) -> list[str]:
    """"bone (X, Z)" for every location control with an unlocked axis that has no bound."""
    if location_range > 0:
        return []
    out = []
    for name, lock, has in zip(spec.location_controls, spec.location_lock, spec.has_location_limit):
        axes = [a for a, k in zip("XYZ", range(3)) if not lock[k] and not has[k]]
        if axes:
            out.append(f"{name} ({', '.join(axes)})")
    return out


def check_bounds(spec: RigSpec, location_range: float) -> None:
    """``RigDojoError`` when a location control can move without bounds."""
    missing = missing_bounds(spec, location_range)
    if missing:
        raise RigDojoError(f"the location control{'s' if len(missing) > 1 else ''} {'; '.join(missing)} "
                           "ha" + ("ve" if len(missing) > 1 else "s") + " no bounds: add a Limit Location "
                           "constraint in Local space to the bone, or set a location range (rig.location_range, "
                           "--location-range, in chain lengths)")


def location_box(spec: RigSpec, location_range: float, units: np.ndarray | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """(L,3) low and high location channels: the Limit Location box where the rig has one, else the current
    location ± ``location_range`` chain lengths; a locked axis holds its current value."""
    units = channel_units_per_chain(spec) if units is None else units
    half = location_range * units[:, None]
    rest = spec.control_rest_location
    low = np.where(spec.has_location_limit, spec.location_low, rest - half)
    high = np.where(spec.has_location_limit, spec.location_high, rest + half)
    return np.where(spec.location_lock, rest, low), np.where(spec.location_lock, rest, high)
