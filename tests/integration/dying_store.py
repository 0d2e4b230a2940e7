"""A store process that fails on purpose, once: the double fault of the store worker.

Run as ``skyshare.store.server`` is (``StoreWorker.server_module``). Its database is
reached through a symbolic link to a folder (``point``). ``SKYSHARE_TEST_STORE_DIES`` is
``after:TRIGGER`` or ``before:TRIGGER``; once the file TRIGGER exists, the next write this
process takes is its last: it commits it (``after``) or not (``before``), points the link
at a folder whose database file is not a database (so that no new process can serve), and
ends without answering. A test points the link back when the store is to return.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from skyshare.store import jobs, server

if TYPE_CHECKING:  # the store's process itself needs neither
    import pytest

VOID = "void"  # beside the link: a folder whose database file is not a database


def point(link: Path, folder: str) -> None:
    """Point ``link`` at the folder ``folder`` beside it, atomically: a process opening
    the database meanwhile sees all of one folder's files (with their write-ahead log)."""
    swap = link.with_name(link.name + ".swap")
    swap.symlink_to(link.parent / folder)
    os.replace(swap, link)


def linked_database(folder: Path, name: str = "store.db") -> tuple[Path, str]:
    """A database in ``folder/real``, reached through the link ``folder/live``, with the
    void beside it: the link, and the database's URL."""
    (folder / "real").mkdir()
    (folder / VOID).mkdir()
    (folder / VOID / name).write_bytes(b"not a database " * 512)
    link = folder / "live"
    link.symlink_to(folder / "real")
    return link, f"sqlite:///{link / name}"


@dataclass(frozen=True)
class DyingStore:
    """A database reached through ``link`` (at ``url``), whose store process dies at the
    next write once ``die_at_next_write`` is called, and stays away until ``come_back``."""

    link: Path
    url: str
    trigger: Path

    def die_at_next_write(self) -> None:
        self.trigger.write_text(str(self.link))

    def come_back(self) -> None:
        point(self.link, "real")


def dies_once(monkeypatch: pytest.MonkeyPatch, when: str, folder: Path) -> DyingStore:
    """A database in ``folder`` whose store processes (started from now on, as this
    module) die ``when`` (before or after committing) the write they take once told to.
    While none can start, the worker fails the jobs waiting after one try, not four: the
    tests wait less for the same outcome."""
    from skyshare.runtime import store_worker  # not in the store's process

    link, url = linked_database(folder)
    trigger = folder / "die"
    monkeypatch.setenv("SKYSHARE_TEST_STORE_DIES", f"{when}:{trigger}")
    monkeypatch.setattr(store_worker.StoreWorker, "server_module", __name__)
    monkeypatch.setattr(store_worker, "RESTART_TRIES_BEFORE_FAILING", 1)
    return DyingStore(link, url, trigger)


def main() -> None:
    when, trigger = os.environ["SKYSHARE_TEST_STORE_DIES"].split(":", 1)
    commit = jobs.commit

    def commit_or_die(store: Any, writes: Any, progress: Any = None) -> Any:
        marker = Path(trigger)
        if not marker.exists():
            return commit(store, writes, progress)
        if when == "after":
            commit(store, writes, progress)
        link = Path(marker.read_text())
        marker.unlink()
        point(link, VOID)
        os._exit(1)  # without answering

    jobs.commit = commit_or_die  # what ``serve`` calls for each batch of writes
    server.main(int(sys.argv[1]))
    os._exit(0)


if __name__ == "__main__":
    main()
