#!/usr/bin/env python3
"""A seeded corpus of recorded-looking sensor series with labelled injected faults.

Each series is a CSV (`timestamp,value`, unix seconds) plus rows in `labels.csv`
(`series,start,end,kind`, unix seconds) marking the injected faults. The normal behaviour mixes what real
recordings show: daily cycles, flat runs, quantisation, heavy-tailed noise, slow drift, event counts per interval
(a counter's rate), on/off regimes and dropouts. Faults: spike, stuck, level_shift, drift, variance.

Standard library only, so it runs anywhere Python 3 does.
"""
import math
import os
import random

DAY = 86400
START = 1_767_225_600  # 2026-01-01T00:00:00Z


def student_t(rng, df):
    """Heavy-tailed noise with unit scale (Student's t)."""
    z = rng.gauss(0, 1)
    chi = sum(rng.gauss(0, 1) ** 2 for _ in range(df))
    return z / math.sqrt(chi / df)


def quantise(value, step):
    return round(value / step) * step if step else value


class Kind:
    """A family of series: how normal behaviour is made, at which cadence, for how many days."""

    def __init__(self, name, unit, cadence, days, make, step=0.0, lower=None, upper=None):
        self.name, self.unit, self.cadence, self.days = name, unit, cadence, days
        self.make, self.step, self.lower, self.upper = make, step, lower, upper


def daily(t, amplitude, phase=0.0):
    return amplitude * math.sin(2 * math.pi * ((t - START) / DAY - 0.3 + phase))


def make_temperature(rng, n, cadence):
    level, ar, out = rng.uniform(15, 25), 0.0, []
    for i in range(n):
        t = START + i * cadence
        ar = 0.95 * ar + rng.gauss(0, 0.08)
        out.append(level + daily(t, rng.uniform(2.9, 3.1)) + ar)
    return out


def make_cpu(rng, n, cadence):
    base, out = rng.uniform(10, 30), []
    for i in range(n):
        t = START + i * cadence
        out.append(base + daily(t, 8) + 2.0 * student_t(rng, 3))
    return out


def make_humidity(rng, n, cadence):
    """Quantised to 1 %: sits still for long flat runs, then steps by one count."""
    value, out = rng.uniform(40, 60), []
    for i in range(n):
        t = START + i * cadence
        value += rng.gauss(0, 0.05)
        out.append(value + daily(t, 4, 0.5))
    return out


def make_pump(rng, n, cadence):
    """On/off regimes: 0 A while off (a flat run), about 12 A with noise while on, a few cycles a day."""
    out, on, left = [], False, int(rng.uniform(2, 5) * 3600 / cadence)
    current = rng.uniform(10, 14)
    for _ in range(n):
        left -= 1
        if left <= 0:
            on = not on
            left = int(rng.uniform(2, 6) * 3600 / cadence)
        out.append(current + rng.gauss(0, 0.3) if on else 0.0)
    return out


def make_requests(rng, n, cadence):
    """Events counted per interval (a counter's rate): Poisson with a daily cycle, bursty."""
    out = []
    for i in range(n):
        t = START + i * cadence
        rate = max(0.5, 40 + daily(t, 25))
        # Poisson by inversion for small rates, normal approximation above.
        if rate < 30:
            k, p, limit = 0, 1.0, math.exp(-rate)
            while True:
                p *= rng.random()
                if p <= limit:
                    break
                k += 1
        else:
            k = max(0, round(rng.gauss(rate, math.sqrt(rate))))
        out.append(float(k))
    return out


def make_pressure(rng, n, cadence):
    """Weather: a slow random walk (drift over days) plus sensor noise."""
    level, velocity, out = rng.uniform(990, 1030), 0.0, []
    for _ in range(n):
        velocity = 0.999 * velocity + rng.gauss(0, 0.0004 * cadence / 60)
        level += velocity
        out.append(level + rng.gauss(0, 0.05))
    return out


def make_vibration(rng, n, cadence):
    """Fast machine vibration RMS: log-normal noise around a level that moves with the shift pattern."""
    out = []
    for i in range(n):
        t = START + i * cadence
        level = 2.0 + 0.4 * (1 if 0.3 < ((t - START) % DAY) / DAY < 0.75 else 0)
        out.append(level * math.exp(rng.gauss(0, 0.08)))
    return out


def make_soil(rng, n, cadence):
    """Soil moisture every 15 minutes: slow drying, watering jumps every few days."""
    value, out = rng.uniform(30, 40), []
    for _ in range(n):
        value -= 0.02 * cadence / 900
        if value < 20:
            value += rng.uniform(12, 18)
        out.append(value + rng.gauss(0, 0.15))
    return out


