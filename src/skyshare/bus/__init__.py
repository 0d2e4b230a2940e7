"""The event bus: every state change is published here, in-process or over MQTT.

>>> bus = make_bus(settings.mqtt_url, intake=runtime.intake_from_cad)
>>> await bus.start()
>>> async with bus.subscribe({EventType.INCIDENT_RECEIVED}, agency="police") as events:
...     async for event in events: ...
"""

from skyshare.bus.base import Bus, BusClosed, Intake
from skyshare.bus.broker_url import BrokerAddress, parse_broker_url
from skyshare.bus.cad import CadReply, take_in
from skyshare.bus.factory import make_bus
from skyshare.bus.inprocess import InProcessBus
from skyshare.bus.mqtt import BrokerRefused, MqttBus, encode_event
from skyshare.bus.subscription import Subscription
from skyshare.bus.topics import (
    DEFAULT_PREFIX,
    agency_of_cad_topic,
    cad_accepted_topic,
    cad_incidents_filter,
    cad_incidents_topic,
    cad_rejected_topic,
    event_topic,
    events_filter,
    session_client_id,
)

__all__ = [
    "DEFAULT_PREFIX",
    "BrokerAddress",
    "BrokerRefused",
    "Bus",
    "BusClosed",
    "CadReply",
    "InProcessBus",
    "Intake",
    "MqttBus",
    "Subscription",
    "agency_of_cad_topic",
    "cad_accepted_topic",
    "cad_incidents_filter",
    "cad_incidents_topic",
    "cad_rejected_topic",
    "encode_event",
    "event_topic",
    "events_filter",
    "make_bus",
    "parse_broker_url",
    "session_client_id",
    "take_in",
]
