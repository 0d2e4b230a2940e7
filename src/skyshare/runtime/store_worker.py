"""Every store call in order, on one thread, with consecutive writes committed together.

Decisions are made under the runtime's lock, but a durable commit takes milliseconds, and
holding the lock through it caps the system at one commit at a time. Instead, each
decision hands its write to this worker and releases the lock. Writes that queue up
meanwhile go into one transaction (group commit: one fsync for many changes). If that
transaction fails, each write is retried alone, so one bad change cannot sink the others.
Reads join the same queue, so a read always sees every write queued before it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

from skyshare.store import Store, Tx

T = TypeVar("T")
MAX_BATCH = 200


@dataclass
class _Job:
    run: Callable[..., Any]
    writes: bool
    done: asyncio.Future[Any] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class StoreWorker:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="store")
        self._jobs: deque[_Job] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.batches = 0  # transactions committed, for figures
        self.writes = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._serve(), name="store-worker")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await asyncio.get_running_loop().run_in_executor(self._thread, self.store.close)
        self._thread.shutdown(wait=False)

    async def read(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        job = _Job(partial(fn, *args, **kwargs), writes=False)
        self._put(job)
        return await job.done

    def write(self, fn: Callable[[Tx], None]) -> asyncio.Future[None]:
        """Queue ``fn(tx)``; the future resolves once it is durable (or fails)."""
        job = _Job(fn, writes=True)
        self._put(job)
        return job.done

    def _put(self, job: _Job) -> None:
        if self._task is None:
            self.start()
        self._jobs.append(job)
        self._wake.set()

    async def _serve(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self._jobs:
                self._wake.clear()
                await self._wake.wait()
                continue
            first = self._jobs.popleft()
            if not first.writes:
                try:
                    _settle(first, await loop.run_in_executor(self._thread, first.run), None)
                except Exception as exc:  # the caller gets it, the worker carries on
                    _settle(first, None, exc)
                continue
            batch = [first]
            while self._jobs and self._jobs[0].writes and len(batch) < MAX_BATCH:
                batch.append(self._jobs.popleft())
            errors = await loop.run_in_executor(self._thread, self._commit, batch)
            self.batches += 1
            self.writes += len(batch)
            for job, error in zip(batch, errors, strict=True):
                _settle(job, None, error)

    def _commit(self, batch: list[_Job]) -> list[Exception | None]:
        try:
            with self.store.transaction() as tx:
                for job in batch:
                    job.run(tx)
        except Exception as exc:
            if len(batch) == 1:
                return [exc]
            return [self._alone(job) for job in batch]  # find the bad one; keep the rest
        return [None] * len(batch)

    def _alone(self, job: _Job) -> Exception | None:
        try:
            with self.store.transaction() as tx:
                job.run(tx)
        except Exception as exc:
            return exc
        return None


def _settle(job: _Job, result: Any, error: Exception | None) -> None:
    if job.done.done():  # the caller gave up waiting (cancelled)
        return
    if error is not None:
        job.done.set_exception(error)
    else:
        job.done.set_result(result)
