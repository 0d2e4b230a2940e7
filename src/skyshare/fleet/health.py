"""Link health arithmetic: packet loss from MAVLink sequence gaps, and round-trip time."""

from __future__ import annotations

_WINDOW = 200  # packets per loss window; the figure covers the last one to two windows


class SequenceTracker:
    """Counts packets lost from one sender by the gaps in its 8-bit sequence numbers.

    A gap of 128 or more is read as reordering or a duplicate (UDP can do both), not as
    loss. After a link outage the next packet only re-synchronises: what went missing
    while the link was down is the outage, already reported, not packet loss.
    """

    __slots__ = ("_last", "_prev_lost", "_prev_seen", "_win_lost", "_win_seen", "lost", "received")

    def __init__(self) -> None:
        self._last = -1
        self.received = 0
        self.lost = 0
        self._win_seen = 0
        self._win_lost = 0
        self._prev_seen = 0
        self._prev_lost = 0

    def update(self, seq: int) -> None:
        self.received += 1
        self._win_seen += 1
        last = self._last
        self._last = seq
        if last >= 0:
            gap = (seq - last - 1) & 0xFF
            if 0 < gap < 128:
                self.lost += gap
                self._win_lost += gap
                self._win_seen += gap
        if self._win_seen >= _WINDOW:
            self._prev_seen, self._prev_lost = self._win_seen, self._win_lost
            self._win_seen = self._win_lost = 0

    @property
    def last_seq(self) -> int | None:
        """The sequence number of the last packet (None right after a resync)."""
        return None if self._last < 0 else self._last

    def resync(self) -> None:
        self._last = -1

    @property
    def loss(self) -> float:
        """Fraction of packets lost recently (0..1)."""
        expected = self._win_seen + self._prev_seen
        if expected == 0:
            return 0.0
        return (self._win_lost + self._prev_lost) / expected


class RoundTrip:
    """Smoothed round-trip time from TIMESYNC replies (or command acknowledgements)."""

    __slots__ = ("last_s", "smoothed_s")

    def __init__(self) -> None:
        self.last_s: float | None = None
        self.smoothed_s: float | None = None

    def sample(self, rtt_s: float) -> None:
        if rtt_s < 0:
            return
        self.last_s = rtt_s
        self.smoothed_s = rtt_s if self.smoothed_s is None else 0.8 * self.smoothed_s + 0.2 * rtt_s
