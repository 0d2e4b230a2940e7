"""What the vehicle is doing in the air: hold, go to, take off, land, return, orbit.

Each activity turns the vehicle's state into a controller setpoint once per tick. They
know nothing about MAVLink or about which autopilot is being imitated; the personality
picks the activity and its numbers (speeds, altitudes) from its own parameters.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from simulators.mavsim.physics import Body, Limits, Setpoint

if TYPE_CHECKING:
    from simulators.mavsim.vehicle import SimVehicle


class Activity:
    """Base: hold still. ``done`` turns true once the activity's goal is reached."""

    name = "activity"
    done = False
    lifts_off = False  # True: starts a climb from the ground when the vehicle is armed

    def update(self, v: SimVehicle, dt: float) -> Setpoint:
        raise NotImplementedError


def brake_point(body: Body, limits: Limits) -> tuple[float, float]:
    """Where the vehicle comes to rest if it brakes now at the controller's deceleration."""
    speed = body.ground_speed
    if speed < 0.05:
        return body.n, body.e
    stop = speed * speed / (2.0 * limits.accel_xy)
    return body.n + body.vn / speed * stop, body.e + body.ve / speed * stop


class Goto(Activity):
    """Fly to a point at up to ``speed`` and hold there (Hold is a Goto to where we stop)."""

    name = "goto"

    def __init__(
        self,
        n: float,
        e: float,
        u: float,
        speed: float | None = None,
        *,
        radius: float = 1.0,
        heading: float | None = None,
    ) -> None:
        self.n, self.e, self.u = n, e, u
        self.speed = speed
        self.radius = radius
        self.heading = heading
        self.done = False

    def update(self, v: SimVehicle, dt: float) -> Setpoint:
        b = v.body
        if not self.done and (
            math.hypot(self.n - b.n, self.e - b.e) <= self.radius and abs(self.u - b.u) <= 1.0
        ):
            self.done = True
        return Setpoint(self.n, self.e, self.u, speed_xy=self.speed, heading=self.heading)


class Hold(Goto):
    name = "hold"

    @classmethod
    def here(cls, v: SimVehicle) -> Hold:
        n, e = brake_point(v.body, v.limits)
        return cls(n, e, max(v.body.u, 0.0))


class Takeoff(Activity):
    """Climb vertically over the take-off point to ``u`` (metres above home ground)."""

    name = "takeoff"
    lifts_off = True

    def __init__(self, n: float, e: float, u: float, climb_speed: float) -> None:
        self.n, self.e, self.u = n, e, u
        self.climb_speed = climb_speed
        self.done = False

    def update(self, v: SimVehicle, dt: float) -> Setpoint:
        if v.body.u >= self.u - 0.3:
            self.done = True
        return Setpoint(self.n, self.e, self.u, speed_up=self.climb_speed)


class Land(Activity):
    """Descend over (n, e) with the personality's landing speed profile until touchdown."""

    name = "land"

    def __init__(self, n: float, e: float) -> None:
        self.n, self.e = n, e
        self.done = False

    def update(self, v: SimVehicle, dt: float) -> Setpoint:
        return Setpoint(self.n, self.e, None, vu=-v.land_speed(v.body.u))


class Velocity(Activity):
    """Fly a velocity vector until ``until`` (sim time), then brake and hold."""

    name = "velocity"

    def __init__(self, vn: float, ve: float, vu: float, until: float) -> None:
        self.vn, self.ve, self.vu = vn, ve, vu
        self.until = until
        self._hold: Hold | None = None

    def update(self, v: SimVehicle, dt: float) -> Setpoint:
        if v.now < self.until:
            return Setpoint(None, None, None, vn=self.vn, ve=self.ve, vu=self.vu)
        if self._hold is None:
            self._hold = Hold.here(v)
        return self._hold.update(v, dt)


