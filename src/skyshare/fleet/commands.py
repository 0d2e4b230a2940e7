"""COMMAND_LONG / COMMAND_INT transactions: send, await the COMMAND_ACK, retry, explain.

A command resolves on its COMMAND_ACK from the addressed vehicle (matched by the
vehicle's system id and the command number). Without an answer it is sent again, up to
``command_attempts`` times (COMMAND_LONG's ``confirmation`` counts the re-sends, as the
protocol asks). IN_PROGRESS extends the wait without re-sending. Any result other than
ACCEPTED raises CommandDenied with the result's name and the vehicle's last STATUSTEXT.
Only one transaction per command number runs at a time on a vehicle, so answers cannot
be confused.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from skyshare.fleet.errors import CommandDenied, CommandTimeout
from skyshare.fleet.protocol import command_name, mavlink, result_name

if TYPE_CHECKING:
    from skyshare.fleet.vehicle import Vehicle

ACCEPTED = mavlink.MAV_RESULT_ACCEPTED
IN_PROGRESS = mavlink.MAV_RESULT_IN_PROGRESS


@dataclass(frozen=True, slots=True)
class Ack:
    command: int
    result: int
    at: float  # time.monotonic() when the ACK arrived
    progress: int = 0
    result_param2: int = 0

    @property
    def result_name(self) -> str:
        return result_name(self.result)

    @property
    def accepted(self) -> bool:
        return self.result == ACCEPTED


@dataclass(frozen=True, slots=True)
class CommandOutcome:
    ack: Ack
    attempts: int
    latency_s: float  # wall seconds from the last send to the ACK


def _param(value: float | None) -> float:
    """None means "not given": MAVLink says NaN for that."""
    return math.nan if value is None else float(value)


class CommandChannel:
    """The command transactions of one vehicle."""

    def __init__(self, vehicle: Vehicle) -> None:
        self._vehicle = vehicle
        self._locks: dict[int, asyncio.Lock] = {}
        self._waiting: dict[int, asyncio.Queue[Ack]] = {}
        # Every ACK recently received (also those nobody waited for): PX4 answers a mode
        # change twice, and the second answer is the one that counts.
        self.recent: deque[Ack] = deque(maxlen=32)

    def on_ack(self, ack: Ack) -> None:
        self.recent.append(ack)
        queue = self._waiting.get(ack.command)
        if queue is not None:
            queue.put_nowait(ack)

    def acks_after(self, command: int, after: float) -> list[Ack]:
        return [a for a in self.recent if a.command == command and a.at > after]

    async def long(
        self,
        command: int,
        params: tuple[float | None, ...] = (),
        *,
        attempts: int | None = None,
        timeout_s: float | None = None,
    ) -> CommandOutcome:
        """COMMAND_LONG with up to seven params (None -> NaN, 'unchanged' for most commands)."""
        p = [_param(v) for v in params] + [0.0] * (7 - len(params))
        v = self._vehicle

        def build(confirmation: int) -> mavlink.MAVLink_message:
            return mavlink.MAVLink_command_long_message(
                v.system_id, v.component_id, command, min(confirmation, 255), *p[:7]
            )

        return await self._transact(command, build, attempts, timeout_s)

    async def int(
        self,
        command: int,
        frame: int,
        params: tuple[float | None, ...] = (),
        x: int = 0,
        y: int = 0,
        z: float = 0.0,
        *,
        attempts: int | None = None,
        timeout_s: float | None = None,
    ) -> CommandOutcome:
        """COMMAND_INT with up to four params and integer x/y (degrees x 1e7)."""
        p = [_param(v) for v in params] + [0.0] * (4 - len(params))
        v = self._vehicle

        def build(_: int) -> mavlink.MAVLink_message:
            return mavlink.MAVLink_command_int_message(
                v.system_id, v.component_id, frame, command, 0, 0, *p[:4], x, y, z
            )

        return await self._transact(command, build, attempts, timeout_s)

    async def _transact(
        self,
        command: int,
        build: Callable[[int], mavlink.MAVLink_message],
        attempts: int | None,
        timeout_s: float | None,
    ) -> CommandOutcome:
        v = self._vehicle
        cfg = v.config
        attempts = attempts or cfg.command_attempts
        wait = cfg.answer_wait(timeout_s if timeout_s is not None else cfg.command_timeout_s)
        lock = self._locks.setdefault(command, asyncio.Lock())
        async with lock:
            queue: asyncio.Queue[Ack] = asyncio.Queue()
            self._waiting[command] = queue
            started = time.monotonic()
            text_mark = v.text_mark()
            try:
                for attempt in range(attempts):
                    v.send(build(attempt))
                    sent_at = time.monotonic()
                    deadline = sent_at + wait
                    while (remaining := deadline - time.monotonic()) > 0:
                        try:
                            async with asyncio.timeout(remaining):
                                ack = await queue.get()
                        except TimeoutError:
                            break
                        if ack.result == IN_PROGRESS:
                            deadline = time.monotonic() + wait
                            continue
                        if ack.result == ACCEPTED:
                            latency = ack.at - sent_at
                            if attempt == 0:
                                v.telemetry.rtt.sample(latency)
                            return CommandOutcome(ack, attempt + 1, latency)
                        reason = await v.reason_since(text_mark)
                        raise CommandDenied(
                            v.system_id, command_name(command), ack.result_name, reason
                        )
                raise CommandTimeout(
                    v.system_id, command_name(command), attempts, time.monotonic() - started
                )
            finally:
                if self._waiting.get(command) is queue:
                    del self._waiting[command]
