"""``python -m rig_dojo SUBCOMMAND ...`` (with the ``bpy`` module installed)."""

import os
import sys

from .cli import main

code = main(sys.argv[1:])
# The bpy module can crash while Python tears it down (4.2-4.5 wheels segfault at exit; 5.0 may abort
# after an interrupt). Everything we write is flushed and renamed into place by now, so leave without
# the teardown and keep the exit code the command chose.
sys.stdout.flush()
sys.stderr.flush()
os._exit(code)
