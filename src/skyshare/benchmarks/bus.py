"""`skyshare bench bus`: the event bus (in-process fan-out, MQTT publish to broker ack)."""

import skyshare.bus.benchmark  # noqa: F401  (registers the benchmark)