class Orbit(Activity):
    """Circle (cn, ce) at ``radius``; positive ``speed`` is clockwise seen from above.

    ``turns`` None orbits forever; otherwise ``done`` after that many turns.
    """

    name = "orbit"

    def __init__(
        self,
        cn: float,
        ce: float,
        radius: float,
        speed: float,
        u: float,
        turns: float | None = None,
    ) -> None:
        self.cn, self.ce = cn, ce
        self.radius = max(1.0, radius)
        self.speed = speed
        self.u = u
        self.turns = turns
        self._swept = 0.0
        self._last_bearing: float | None = None
        self.done = False

    def update(self, v: SimVehicle, dt: float) -> Setpoint:
        b = v.body
        dn, de = b.n - self.cn, b.e - self.ce
        r = math.hypot(dn, de)
        if r < 0.1:
            dn, de, r = self.radius, 0.0, self.radius  # at the centre: head out north
            un, ue = 1.0, 0.0
        else:
            un, ue = dn / r, de / r
        err = r - self.radius
        if abs(err) > 0.5 * self.radius + 5.0:
            # Far from the circle: fly to its nearest point first.
            return Setpoint(self.cn + un * self.radius, self.ce + ue * self.radius, self.u)
        direction = 1.0 if self.speed >= 0 else -1.0
        # No faster than the controller's acceleration can turn on this radius.
        speed = min(abs(self.speed), math.sqrt(v.limits.accel_xy * self.radius))
        tn, te = -ue * direction, un * direction
        radial = -max(-speed, min(speed, 0.8 * err))
        vn = tn * speed + un * radial
        ve = te * speed + ue * radial
        self._count_turns(math.atan2(de, dn))
        heading = math.degrees(math.atan2(-de, -dn)) % 360.0  # nose to the centre
        sp = Setpoint(None, None, self.u, vn=vn, ve=ve, heading=heading)
        return sp

    def _count_turns(self, bearing: float) -> None:
        if self._last_bearing is not None:
            step = (bearing - self._last_bearing + math.pi) % (2 * math.pi) - math.pi
            self._swept += abs(step)
        self._last_bearing = bearing
        if self.turns is not None and self._swept >= self.turns * 2 * math.pi:
            self.done = True


class Return(Activity):
    """Return to a point: climb to ``return_u`` if lower, fly there, wait, then land.

    The vehicle changes to ``landing`` (and its Land activity) when the phases finish;
    ``phase`` is one of climb, cruise, loiter, land.
    """

    name = "return"

    def __init__(
        self,
        v: SimVehicle,
        n: float,
        e: float,
        return_u: float,
        speed: float,
        loiter_s: float,
        descend_u: float | None = None,
    ) -> None:
        self.n, self.e = n, e
        self.return_u = max(return_u, v.body.u)
        self.speed = speed
        self.loiter_s = loiter_s
        self.descend_u = descend_u
        bn, be = brake_point(v.body, v.limits)
        self._start = (bn, be)
        self.phase = "climb" if v.body.u < return_u - 0.5 else "cruise"
        self._loiter_until: float | None = None
        self._land: Land | None = None
        self.done = False

    def update(self, v: SimVehicle, dt: float) -> Setpoint:
        b = v.body
        if self.phase == "climb":
            if b.u >= self.return_u - 0.5:
                self.phase = "cruise"
            else:
                return Setpoint(self._start[0], self._start[1], self.return_u)
        if self.phase == "cruise":
            if math.hypot(self.n - b.n, self.e - b.e) < 1.0 and b.ground_speed < 0.5:
                self.phase = "loiter"
                self._loiter_until = v.now + self.loiter_s
            else:
                return Setpoint(self.n, self.e, self.return_u, speed_xy=self.speed)
        if self.phase == "loiter":
            target_u = (
                self.return_u if self.descend_u is None else min(self.return_u, self.descend_u)
            )
            if v.now >= (self._loiter_until or 0.0) and abs(b.u - target_u) < 0.5:
                self.phase = "land"
                self._land = Land(self.n, self.e)
            else:
                return Setpoint(self.n, self.e, target_u)
        assert self._land is not None
        return self._land.update(v, dt)

    @property
    def landing(self) -> bool:
        return self.phase == "land"


class Wait(Activity):
    """Hold where the vehicle is for ``seconds`` of sim time, then done."""

    name = "wait"

    def __init__(self, v: SimVehicle, seconds: float) -> None:
        self._hold = Hold.here(v)
        self.until = v.now + seconds
        self.done = False

    def update(self, v: SimVehicle, dt: float) -> Setpoint:
        if v.now >= self.until:
            self.done = True
        return self._hold.update(v, dt)
