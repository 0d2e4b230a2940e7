"""Kinematic multirotor: position, velocity, attitude and a battery, stepped in sim time.

Not an aerodynamic model: the vehicle follows a setpoint with the speed, climb and
acceleration limits an autopilot's position controller enforces, is pushed by wind
changes (gusts) that the controller then corrects with its limited acceleration, and
tilts as much as it must to accelerate and to hold against the air. That is what
dispatch needs: realistic flight times, stopping distances and energy use.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from simulators.mavsim.config import Airframe
from simulators.mavsim.frame import bearing_deg

GRAVITY = 9.80665


@dataclass
class Limits:
    """Position-controller limits, from the personality's parameters (m/s, m/s^2)."""

    speed_xy: float = 10.0
    accel_xy: float = 2.5
    speed_up: float = 2.5
    speed_down: float = 1.5
    accel_z: float = 0.75
    yaw_rate_dps: float = 90.0


class Setpoint:
    """What the navigator asks of the controller for one tick.

    Horizontal: a position (``n``, ``e``) flown at up to ``speed_xy``, or else a
    velocity (``vn``, ``ve``). Vertical: an altitude ``u`` or else a climb rate ``vu``.
    ``heading`` None means "face the direction of travel"; ``speed_xy``/``speed_up``
    None mean the controller's limits.
    """

    __slots__ = ("e", "heading", "n", "speed_up", "speed_xy", "u", "ve", "vn", "vu")

    def __init__(
        self,
        n: float | None = None,
        e: float | None = None,
        u: float | None = None,
        *,
        vn: float = 0.0,
        ve: float = 0.0,
        vu: float = 0.0,
        speed_xy: float | None = None,
        speed_up: float | None = None,
        heading: float | None = None,
    ) -> None:
        self.n, self.e, self.u = n, e, u
        self.vn, self.ve, self.vu = vn, ve, vu
        self.speed_xy = speed_xy
        self.speed_up = speed_up
        self.heading = heading


class Body:
    """The vehicle's true kinematic state in its home's local frame (metres, m/s, degrees)."""

    __slots__ = (
        "e",
        "heading",
        "n",
        "pitch",
        "roll",
        "u",
        "ve",
        "vn",
        "vu",
        "wind_e",
        "wind_n",
        "yaw_rate",
    )

    def __init__(self, heading: float = 0.0) -> None:
        self.n = self.e = self.u = 0.0
        self.vn = self.ve = self.vu = 0.0
        self.heading = heading
        self.roll = self.pitch = self.yaw_rate = 0.0
        self.wind_n = self.wind_e = 0.0  # the wind velocity last felt (m/s, blowing towards)

    @property
    def ground_speed(self) -> float:
        return math.hypot(self.vn, self.ve)

    def airspeed(self) -> float:
        return math.hypot(self.vn - self.wind_n, self.ve - self.wind_e)


def _axis_speed(distance: float, speed: float, accel: float) -> float:
    """The speed that still stops in ``distance`` with deceleration ``accel``."""
    # 80 % of the deceleration: tracking lag must not turn into overshoot.
    return min(speed, math.sqrt(1.6 * accel * distance), 2.0 * distance)


def step(
    body: Body,
    sp: Setpoint,
    limits: Limits,
    airframe: Airframe,
    wind_n: float,
    wind_e: float,
    dt: float,
) -> None:
    """Advance ``body`` by ``dt`` seconds towards ``sp`` (the vehicle is airborne)."""
    # A change in wind pushes the vehicle before the controller can react: a gust.
    body.vn += wind_n - body.wind_n
    body.ve += wind_e - body.wind_e
    body.wind_n, body.wind_e = wind_n, wind_e

    # Horizontal desired velocity.
    if sp.n is not None and sp.e is not None:
        dn, de = sp.n - body.n, sp.e - body.e
        dist = math.hypot(dn, de)
        speed = limits.speed_xy if sp.speed_xy is None else sp.speed_xy
        if dist > 1e-3:
            s = _axis_speed(dist, speed, limits.accel_xy)
            want_n, want_e = s * dn / dist, s * de / dist
        else:
            want_n = want_e = 0.0
    else:
        want_n, want_e = sp.vn, sp.ve

    # The frame cannot exceed its airspeed: scale the demand down along its direction.
    air_n, air_e = want_n - wind_n, want_e - wind_e
    air = math.hypot(air_n, air_e)
    if air > airframe.max_airspeed_mps:
        k = airframe.max_airspeed_mps / air
        want_n, want_e = wind_n + air_n * k, wind_e + air_e * k

    max_dv = limits.accel_xy * dt
    dvn, dve = want_n - body.vn, want_e - body.ve
    dv = math.hypot(dvn, dve)
    if dv > max_dv:
        dvn, dve = dvn * max_dv / dv, dve * max_dv / dv
    old_vn, old_ve = body.vn, body.ve
    body.vn += dvn
    body.ve += dve

    # Vertical.
    if sp.u is not None:
        du = sp.u - body.u
        if du >= 0:
            up = limits.speed_up if sp.speed_up is None else sp.speed_up
            want_u = _axis_speed(du, up, limits.accel_z)
        else:
            want_u = -_axis_speed(-du, limits.speed_down, limits.accel_z)
    else:
        want_u = max(-limits.speed_down * 3.0, min(limits.speed_up, sp.vu))
    max_dvu = limits.accel_z * dt
    dvu = max(-max_dvu, min(max_dvu, want_u - body.vu))
    old_vu = body.vu
    body.vu += dvu

    body.n += 0.5 * (old_vn + body.vn) * dt
    body.e += 0.5 * (old_ve + body.ve) * dt
    body.u += 0.5 * (old_vu + body.vu) * dt

    _settle_on_target(body, sp)
    _attitude(body, sp, limits, airframe, dvn / dt, dve / dt, dt)


