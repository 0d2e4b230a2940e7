"""Launch N instances of a real ArduPilot or PX4 SITL binary that the user supplies.

``SKYSHARE_SITL=ardupilot:/path/to/arducopter`` or ``SKYSHARE_SITL=px4:/path/to/px4``
names the binary. Nothing here builds or downloads one. Each instance gets the ports,
system id, home and speed-up the real SITL conventions give it
(shared/notes/real-autopilot-behaviour.md):

ArduCopter instance i: ``--instance i --sysid i+1``, MAVLink TCP server on 5760+10*i
(``--serial0 tcp:0`` so it boots without waiting for a client), the stock
``copter.parm`` defaults plus ``LOG_BACKEND_TYPE 0`` (no 13 MB log per sortie);
connect with ``tcp:127.0.0.1:5760+10*i``.

PX4 instance i (SIH quadrotor, no Gazebo): ``px4 -d -i i -w WORKDIR ROMFS_ETC`` with
``PX4_SYS_AUTOSTART=10040 PX4_SIMULATOR=sihsim PX4_SIM_MODEL=sihsim_quadx``,
``PX4_HOME_LAT/LON/ALT`` and ``PX4_SIM_SPEED_FACTOR``; system id i+1; it sends its API
link to 127.0.0.1:14540+i (connect with ``udpin:0.0.0.0:14540+i``) and its GCS link of
every instance to 127.0.0.1:14550 (``udpin:0.0.0.0:14550``, vehicles told apart by
system id).

SITL exits about a second after its parent dies, so the launching process must stay
alive while the instances are used (a test session does).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

AUTOPILOTS = ("ardupilot", "px4")
ENV_VAR = "SKYSHARE_SITL"


class SitlError(RuntimeError):
    """The SITL binary or its support files are missing, or an instance died."""


@dataclass(frozen=True)
class SitlSpec:
    """Which autopilot and which binary: parsed from ``ardupilot:/path`` or ``px4:/path``."""

    autopilot: str
    binary: Path

    @classmethod
    def parse(cls, text: str) -> SitlSpec:
        kind, sep, path = text.strip().partition(":")
        kind = kind.lower()
        if not sep or kind not in AUTOPILOTS or not path:
            raise SitlError(
                f"{ENV_VAR}={text!r}: expected ardupilot:/path/to/arducopter or px4:/path/to/px4"
            )
        binary = Path(path).expanduser()
        if not binary.is_file() or not os.access(binary, os.X_OK):
            raise SitlError(f"{ENV_VAR}: {binary} is not an executable file")
        return cls(kind, binary.resolve())

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> SitlSpec | None:
        value = env.get(ENV_VAR, "").strip()
        return cls.parse(value) if value else None


@dataclass
class SitlInstance:
    index: int
    system_id: int
    connection: str
    workdir: Path
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, lines: int = 20) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""


@dataclass
class SitlFleet:
    """N instances of one SITL binary. ``with SitlFleet(spec, vehicles=2) as fleet:``."""

    spec: SitlSpec
    vehicles: int = 1
    home: tuple[float, float, float] = (51.5074, -0.1278, 20.0)  # lat, lon, alt AMSL
    speedup: float = 1.0
    workdir: Path | None = None
    defaults_file: Path | None = None  # ArduPilot copter.parm (found next to the build)
    params: dict[str, float] = field(default_factory=dict)
    instance_base: int = 0
    instances: list[SitlInstance] = field(default_factory=list)
    _tmp: tempfile.TemporaryDirectory[str] | None = None

    def __post_init__(self) -> None:
        if self.vehicles < 1:
            raise SitlError(f"vehicles must be at least 1, got {self.vehicles}")
        if not self.speedup > 0:
            raise SitlError(f"speedup must be > 0, got {self.speedup}")

    # ---- what clients connect to -------------------------------------------------------

    @property
    def connections(self) -> list[str]:
        return [i.connection for i in self.instances]

    @property
    def system_ids(self) -> list[int]:
        return [i.system_id for i in self.instances]

    @property
    def shared_connection(self) -> str | None:
        """PX4's GCS link: every instance on one UDP port (None for ArduPilot)."""
        return "udpin:0.0.0.0:14550" if self.spec.autopilot == "px4" else None

    # ---- lifecycle ------------------------------------------------------------------------

    def start(self) -> SitlFleet:
        root = self.workdir
        if root is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="skyshare-sitl-")
            root = Path(self._tmp.name)
        for n in range(self.vehicles):
            index = self.instance_base + n
            workdir = root / f"{self.spec.autopilot}-{index}"
            workdir.mkdir(parents=True, exist_ok=True)
            if self.spec.autopilot == "ardupilot":
                instance = self._start_ardupilot(index, workdir)
            else:
                instance = self._start_px4(index, workdir)
            self.instances.append(instance)
        time.sleep(0.5)  # a binary that cannot start dies at once: report it here
        self.check_alive()
        return self

    def check_alive(self) -> None:
        for instance in self.instances:
            if not instance.alive():
                code = instance.process.returncode if instance.process else None
                raise SitlError(
                    f"SITL instance {instance.index} exited (code {code}); "
                    f"log {instance.log_path}:\n{instance.log_tail()}"
                )

    def stop(self, timeout_s: float = 5.0) -> None:
        for instance in self.instances:
            process = instance.process
            if process is None or process.poll() is not None:
                continue
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)  # its own session: only what we started
        deadline = time.monotonic() + timeout_s
        for instance in self.instances:
            process = instance.process
            if process is None:
                continue
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(2)
        self.instances.clear()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> SitlFleet:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- per autopilot ---------------------------------------------------------------------

    def _spawn(
        self, index: int, workdir: Path, argv: list[str], env: dict[str, str], connection: str
    ) -> SitlInstance:
        log_path = workdir / "sitl.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                argv,
                cwd=workdir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return SitlInstance(index, index + 1, connection, workdir, log_path, process)

    def _ardupilot_defaults(self) -> Path:
        if self.defaults_file is not None:
            candidates = [self.defaults_file]
        else:
            env = os.environ.get("SKYSHARE_SITL_DEFAULTS")
            build_tree = (
                self.spec.binary.parent / "../../../Tools/autotest/default_params/copter.parm"
            )
            candidates = [Path(env)] if env else [build_tree]
        for path in candidates:
            if path.is_file():
                return path.resolve()
        raise SitlError(
            "ArduCopter SITL needs Tools/autotest/default_params/copter.parm from its source "
            f"tree; looked at {', '.join(str(p) for p in candidates)}. "
            "Set SKYSHARE_SITL_DEFAULTS=/path/to/copter.parm."
        )

    def _start_ardupilot(self, index: int, workdir: Path) -> SitlInstance:
        extra = workdir / "skyshare.parm"
        params = {"LOG_BACKEND_TYPE": 0.0, **self.params}
        extra.write_text("".join(f"{name} {value:g}\n" for name, value in params.items()))
        lat, lon, alt = self.home
        argv = [
            str(self.spec.binary),
            "--model",
            "+",
            "--speedup",
            f"{self.speedup:g}",
            "--instance",
            str(index),
            "--sysid",
            str(index + 1),
            "--home",
            f"{lat},{lon},{alt},0",
            "--defaults",
            f"{self._ardupilot_defaults()},{extra}",
            "--serial0",
            "tcp:0",
            "-w",
        ]
        port = 5760 + 10 * index
        return self._spawn(index, workdir, argv, dict(os.environ), f"tcp:127.0.0.1:{port}")

    def _start_px4(self, index: int, workdir: Path) -> SitlInstance:
        etc = Path(os.environ.get("SKYSHARE_SITL_ROMFS", self.spec.binary.parent.parent / "etc"))
        if not etc.is_dir():
            raise SitlError(
                f"PX4 SITL needs its ROMFS etc directory; looked at {etc}. "
                "Set SKYSHARE_SITL_ROMFS=/path/to/build/px4_sitl_default/etc."
            )
        lat, lon, alt = self.home
        env = dict(os.environ)
        env.update(
            {
                "PX4_SYS_AUTOSTART": "10040",
                "PX4_SIMULATOR": "sihsim",
                "PX4_SIM_MODEL": "sihsim_quadx",
                "PX4_HOME_LAT": f"{lat}",
                "PX4_HOME_LON": f"{lon}",
                "PX4_HOME_ALT": f"{alt}",
                "PX4_SIM_SPEED_FACTOR": f"{self.speedup:g}",
            }
        )
        for name, value in self.params.items():
            env[f"PX4_PARAM_{name}"] = f"{value:g}"
        argv = [str(self.spec.binary), "-d", "-i", str(index), "-w", str(workdir), str(etc)]
        return self._spawn(index, workdir, argv, env, f"udpin:0.0.0.0:{14540 + index}")
