"""The "Dojo" tab of the 3D viewport sidebar, registered in the order of ``submodules``."""

from ..registration import submodule_registration

submodules = ("main", "rig", "reference", "rewards", "training", "run", "bake", "sweep", "render_tune")
register, unregister = submodule_registration(__package__, submodules)