def _settle_on_target(body: Body, sp: Setpoint) -> None:
    # Snap the last centimetres so a hovering vehicle reports a steady position.
    if (
        sp.n is not None
        and sp.e is not None
        and abs(sp.n - body.n) < 0.02
        and abs(sp.e - body.e) < 0.02
        and body.ground_speed < 0.05
    ):
        body.n, body.e, body.vn, body.ve = sp.n, sp.e, 0.0, 0.0
    if sp.u is not None and abs(sp.u - body.u) < 0.02 and abs(body.vu) < 0.05:
        body.u, body.vu = sp.u, 0.0


def _attitude(
    body: Body,
    sp: Setpoint,
    limits: Limits,
    airframe: Airframe,
    acc_n: float,
    acc_e: float,
    dt: float,
) -> None:
    # Thrust must supply the acceleration and hold against drag from the relative air.
    air_n, air_e = body.vn - body.wind_n, body.ve - body.wind_e
    drag_k = (
        GRAVITY
        * math.tan(math.radians(airframe.max_tilt_deg) * 0.6)
        / (airframe.max_airspeed_mps**2)
    )
    air = math.hypot(air_n, air_e)
    f_n = acc_n + drag_k * air * air_n
    f_e = acc_e + drag_k * air * air_e

    if sp.heading is not None:
        want = sp.heading
    elif body.ground_speed > 1.0:
        want = bearing_deg(body.vn, body.ve)
    else:
        want = body.heading
    turn = (want - body.heading + 540.0) % 360.0 - 180.0
    max_turn = limits.yaw_rate_dps * dt
    turn = max(-max_turn, min(max_turn, turn))
    body.heading = (body.heading + turn) % 360.0
    body.yaw_rate = math.radians(turn / dt)

    h = math.radians(body.heading)
    fwd = f_n * math.cos(h) + f_e * math.sin(h)
    right = -f_n * math.sin(h) + f_e * math.cos(h)
    max_tilt = math.radians(airframe.max_tilt_deg)
    body.pitch = max(-max_tilt, min(max_tilt, -math.atan2(fwd, GRAVITY)))
    body.roll = max(-max_tilt, min(max_tilt, math.atan2(right, GRAVITY)))


def rest_on_ground(body: Body) -> None:
    """On the ground nothing moves and the wind is not felt."""
    body.u = 0.0
    body.vn = body.ve = body.vu = 0.0
    body.roll = body.pitch = body.yaw_rate = 0.0
    body.wind_n = body.wind_e = 0.0


def fall(body: Body, dt: float) -> None:
    """Lift lost (motor failure): ballistic descent with drag, no control."""
    terminal = 20.0
    body.vu = max(-terminal, body.vu - GRAVITY * dt)
    body.vn *= 1.0 - min(1.0, 0.5 * dt)
    body.ve *= 1.0 - min(1.0, 0.5 * dt)
    body.n += body.vn * dt
    body.e += body.ve * dt
    body.u += body.vu * dt
    body.roll = min(math.pi / 2, body.roll + 2.0 * dt)


class Battery:
    """Energy drawn from a LiPo pack: remaining charge, open-circuit voltage and sag."""

    __slots__ = ("capacity_mah", "cells", "current_a", "r_int", "used_mah", "voltage")

    def __init__(self, airframe: Airframe) -> None:
        self.capacity_mah = airframe.capacity_mah
        self.cells = airframe.cells
        self.r_int = airframe.internal_resistance_ohm
        self.used_mah = 0.0
        self.current_a = 0.0
        self.voltage = self.open_circuit_v()

    @property
    def remaining(self) -> float:
        return max(0.0, 1.0 - self.used_mah / self.capacity_mah)

    def open_circuit_v(self) -> float:
        # Linear between 3.5 V/cell (empty) and 4.2 V/cell (full): crude but monotonic.
        return self.cells * (3.5 + 0.7 * self.remaining)

    def draw(self, power_w: float, dt: float) -> None:
        v_oc = self.open_circuit_v()
        self.current_a = power_w / max(v_oc, 1.0)
        self.voltage = v_oc - self.current_a * self.r_int
        self.used_mah += self.current_a * dt / 3.6

    def charge(self, fraction: float) -> None:
        """A charger puts ``fraction`` of the capacity back (at most to full)."""
        self.used_mah = max(0.0, self.used_mah - self.capacity_mah * fraction)
        self.current_a = 0.0
        self.voltage = self.open_circuit_v()

    def set_remaining(self, fraction: float) -> None:
        """Fault injection: the pack suddenly holds only ``fraction`` of its charge."""
        self.used_mah = self.capacity_mah * (1.0 - max(0.0, min(1.0, fraction)))
        self.voltage = self.open_circuit_v()


def power_w(body: Body, airframe: Airframe, armed: bool, airborne: bool) -> float:
    """Electrical power drawn now."""
    if not armed:
        return airframe.idle_power_w
    if not airborne:
        return airframe.idle_power_w + 0.15 * airframe.hover_power_w  # props at idle
    v = body.airspeed() / airframe.speed_power_ref_mps
    climb = max(0.0, body.vu) * airframe.mass_kg * GRAVITY / airframe.climb_efficiency
    return (
        airframe.idle_power_w
        + airframe.hover_power_w * (1.0 + airframe.speed_power_k * v * v)
        + climb
    )
