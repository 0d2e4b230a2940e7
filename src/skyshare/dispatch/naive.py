"""The reference dispatcher: the same rules, no shortcuts.

It routes every candidate from scratch (no route cache, no lower bounds, no pruning) and
applies the same feasibility, scoring and cover tie-break. The fast ``Dispatcher`` must
make the same choices; benchmarks and tests hold it to that, and time it against this.
"From scratch" means each route is solved, not recalled: where the router keeps routes
(``route_afresh``), none is taken from its memory. What the airspace engine builds once
per map (its corner graph, and what each dock sees) it keeps using, as any router would,
and so is what the engine learns of a route's ends as it solves (which corners a scene
sees, once tested): it keeps that for every route, whoever asks.
"""

from __future__ import annotations

from datetime import datetime

from skyshare.dispatch.dispatcher import Dispatcher
from skyshare.dispatch.routing import NoPath, Path, PathSource, fresh_path
from skyshare.domain.models import GeoPoint


class NaiveDispatcher(Dispatcher):
    """``Dispatcher`` with every shortcut turned off."""

    _exhaustive = True

    @property
    def paths(self) -> PathSource:
        return self._fresh

    def _fresh(self, start: GeoPoint, goal: GeoPoint, agency: str, at: datetime) -> Path | NoPath:
        self.routes.calls += 1
        router = self.routes.router
        afresh = getattr(router, "route_afresh", None)
        return fresh_path(router, start, goal, agency, at, route=afresh)