KINDS = [
    Kind("greenhouse.temperature", "Cel", 60, 14, make_temperature, step=0.0625),
    Kind("server.cpu", "%", 300, 28, make_cpu, lower=0, upper=100),
    Kind("room.humidity", "%", 60, 14, make_humidity, step=1.0, lower=0, upper=100),
    Kind("pump.current", "A", 10, 7, make_pump, step=0.01, lower=0),
    Kind("web.requests", "1", 30, 14, make_requests),
    Kind("weather.pressure", "hPa", 60, 14, make_pressure, step=0.1),
    Kind("machine.vibration", "mm/s", 1, 2, make_vibration, step=0.001, lower=0),
    Kind("field.soil_moisture", "%", 900, 56, make_soil, step=0.1, lower=0, upper=100),
]
FAULTS = ["spike", "stuck", "level_shift", "drift", "variance"]


def robust_std(values):
    ordered = sorted(values)
    n = len(ordered)
    return max(1e-9, (ordered[int(0.84 * n)] - ordered[int(0.16 * n)]) / 2)


def local_noise(values):
    """Scale of sample-to-sample changes: what a fault must stand out from."""
    diffs = sorted(abs(values[i] - values[i - 1]) for i in range(1, len(values)))
    return max(1e-9, diffs[len(diffs) // 2] * 1.48 / math.sqrt(2))


def inject(rng, kind, values, index, fault):
    """Applies `fault` at `index`; returns the (start, end) sample range it covers, end exclusive."""
    n, cadence = len(values), kind.cadence
    spread = robust_std(values)
    hours = lambda h: max(6, int(h * 3600 / cadence))
    sign = rng.choice([-1, 1])
    if kind.lower is not None and values[index] - kind.lower < 3 * spread:
        sign = 1
    if fault == "spike":
        values[index] += sign * rng.uniform(4, 8) * spread
        return index, index + 1
    if fault == "stuck":
        length = hours(3)
        for i in range(index, min(n, index + length)):
            values[i] = values[index - 1]
        return index, min(n, index + length)
    if fault == "level_shift":
        length, offset = hours(3), sign * rng.uniform(2, 4) * spread
        for i in range(index, min(n, index + length)):
            values[i] += offset
        return index, min(n, index + length)
    if fault == "drift":
        length, total = hours(6), sign * rng.uniform(3, 5) * spread
        for i in range(index, min(n, index + length)):
            values[i] += total * (i - index) / length
        return index, min(n, index + length)
    if fault == "variance":
        length, noise = hours(2), local_noise(values)
        for i in range(index, min(n, index + length)):
            values[i] += rng.gauss(0, 1) * max(6 * noise, 0.5 * spread)
        return index, min(n, index + length)
    raise ValueError(fault)


def generate(folder, seed=1, copies=3):
    os.makedirs(folder, exist_ok=True)
    labels = ["series,start,end,kind"]
    manifest = []
    for copy in range(copies):
        for kind in KINDS:
            rng = random.Random(f"{seed}/{kind.name}/{copy}")
            name = f"{kind.name}.{copy + 1}"
            n = kind.days * DAY // kind.cadence
            values = kind.make(rng, n, kind.cadence)
            # Faults land after two days of learning (a quarter of short recordings), one of each kind, spread out.
            faults, covered = FAULTS[:], set()
            rng.shuffle(faults)
            learning = min(2 * DAY // kind.cadence, n // 4)
            gap = (n - learning) // (len(faults) + 1)
            for number, fault in enumerate(faults):
                at = learning + gap * (number + 1) + rng.randrange(gap // 4)
                start, end = inject(rng, kind, values, at, fault)
                covered.update(range(start - 1, end + 1))
                labels.append(f"{name},{START + start * kind.cadence},{START + (end - 1) * kind.cadence},{fault}")
            # Dropouts: a few silent stretches (no rows), outside fault windows.
            dropped = set()
            for _ in range(2):
                at = rng.randrange(n)
                dropped.update(range(at, min(n, at + max(3, int(1800 / kind.cadence)))))
            dropped -= covered
            with open(os.path.join(folder, name + ".csv"), "w") as out:
                out.write("timestamp,value\n")
                for i, value in enumerate(values):
                    if i in dropped:
                        continue
                    if kind.lower is not None:
                        value = max(kind.lower, value)
                    if kind.upper is not None:
                        value = min(kind.upper, value)
                    out.write(f"{START + i * kind.cadence},{quantise(value, kind.step):.6g}\n")
            manifest.append((name, kind.unit, kind.cadence, kind.days))
    with open(os.path.join(folder, "labels.csv"), "w") as out:
        out.write("\n".join(labels) + "\n")
    return manifest
