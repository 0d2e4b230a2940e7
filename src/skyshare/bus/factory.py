"""Choose the bus from configuration: MQTT when a broker URL is set, else in-process."""

from __future__ import annotations

from skyshare.bus.base import Bus, Intake
from skyshare.bus.inprocess import InProcessBus
from skyshare.bus.mqtt import MqttBus
from skyshare.bus.topics import DEFAULT_PREFIX


def make_bus(
    mqtt_url: str | None,
    *,
    intake: Intake | None = None,
    topic_prefix: str = DEFAULT_PREFIX,
    client_id: str | None = None,
) -> Bus:
    """``SKYSHARE_MQTT_URL`` unset or empty -> :class:`InProcessBus`; else :class:`MqttBus`.

    ``intake`` only applies to MQTT: in-process, incidents arrive through the API instead.
    """
    if mqtt_url is None or not mqtt_url.strip():
        return InProcessBus()
    return MqttBus(mqtt_url, intake=intake, topic_prefix=topic_prefix, client_id=client_id)
