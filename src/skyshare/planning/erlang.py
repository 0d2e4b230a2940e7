"""The M/M/c queue (Erlang C): a yardstick for the simulation and a first guess of fleets.

Calls arrive at rate ``lam``, each keeps one of ``c`` drones busy for an exponential
time of mean ``1/mu``. With offered load ``a = lam/mu`` and ``rho = a/c < 1``:

    P(wait) = (a^c / c!) / (1 - rho) / (sum_{k<c} a^k/k! + (a^c / c!) / (1 - rho))
    mean wait = P(wait) / (c*mu - lam)
"""

from __future__ import annotations

import math

from skyshare.domain.errors import InputError


def erlang_c(servers: int, offered_load: float) -> float:
    """The probability that a call has to wait (1.0 when the queue is unstable)."""
    if servers < 1:
        raise InputError("servers", f"must be at least 1, got {servers}")
    if offered_load < 0:
        raise InputError("offered_load", f"must be zero or more, got {offered_load}")
    if offered_load >= servers:
        return 1.0
    # sum_{k<c} a^k/k! and a^c/c!, computed by recurrence to stay finite for large c
    term, total = 1.0, 0.0
    for k in range(servers):
        total += term
        term *= offered_load / (k + 1)
    waiting = term / (1.0 - offered_load / servers)
    return waiting / (total + waiting)


def mean_wait_s(servers: int, arrival_rate: float, service_rate: float) -> float:
    """Mean time in the queue (seconds if the rates are per second); inf if unstable."""
    if not service_rate > 0:
        raise InputError("service_rate", f"must be positive, got {service_rate}")
    load = arrival_rate / service_rate
    if load >= servers:
        return math.inf
    return erlang_c(servers, load) / (servers * service_rate - arrival_rate)


def servers_for(offered_load: float, max_wait_probability: float) -> int:
    """The fewest servers for which P(wait) is at most ``max_wait_probability``."""
    if not 0 < max_wait_probability <= 1:
        raise InputError("max_wait_probability", f"must be in (0, 1], got {max_wait_probability}")
    c = max(1, math.floor(offered_load) + 1)
    while erlang_c(c, offered_load) > max_wait_probability:
        c += 1
    return c
