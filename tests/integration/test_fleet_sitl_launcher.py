"""The SITL launcher: command lines, environment, ports and clean shutdown.

A real SITL binary is not installable here, so these run the launcher against a
stand-in executable that records how it was started (argv, environment, working
directory) and then waits to be stopped, as SITL would.
"""

from __future__ import annotations

import json
import stat
import sys
import time
from pathlib import Path

import pytest

from simulators.sitl import SitlError, SitlFleet, SitlSpec

STAND_IN = """#!{python}
import json, os, sys, time
with open(os.path.join(os.getcwd(), "started.json"), "w") as f:
    json.dump({{"argv": sys.argv[1:], "cwd": os.getcwd(),
               "env": {{k: v for k, v in os.environ.items() if k.startswith("PX4_")}}}}, f)
while True:
    time.sleep(0.05)
"""


def _stand_in(path: Path) -> Path:
    path.write_text(STAND_IN.format(python=sys.executable))
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


def _started(workdir: Path, timeout_s: float = 5.0) -> dict:
    """What the stand-in recorded; it writes the file once, right after it starts."""
    path = workdir / "started.json"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if path.exists() and path.stat().st_size:
            return json.loads(path.read_text())
        time.sleep(0.01)  # no event to wait on for another process's file: poll it
    raise AssertionError(f"{path} never written")


def test_spec_is_parsed_from_the_environment(tmp_path: Path) -> None:
    binary = _stand_in(tmp_path / "arducopter")
    spec = SitlSpec.from_env({"SKYSHARE_SITL": f"ardupilot:{binary}"})
    assert spec == SitlSpec("ardupilot", binary.resolve())
    assert SitlSpec.from_env({}) is None
    with pytest.raises(SitlError, match="expected ardupilot"):
        SitlSpec.parse("betaflight:/bin/true")
    with pytest.raises(SitlError, match="not an executable"):
        SitlSpec.parse(f"px4:{tmp_path / 'missing'}")


def test_ardupilot_instances_get_their_ports_ids_and_defaults(tmp_path: Path) -> None:
    binary = _stand_in(tmp_path / "arducopter")
    defaults = tmp_path / "copter.parm"
    defaults.write_text("FRAME_CLASS 1\n")
    fleet = SitlFleet(
        SitlSpec("ardupilot", binary),
        vehicles=2,
        home=(51.5, -0.12, 20.0),
        speedup=5,
        workdir=tmp_path / "run",
        defaults_file=defaults,
    )
    with fleet:
        assert fleet.connections == ["tcp:127.0.0.1:5760", "tcp:127.0.0.1:5770"]
        assert fleet.system_ids == [1, 2] and fleet.shared_connection is None
        second = _started(fleet.instances[1].workdir)
        argv = second["argv"]
        assert argv[argv.index("--instance") + 1] == "1"
        assert argv[argv.index("--sysid") + 1] == "2"
        assert argv[argv.index("--speedup") + 1] == "5"
        assert argv[argv.index("--home") + 1] == "51.5,-0.12,20.0,0"
        assert argv[argv.index("--serial0") + 1] == "tcp:0"
        parm_files = argv[argv.index("--defaults") + 1].split(",")
        assert parm_files[0] == str(defaults.resolve())
        assert "LOG_BACKEND_TYPE 0" in Path(parm_files[1]).read_text()
        processes = [i.process for i in fleet.instances]
    assert all(p is not None and p.poll() is not None for p in processes)


def test_px4_instances_get_their_environment(tmp_path: Path) -> None:
    build = tmp_path / "build"
    (build / "bin").mkdir(parents=True)
    (build / "etc").mkdir()
    binary = _stand_in(build / "bin" / "px4")
    fleet = SitlFleet(
        SitlSpec("px4", binary),
        vehicles=2,
        speedup=10,
        workdir=tmp_path / "run",
        params={"GF_ACTION": 3},
    )
    with fleet:
        assert fleet.connections == ["udpin:0.0.0.0:14540", "udpin:0.0.0.0:14541"]
        assert fleet.shared_connection == "udpin:0.0.0.0:14550"
        started = _started(fleet.instances[1].workdir)
        assert started["argv"] == [
            "-d",
            "-i",
            "1",
            "-w",
            str(fleet.instances[1].workdir),
            str(build / "etc"),
        ]
        env = started["env"]
        assert env["PX4_SYS_AUTOSTART"] == "10040" and env["PX4_SIM_MODEL"] == "sihsim_quadx"
        assert env["PX4_SIM_SPEED_FACTOR"] == "10" and env["PX4_PARAM_GF_ACTION"] == "3"
        assert env["PX4_HOME_LAT"] == "51.5074"


def test_missing_copter_defaults_are_explained(tmp_path: Path) -> None:
    binary = _stand_in(tmp_path / "arducopter")
    fleet = SitlFleet(SitlSpec("ardupilot", binary), workdir=tmp_path / "run")
    with pytest.raises(SitlError, match=r"copter\.parm"):
        fleet.start()
    fleet.stop()


def test_an_instance_that_dies_is_reported_with_its_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    binary = tmp_path / "px4"
    binary.write_text("#!/bin/sh\necho 'ERROR [px4] no airframe'\nexit 3\n")
    binary.chmod(0o755)
    (tmp_path / "etc").mkdir()
    monkeypatch.setenv("SKYSHARE_SITL_ROMFS", str(tmp_path / "etc"))
    fleet = SitlFleet(SitlSpec("px4", binary), workdir=tmp_path / "run")
    try:
        with pytest.raises(SitlError, match="no airframe"):
            fleet.start()
    finally:
        fleet.stop()
