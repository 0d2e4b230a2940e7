"""Every store call in order, off the event loop, with consecutive writes committed together.

Decisions are made under the runtime's lock, but a durable commit takes milliseconds, and
holding the lock through it caps the system at one commit at a time. Instead, each
decision hands its write (a ``Write``: the transaction's calls, as a value) to this worker
and releases the lock; the worker answers once the write is durable. Writes that queue up
meanwhile go into one transaction (group commit), and reads join the same queue, so a
read sees every write queued before it (``skyshare.store.jobs``).

The store works in a process of its own (``skyshare.store.server``): its Python (building
statements, hashing the audit chain) then runs on another core instead of taking the
interpreter lock from the event loop while calls wait. If that process dies, another is
started, and jobs sent meanwhile wait for it. The jobs the dead one had not answered are
neither failed nor done twice: each write's number is recorded in the transaction that
commits it, so the new process is first asked how far the old one got; the writes it
committed are answered as done, and the rest are sent again, in order, ahead of the jobs
that waited. Only if no new process can serve for ``RESTART_TRIES_BEFORE_FAILING`` tries
(its database out of reach) are the waiting jobs failed. The writes among them that the
dead process had been sent are failed with ``StoreInDoubt``: it may have committed them.
Each carries a future that the next process to serve settles, from the same record, with
whether it was (the runtime then acts on a change it had given up). An in-memory SQLite
database, which no other process can open, is served from a thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import queue
import socket
import sys
import threading
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from skyshare.store import Store, StoreError, WriterProgress
from skyshare.store import server as store_server
from skyshare.store.jobs import Job, Read, Write, serve, sort_out
from skyshare.store.server import Frames, frame

T = TypeVar("T")

log = logging.getLogger(__name__)
RESTART_DELAY_S = 0.5
RESTART_TRIES_BEFORE_FAILING = 4  # then the jobs waiting are failed (2 s without a store)


class StoreUnavailable(StoreError):
    """The store could not take the job: its process ended or the worker is stopped."""


class StoreInDoubt(StoreUnavailable):
    """A write sent to a store process that ended without answering, failed before another
    could say whether it was committed. ``committed`` resolves to that answer when a
    process serves again, or is cancelled if the worker stops first."""

    def __init__(self, reason: str, committed: asyncio.Future[bool]) -> None:
        super().__init__(reason)
        self.committed = committed


async def until_taken(
    failure: StoreUnavailable, again: Callable[[], Awaitable[T]], pause_s: float
) -> T | None:
    """After ``failure``, make ``again`` until the store takes it: at once when a process
    serves again after a write in doubt (None, making nothing, if that write was committed
    after all), else every ``pause_s`` while the store is away (it is not spun on)."""
    while True:
        if isinstance(failure, StoreInDoubt):
            if await failure.committed:
                return None
        else:
            await asyncio.sleep(pause_s)
        try:
            return await again()
        except StoreUnavailable as exc:
            failure = exc


class StoreWorker:
    """The runtime's one way to the store while it runs: ``read``, ``write``, in order."""

    server_module = store_server.__name__  # run as the store's process (``-m``)

    def __init__(self, store: Store, url: str, *, process: bool = True) -> None:
        self.store = store  # read at start-up, before ``start``, and by the audit routes
        self._url = url  # with its password, for the store process; never logged
        self._process = process and not store.in_memory
        # By number: each job sent and not yet answered, and its caller's future.
        self._waiting: dict[int, tuple[Write | Read, asyncio.Future[Any]]] = {}
        self._numbers = itertools.count(1)
        self._session = uuid.uuid4().hex  # this worker's name in the store's progress rows
        self._send: Callable[[Job | None], None] | None = None
        self._stop: Callable[[], Awaitable[None]] | None = None
        self._held: list[Job | None] = []  # sent while the store's process restarts
        # Writes failed as in doubt, by number: settled by the next process to serve.
        self._in_doubt: dict[int, tuple[Write, asyncio.Future[bool]]] = {}
        self._restart: asyncio.Task[None] | None = None
        self._stopping = False
        self._up = False  # a process is started and serving
        self.pid: int | None = None  # the store process, when there is one
        self.trouble: str | None = None  # why the last write the store did not take failed

    async def start(self) -> None:
        if self._process:
            await self._start_process()
        else:
            self._start_thread()

    async def stop(self) -> None:
        """Finish every job sent, then stop, and close the store."""
        self._stopping = True
        if self._restart is not None:
            self._restart.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._restart
        if self._stop is not None:
            await self._stop()
        self._stop = self._send = None
        answered = not (self._waiting or self._held or self._in_doubt)
        self._give_up("the store worker stopped")  # jobs held for a process never started
        for _, committed in self._in_doubt.values():
            committed.cancel()  # never to be known by this worker
        self._in_doubt.clear()
        if answered:  # nothing of this session is left to settle: drop its record
            await asyncio.to_thread(self._forget_progress)
        await asyncio.to_thread(self.store.close)

    def _forget_progress(self) -> None:
        try:
            self.store.forget_progress(self._session)
        except Exception as exc:  # the record stays (one row, harmless): stop all the same
            log.warning("could not drop this service's write record: %s", exc)

    async def read(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """``Store.<name>(*args, **kwargs)``, after every write sent before it."""
        return await self._submit(Read(name, args, kwargs))

    def write(self, write: Write) -> asyncio.Future[Any]:
        """Send ``write``; the future resolves once it is durable (or fails)."""
        return self._submit(write)

    def _submit(self, job: Write | Read) -> asyncio.Future[Any]:
        if self._send is None:
            raise StoreUnavailable("the store worker is not running")
        number = next(self._numbers)
        done = asyncio.get_running_loop().create_future()
        self._waiting[number] = (job, done)
        self._send((number, job))
        return done

    def health(self) -> dict[str, Any]:
        """For a health check: is a store process (or thread) serving, what waits for
        it, and why the last write it could not take failed (until one is taken)."""
        return {
            "serving": self._send is not None and (self._up or not self._process),
            "writes_waiting": len(self._waiting),
            "writes_in_doubt": len(self._in_doubt),
            "trouble": self.trouble,
        }

    def _settle(self, number: int, error: Exception | None, result: Any) -> None:
        found = self._waiting.pop(number, None)
        if isinstance(error, StoreUnavailable):
            self.trouble = str(error)
        elif error is None and found is not None and isinstance(found[0], Write):
            self.trouble = None
        if found is None or found[1].done():  # the caller gave up waiting (cancelled)
            return
        done = found[1]
        if error is not None:
            done.set_exception(error)
        else:
            done.set_result(result)

    def _give_up(self, reason: str) -> None:
        """Fail every job waiting, the latest first: changes built one on another are
        then undone by their callers in the reverse order they were made. The writes a
        process was sent and never answered are failed as in doubt."""
        held = {job[0] for job in self._held if job is not None}
        self._held.clear()
        for number in reversed(list(self._waiting)):
            job, _ = self._waiting[number]
            if number in held or isinstance(job, Read):
                self._settle(number, StoreUnavailable(reason), None)
                continue
            committed = asyncio.get_running_loop().create_future()
            self._in_doubt[number] = (job, committed)
            why = f"{reason}; the write may have been stored"
            self._settle(number, StoreInDoubt(why, committed), None)

    # --- a process (files and servers) ------------------------------------------------

    async def _start_process(self) -> None:
        ours, theirs = socket.socketpair()
        with theirs:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                self.server_module,
                str(theirs.fileno()),
                pass_fds=(theirs.fileno(),),
                stdin=asyncio.subprocess.DEVNULL,
            )
        self.pid = process.pid
        reader, writer = await asyncio.open_unix_connection(sock=ours)
        writer.write(frame((self._url, self._session)))
        answers = asyncio.create_task(self._answers(reader), name="store-answers")

        async def stop() -> None:
            with contextlib.suppress(ConnectionError, RuntimeError):  # it may be dead
                writer.write_eof()  # the process answers what it has, then closes its end
            await answers
            writer.close()
            await process.wait()

        self._stop = stop

        def send(job: Job | None) -> None:
            writer.write(frame(job))

        # Ask how far this worker's writes got: it tells which jobs a process before this
        # one left unanswered were done, and that this one is up (else: it died).
        number = next(self._numbers)
        question = Read("write_progress", (self._session,))
        asked = asyncio.get_running_loop().create_future()
        self._waiting[number] = (question, asked)
        send((number, question))
        await asyncio.wait((asked, answers), return_when=asyncio.FIRST_COMPLETED)
        if not asked.done() or asked.exception() is not None:
            self._waiting.pop(number, None)
            await stop()  # it may be running, without a database it can use
            why = asked.exception() if asked.done() else "it ended"
            raise StoreUnavailable(f"the store's process cannot serve: {why}")
        progress = asked.result()
        if self._in_doubt:  # before any new write moves the record on
            self._settle_in_doubt(progress)
        held = {job[0] for job in self._held if job is not None}
        unanswered = [(n, job) for n, (job, _) in self._waiting.items() if n not in held]
        if unanswered:  # a process before this one died without answering these
            self._settle_unanswered(unanswered, progress, send)
        for job in self._held:  # in the order they were sent
            send(job)
        self._held.clear()
        self._send = send
        self._up = True

    def _settle_unanswered(
        self, unanswered: list[Job], progress: WriterProgress, send: Callable[[Job], None]
    ) -> None:
        """Answer the writes a dead process committed (or found bad); send the rest again."""
        outcome = sort_out(unanswered, progress)
        for n in outcome.committed:
            self._settle(n, None, None)
        for n in outcome.failed:
            self._settle(n, StoreError("the write failed and was not committed"), None)
        for job in outcome.again:
            send(job)
        log.warning(
            "store: of the jobs the ended process left unanswered, %d write(s) were "
            "committed, %d refused, %d job(s) sent again",
            len(outcome.committed),
            len(outcome.failed),
            len(outcome.again),
        )

    def _settle_in_doubt(self, progress: WriterProgress) -> None:
        """Say, of each write failed as in doubt, whether a dead process committed it."""
        outcome = sort_out([(n, job) for n, (job, _) in self._in_doubt.items()], progress)
        for number in sorted(self._in_doubt):  # in the order they were committed
            committed = self._in_doubt[number][1]
            if not committed.done():
                committed.set_result(number in outcome.committed)
        self._in_doubt.clear()
        log.warning(
            "store: of the writes failed as in doubt, %d had been committed",
            len(outcome.committed),
        )

    async def _answers(self, reader: asyncio.StreamReader) -> None:
        frames = Frames()
        try:
            while data := await reader.read(1 << 16):
                for number, error, result in frames.feed(data):
                    self._settle(number, error, result)
        except ConnectionError:
            pass  # it died: its jobs are settled by the next one
        finally:
            was_up, self._up = self._up, False
            if self._stopping:
                self._give_up("the store process ended")
                self._send = None
            elif was_up:  # hold what comes next for another process, started after a pause
                self._send = self._held.append
                self._restart = asyncio.create_task(self._restart_process())
            # Else it died while being started: ``_start_process`` sees that itself.

    async def _restart_process(self) -> None:
        """Start another process, again and again while each dies as it starts (its
        database unreachable, say). Jobs wait meanwhile; after a few failed tries they are
        failed (callers may retry), and later ones wait for the next try."""
        log.error("the store's process (pid %s) ended; starting another", self.pid)
        tries = 0
        while True:
            await asyncio.sleep(RESTART_DELAY_S)  # a store that cannot start is not spun on
            try:
                await self._start_process()
                return
            except StoreUnavailable:
                tries += 1
                log.error("the store's new process ended as it started (try %d)", tries)
                if tries % RESTART_TRIES_BEFORE_FAILING == 0:
                    self._give_up("the store's process cannot be started; retry later")
            except Exception:
                log.exception("the store's process could not be started again")
                self._send = None
                self._give_up("the store's process could not be started again")
                return

    # --- a thread (an in-memory database) ---------------------------------------------

    def _start_thread(self) -> None:
        loop = asyncio.get_running_loop()
        jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()

        def receive(block: bool) -> list[Job | None]:
            out = [jobs.get()] if block else []
            while True:
                try:
                    out.append(jobs.get_nowait())
                except queue.Empty:
                    return out

        def reply(number: int, error: Exception | None, result: Any) -> None:
            loop.call_soon_threadsafe(self._settle, number, error, result)

        thread = threading.Thread(
            target=serve, args=(self.store, receive, reply), name="store", daemon=True
        )
        thread.start()
        self._send = jobs.put

        async def stop() -> None:
            jobs.put(None)
            await asyncio.to_thread(thread.join)

        self._stop = stop
