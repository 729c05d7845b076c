"""``python -m rig_dojo SUBCOMMAND ...`` (with the ``bpy`` module installed)."""

import sys

from .cli import main

sys.exit(main(sys.argv[1:]))
