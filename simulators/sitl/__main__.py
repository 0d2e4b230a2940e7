"""``python -m simulators.sitl --vehicles 2 --speedup 5``: run SITL instances until Ctrl-C."""

from __future__ import annotations

import argparse
import signal
import sys
import time

from simulators.sitl.launcher import SitlError, SitlFleet, SitlSpec


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--sitl", help="ardupilot:/path/to/arducopter or px4:/path/to/px4 (default: $SKYSHARE_SITL)"
    )
    parser.add_argument("--vehicles", type=int, default=1)
    parser.add_argument("--speedup", type=float, default=1.0)
    parser.add_argument("--home", default="51.5074,-0.1278,20", help="LAT,LON[,ALT_AMSL]")
    args = parser.parse_args(argv)
    try:
        spec = SitlSpec.parse(args.sitl) if args.sitl else SitlSpec.from_env()
        if spec is None:
            parser.error("give --sitl or set SKYSHARE_SITL")
        parts = [float(p) for p in args.home.split(",")]
        home = (parts[0], parts[1], parts[2] if len(parts) > 2 else 20.0)
        fleet = SitlFleet(spec, args.vehicles, home=home, speedup=args.speedup).start()
    except (SitlError, ValueError, IndexError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    stop = False

    def on_signal(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    for instance in fleet.instances:
        print(f"vehicle {instance.system_id}: {instance.connection}  (log {instance.log_path})")
    if fleet.shared_connection:
        print(f"all vehicles (GCS link): {fleet.shared_connection}")
    try:
        while not stop:
            fleet.check_alive()
            time.sleep(0.5)  # supervising child processes
    except SitlError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        fleet.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
