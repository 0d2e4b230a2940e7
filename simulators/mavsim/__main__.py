"""``python -m simulators.mavsim``: run the simulator until Ctrl-C."""

import sys

from simulators.mavsim.cli import main

sys.exit(main(sys.argv[1:]))
