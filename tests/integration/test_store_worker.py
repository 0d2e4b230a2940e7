"""The store worker: the runtime's writes and reads, in order, in a store process of its own.

Run on a SQLite file and on a real PostgreSQL server (``store_url`` of test_store.py).
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from skyshare.domain import IncidentStatus
from skyshare.runtime.store_worker import StoreInDoubt, StoreUnavailable, StoreWorker
from skyshare.store import DuplicateIncident, NotFound, Store, WriterProgress
from skyshare.store.jobs import Progress, Write, commit, sort_out
from tests.integration.dying_store import dies_once
from tests.integration.test_store import event, incident, postgres_admin_url, store_url

__all__ = ["postgres_admin_url", "store_url"]  # fixtures, used by name


@pytest.fixture
async def worker(store_url: str) -> AsyncIterator[StoreWorker]:
    running = StoreWorker(Store.open(store_url), store_url)
    await running.start()
    yield running
    await running.stop()


def add(n: int, **changes: object) -> Write:
    new = incident(n, **changes)
    return Write((("add_incident", (new,)), ("append", (event(new.id, n),))))


async def test_an_acknowledged_write_is_on_disk_written_by_another_process(
    worker: StoreWorker, store_url: str
) -> None:
    assert worker.pid is not None and worker.pid != os.getpid()
    await worker.write(add(1))
    with Store.open(store_url) as fresh:  # a connection of its own, as after a crash
        assert fresh.get_incident(incident(1).id) == incident(1)
        assert [e.event.subject for e in fresh.events()] == [incident(1).id]


async def test_a_read_sent_after_a_write_sees_it_without_waiting_for_it(
    worker: StoreWorker,
) -> None:
    written = worker.write(add(1))
    assert await worker.read("get_incident", incident(1).id) == incident(1)
    await written


async def test_one_bad_write_among_many_fails_alone_naming_the_record(
    worker: StoreWorker, store_url: str
) -> None:
    ghost = replace(incident(99), status=IncidentStatus.CLOSED)
    writes = [add(n) for n in range(1, 6)]
    writes.insert(2, Write((("update_incident", (ghost,)),)))
    results = await asyncio.gather(*(worker.write(w) for w in writes), return_exceptions=True)
    failed = results.pop(2)
    assert isinstance(failed, NotFound) and failed.record_id == ghost.id
    assert results == [None] * 5
    with Store.open(store_url) as fresh:
        assert {i.id for i in fresh.list_incidents()} == {incident(n).id for n in range(1, 6)}


async def test_a_repeated_call_comes_back_with_the_incident_already_stored(
    worker: StoreWorker,
) -> None:
    await worker.write(add(1, external_id="cad-7"))
    with pytest.raises(DuplicateIncident) as dup:
        await worker.write(add(2, external_id="cad-7"))
    assert dup.value.existing == incident(1, external_id="cad-7")


async def test_stopping_finishes_every_write_sent(store_url: str) -> None:
    worker = StoreWorker(Store.open(store_url), store_url)
    await worker.start()
    sent = [worker.write(add(n)) for n in range(1, 21)]
    await worker.stop()
    assert all(s.done() and s.exception() is None for s in sent)
    with Store.open(store_url) as fresh:
        assert len(fresh.list_incidents()) == 20
        assert fresh.writer_sessions() == []  # nothing left to settle: no record kept


async def test_if_the_store_process_dies_another_answers_what_it_had_not(
    worker: StoreWorker, store_url: str
) -> None:
    await worker.write(add(1))
    first = worker.pid
    assert first is not None
    os.kill(first, signal.SIGKILL)
    # Sent to the one that died and never answered: the next one answers it.
    assert {i.id for i in await worker.read("list_incidents")} == {incident(1).id}
    # Sent while another starts: held for it, in order.
    later = [worker.write(add(2)), worker.write(add(3))]
    assert await asyncio.gather(*later) == [None, None]
    assert worker.pid not in (None, first)
    with Store.open(store_url) as fresh:
        assert {i.id for i in fresh.list_incidents()} == {incident(n).id for n in (1, 2, 3)}


@pytest.mark.parametrize("acknowledged", [1, 100])
async def test_writes_in_flight_when_the_store_process_dies_are_committed_exactly_once(
    worker: StoreWorker, store_url: str, acknowledged: int
) -> None:
    # Writes sent at once; the store's process is killed once some are acknowledged, with
    # others committed but not yet answered, or in a transaction, or still on the wire.
    n = 300
    sent = [worker.write(add(k)) for k in range(1, n + 1)]
    await asyncio.gather(*sent[:acknowledged])
    killed = worker.pid
    assert killed is not None
    os.kill(killed, signal.SIGKILL)
    assert await asyncio.gather(*sent) == [None] * n  # none failed, none to retry
    await worker.write(add(n + 1))
    assert worker.pid != killed
    with Store.open(store_url) as fresh:
        assert len(fresh.list_incidents(limit=1000)) == n + 1
        subjects = sorted(e.event.subject for e in fresh.events(limit=1000))
        assert subjects == sorted(incident(k).id for k in range(1, n + 2))  # each once
        assert fresh.verify_audit_chain().ok


async def test_while_no_store_process_can_start_callers_are_told_then_it_recovers(
    tmp_path: Path,
) -> None:
    path = tmp_path / "store.db"
    url = f"sqlite:///{path}"
    worker = StoreWorker(Store.open(url), url)
    await worker.start()
    try:
        await worker.write(add(1))
        away = tmp_path / "away"
        away.mkdir()
        for file in tmp_path.glob("store.db*"):  # with its write-ahead log
            file.rename(away / file.name)
        path.write_bytes(b"not a database " * 512)  # what each new process finds: unusable
        os.kill(worker.pid, signal.SIGKILL)  # type: ignore[arg-type]
        with pytest.raises(StoreUnavailable, match="cannot be started; retry later"):
            await worker.write(add(2))
        for file in away.iterdir():  # the database is back: the next try serves
            file.replace(tmp_path / file.name)
        await worker.write(add(3))
        with Store.open(url) as fresh:
            assert {i.id for i in fresh.list_incidents()} == {incident(1).id, incident(3).id}
    finally:
        await worker.stop()


@pytest.mark.parametrize("when", ["after", "before"])
async def test_a_write_in_doubt_is_settled_by_the_next_process_to_serve(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, when: str
) -> None:
    """The double fault: the store's process ends with a write unanswered, committed
    (after) or not (before), and no other can open the database for a while. The write
    fails as in doubt; the next process to serve says whether it was stored."""
    dying = dies_once(monkeypatch, when, tmp_path)
    worker = StoreWorker(Store.open(dying.url), dying.url)
    await worker.start()
    try:
        await worker.write(add(1))
        dying.die_at_next_write()
        with pytest.raises(StoreInDoubt, match="may have been stored") as doubt:
            await worker.write(add(2))
        committed = doubt.value.committed
        assert not committed.done()  # no process has served since
        dying.come_back()  # the database is back: the next try serves
        await worker.write(add(3))
        assert committed.done() and committed.result() is (when == "after")
        with Store.open(dying.url) as fresh:
            stored = {i.id for i in fresh.list_incidents()}
            assert (incident(2).id in stored) is (when == "after")
            assert {incident(1).id, incident(3).id} <= stored
            assert fresh.verify_audit_chain().ok
    finally:
        await worker.stop()


async def test_a_store_process_that_ends_as_it_starts_is_reported(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    # The process is given a database it cannot open, so it ends before its first answer.
    worker = StoreWorker(Store.open(url), "oracle://nowhere/db")
    with pytest.raises(StoreUnavailable, match="cannot serve: it ended"):
        await worker.start()
    await worker.stop()


async def test_a_stopped_worker_refuses_at_once(store_url: str) -> None:
    worker = StoreWorker(Store.open(store_url), store_url)
    await worker.start()
    await worker.stop()
    with pytest.raises(StoreUnavailable, match="not running"):
        worker.write(add(1))


async def test_an_in_memory_database_is_served_from_a_thread() -> None:
    url = "sqlite://"
    worker = StoreWorker(Store.open(url), url)
    await worker.start()
    try:
        assert worker.pid is None
        await worker.write(add(1))
        assert await worker.read("get_incident", incident(1).id) == incident(1)
    finally:
        await worker.stop()


async def test_a_process_records_how_far_its_writes_got_committed_or_refused(
    store_url: str,
) -> None:
    # What a new store process is asked after the last one died: the writes it committed
    # (up to the last number) and those it refused, each recorded in its own transaction.
    ghost = replace(incident(99), status=IncidentStatus.CLOSED)
    bad = Write((("update_incident", (ghost,)),))
    with Store.open(store_url) as store:
        progress = Progress("session-a")
        errors = commit(store, [(1, add(1)), (2, bad), (3, add(3))], progress)
        assert [type(e).__name__ if e else None for e in errors] == [None, "NotFound", None]
        assert store.write_progress("session-a") == WriterProgress(3, frozenset({2}))
        assert store.write_progress("session-b") == WriterProgress()
        outcome = sort_out([(2, bad), (3, add(3)), (4, add(4))], store.write_progress("session-a"))
        assert (outcome.committed, outcome.failed) == ((3,), (2,))
        assert [n for n, _ in outcome.again] == [4]


def test_only_store_calls_can_be_sent() -> None:
    with pytest.raises(ValueError, match="not a store write: 'drop_everything'"):
        Write((("drop_everything", ()),))
