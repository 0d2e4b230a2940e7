"""Incident streams for the what-if simulator, load tests and demos.

- ``poisson_incidents``: synthetic calls, Poisson in time, by borough weight, uniform
  inside each borough, with an agency / kind / priority mix (``DEFAULT_MIX``).
- ``replay_csv``: real police.uk records, spread over their month for a seed.
- ``borough_weights`` / ``borough_weights_csv``: incident counts per borough.

Everything is deterministic for a seed; only ``read_police_csv`` (and the ``*_csv``
wrappers) read a file.
"""

from simulators.incidents.poisson import points_in, poisson_incidents
from simulators.incidents.records import DEFAULT_MIX, GeneratedIncident, KindShare, mix_for
from simulators.incidents.replay import (
    DEFAULT_KIND_BY_TYPE,
    CrimeRecord,
    PoliceCsv,
    borough_weights,
    borough_weights_csv,
    read_police_csv,
    replay,
    replay_csv,
)

__all__ = [
    "DEFAULT_KIND_BY_TYPE",
    "DEFAULT_MIX",
    "CrimeRecord",
    "GeneratedIncident",
    "KindShare",
    "PoliceCsv",
    "borough_weights",
    "borough_weights_csv",
    "mix_for",
    "points_in",
    "poisson_incidents",
    "read_police_csv",
    "replay",
    "replay_csv",
]
