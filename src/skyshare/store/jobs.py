"""Store work as values, and the loop that does it in order with group commit.

A write is the ``Tx`` calls of one transaction, by name; a read is one ``Store`` call, by
name. As values they cross to a store process (``server.py``) as easily as to a thread,
so the same loop serves both. Consecutive writes go into one transaction (group commit:
one fsync for many changes); if it fails, each is retried alone, so one bad change cannot
sink the others. Reads are served in turn, so a read sees every write sent before it.

Jobs carry their sender's numbers, in the order sent. A store process also records, in
each transaction, the last number committed and the numbers that failed (``Progress``):
if it dies before answering, its sender learns which of its writes were committed.
"""

from __future__ import annotations

import pickle
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from skyshare.store.records import StoreError, WriterProgress
from skyshare.store.store import Store, Tx

MAX_BATCH = 200  # writes in one transaction, at most
WRITE_CALLS = frozenset(
    {
        "add_incident",
        "update_incident",
        "save_assignment",
        "save_drone_state",
        "append",
        "save_restriction",
        "end_restriction",
    }
)
READ_CALLS = frozenset(
    {
        "get_incident",
        "find_incident",
        "assignments_for",
        "list_incidents",
        "assignments_for_incidents",
        "write_progress",
    }
)


@dataclass(frozen=True)
class Write:
    """``Tx`` calls made in one transaction, in order: ``(method name, arguments)``."""

    calls: tuple[tuple[str, tuple[Any, ...]], ...]

    def __post_init__(self) -> None:
        for name, _ in self.calls:
            if name not in WRITE_CALLS:
                raise ValueError(f"not a store write: {name!r}")

    def apply(self, tx: Tx) -> None:
        for name, args in self.calls:
            getattr(tx, name)(*args)


@dataclass(frozen=True)
class Read:
    """One ``Store`` read by name."""

    name: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.name not in READ_CALLS:
            raise ValueError(f"not a store read: {self.name!r}")

    def run(self, store: Store) -> Any:
        return getattr(store, self.name)(*self.args, **self.kwargs)


Job = tuple[int, Write | Read]  # a caller's number for the job, and the job
Receive = Callable[[bool], list[Job | None]]  # jobs that have arrived (block: wait for one)
Reply = Callable[[int, Exception | None, Any], None]  # (number, error, result)


@dataclass
class Progress:
    """One writer's progress, recorded with its writes (``Tx.note_progress``)."""

    session: str
    unnoted: list[int] = field(default_factory=list)  # failures not yet on record

    def note(self, tx: Tx, number: int) -> None:
        """In a transaction about to commit: writes up to ``number`` are processed."""
        for failed in self.unnoted:
            tx.note_progress(self.session, failed, failed=True)
        tx.note_progress(self.session, number)

    def committed(self) -> None:
        self.unnoted.clear()

    def failed(self, store: Store, number: int) -> None:
        """Write ``number`` failed: on record now, or with the next write that commits."""
        self.unnoted.append(number)
        try:
            with store.transaction() as tx:
                for failed in self.unnoted:
                    tx.note_progress(self.session, failed, failed=True)
        except Exception:
            return
        self.unnoted.clear()


def serve(
    store: Store,
    receive: Receive,
    reply: Reply,
    first: Sequence[Job | None] = (),
    progress: Progress | None = None,
) -> None:
    """Do the jobs ``receive`` gives (after ``first``), in order, answering each through
    ``reply``, until it gives ``None`` (the caller is done)."""
    pending: deque[Job | None] = deque(first)
    while True:
        if not pending:
            pending.extend(receive(True))
        pending.extend(receive(False))  # whatever else came meanwhile joins the batch
        first = pending.popleft()
        if first is None:
            return
        number, job = first
        if isinstance(job, Read):
            try:
                reply(number, None, job.run(store))
            except Exception as exc:  # the caller gets it; the loop carries on
                reply(number, exc, None)
            continue
        batch: list[tuple[int, Write]] = [(number, job)]
        while pending and pending[0] is not None and len(batch) < MAX_BATCH:
            head = pending[0]
            if not isinstance(head[1], Write):
                break
            pending.popleft()
            batch.append((head[0], head[1]))
        errors = commit(store, batch, progress)
        for (n, _), error in zip(batch, errors, strict=True):
            reply(n, error, None)


def commit(
    store: Store, writes: list[tuple[int, Write]], progress: Progress | None = None
) -> list[Exception | None]:
    """Commit the numbered ``writes`` in one transaction, with the ``progress`` they make;
    if that fails, each alone. Per write: its error, or None once it is durable."""
    try:
        with store.transaction() as tx:
            for _, write in writes:
                write.apply(tx)
            if progress is not None:
                progress.note(tx, writes[-1][0])
    except Exception as exc:
        if len(writes) == 1:
            if progress is not None:
                progress.failed(store, writes[0][0])
            return [exc]
        return [commit(store, [write], progress)[0] for write in writes]  # find the bad one
    if progress is not None:
        progress.committed()
    return [None] * len(writes)


@dataclass(frozen=True)
class Unanswered:
    """What became of the jobs a store process had not answered when it died, going by
    the progress it recorded (``Store.write_progress``)."""

    committed: tuple[int, ...]  # writes it had committed: done
    failed: tuple[int, ...]  # writes it had found bad: not committed
    again: tuple[Job, ...]  # reads, and writes it never reached: to send again, in order


def sort_out(jobs: Sequence[Job], progress: WriterProgress) -> Unanswered:
    """``jobs`` (numbered in the order sent) against the ``progress`` recorded."""
    committed, failed, again = [], [], []
    for number, job in sorted(jobs, key=lambda j: j[0]):
        if isinstance(job, Read) or number > progress.last_number:
            again.append((number, job))
        elif number in progress.failed:
            failed.append(number)
        else:
            committed.append(number)
    return Unanswered(tuple(committed), tuple(failed), tuple(again))


def portable(error: Exception) -> Exception:
    """``error`` as it can cross to another process: itself if it pickles back to the same
    kind, else a ``StoreError`` with its text (a driver's error may not)."""
    try:
        back = pickle.loads(pickle.dumps(error))
    except Exception:
        back = None
    if type(back) is type(error):
        return error
    return StoreError(f"{type(error).__name__}: {error}")
