#!/usr/bin/env python3
"""A seeded multi-sensor corpus: simulated centrifugal pumps whose faults break the relations between their sensors.

Each unit is one multi-column CSV (`timestamp,speed,current,flow,inlet_pressure,outlet_pressure,vibration_x,
vibration_y,fluid_temperature`, unix seconds, a row every 10 s) plus rows in `labels.csv` (`series,start,end,kind`, the series being the group,
unix seconds, `end` inclusive) marking the injected faults.

The members are driven by shared hidden states through the physics of a variable-speed pump, with sensor noise
(heavy-tailed for the pressures: pulsations), so each reading alone wanders over a wide range while the relations
between them are tight:

- hidden states: running or not (a few starts a day, 20-second ramps), the drive's speed (a daily demand pattern
  plus a slow random walk, 65 to 100 % of rated), the supply tank's level (inlet pressure), the fluid's temperature
  (the day's ambient plus the pump's warming), and a slow wear of the impeller (1 % of head over the recording);
- the pump curve H = H0·n² − a·Q² (affinity laws) meets the system curve H = Hs + k·Q²; the motor current follows the
  shaft power ρ·g·Q·H / η with the efficiency falling away from the best-efficiency point; vibration grows with n².

Faults keep every member inside the range it shows in normal operation (the generator checks, and weakens a fault
until they do), but break relations:

- `stuck_valve`: the discharge valve sticks part-closed (the system curve steepens): less flow and more pressure
  for the same speed, less current;
- `leak`: a leak between the pump and the flow meter: the pump moves more (more current, less head) while the
  meter reads less;
- `drifting_sensor`: one of flow, outlet pressure or current drifts away from the truth over hours;
- `cavitation`: the suction pressure sags, the head drops and fluctuates, vibration rises and turns rough.

Standard library only, so it runs anywhere Python 3 does.
"""
import math
import os
import random

DAY = 86400
START = 1_767_225_600  # 2026-01-01T00:00:00Z
CADENCE = 10
MEMBERS = ["speed", "current", "flow", "inlet_pressure", "outlet_pressure", "vibration_x", "vibration_y",
           "fluid_temperature"]
UNITS = {"speed": "1/min", "current": "A", "flow": "m3/h", "inlet_pressure": "bar", "outlet_pressure": "bar",
         "vibration_x": "mm/s", "vibration_y": "mm/s", "fluid_temperature": "Cel"}
FAULTS = ["stuck_valve", "leak", "drifting_sensor", "cavitation"]
RHO_G = 1000 * 9.81
BAR_PER_METRE = 0.0981


def student_t(rng, df):
    z = rng.gauss(0, 1)
    chi = sum(rng.gauss(0, 1) ** 2 for _ in range(df))
    return z / math.sqrt(chi / df)


class Pump:
    """One unit's constants, drawn per unit so no two pumps are alike."""

    def __init__(self, rng):
        self.rated_rpm = rng.choice([1450, 1480, 2900 / 2])
        self.h0 = rng.uniform(46, 54)          # shut-off head at rated speed, m
        self.a = rng.uniform(0.0036, 0.0044)   # pump curve, m / (m3/h)^2
        self.hs = rng.uniform(10, 14)          # static head of the system, m
        self.k = rng.uniform(0.0050, 0.0060)   # system curve, m / (m3/h)^2
        self.q_bep = rng.uniform(50, 60)       # best-efficiency flow at rated speed, m3/h
        self.supply = rng.uniform(1.0, 1.3)    # supply pressure at the inlet, bar
        self.vibration = (rng.uniform(0.6, 1.0), rng.uniform(1.8, 2.6), rng.uniform(0.5, 0.8), rng.uniform(1.3, 1.9))
        self.ambient = rng.uniform(12, 20)


def operating_point(pump, n, wear, k_factor=1.0, leak=0.0):
    """Head (m), pump flow and metered flow (m3/h) at speed fraction n. `leak`: orifice coefficient of a leak
    between the pump and the flow meter (m3/h per sqrt(m))."""
    h0 = pump.h0 * n * n * (1 - wear)
    k = pump.k * k_factor

    def excess(head):
        system = math.sqrt(max(0.0, head - pump.hs) / k) + leak * math.sqrt(max(0.0, head))
        pump_flow = math.sqrt(max(0.0, h0 - head) / pump.a)
        return pump_flow - system

    if h0 <= pump.hs:
        return h0, 0.0, 0.0  # below the static head: the pump churns against a closed check valve
    if leak == 0:
        flow = math.sqrt((h0 - pump.hs) / (pump.a + k))
        return pump.hs + k * flow * flow, flow, flow
    low, high = pump.hs, h0
    for _ in range(60):
        middle = (low + high) / 2
        if excess(middle) > 0:
            low = middle
        else:
            high = middle
    head = (low + high) / 2
    pump_flow = math.sqrt(max(0.0, h0 - head) / pump.a)
    metered = max(0.0, pump_flow - leak * math.sqrt(max(0.0, head)))
    return head, pump_flow, metered


def current_for(pump, n, head, flow):
    if n <= 0:
        return 0.0
    ratio = flow / max(1e-9, pump.q_bep * n)
    efficiency = max(0.2, 0.78 - 0.6 * (ratio - 1) ** 2)
    shaft = RHO_G * (flow / 3600) * head / efficiency + 250 * n ** 3  # hydraulic power and friction, W
    return shaft / (math.sqrt(3) * 400 * 0.86 * 0.9) + 2.6 * n


def hidden_states(rng, pump, count, forced):
    """Running, speed fraction and supply pressure per row, before faults; the pump runs through `forced` rows."""
    running, speed, supply = [], [], []
    on = False
    left = int(rng.uniform(0.5, 3) * 3600 / CADENCE)
    walk, level, actual = 0.0, 0.0, 0.0
    for i in range(count):
        t = START + i * CADENCE
        left -= 1
        if left <= 0:
            on = not on
            left = int((rng.uniform(1.5, 6) if on else rng.uniform(0.3, 2.5)) * 3600 / CADENCE)
        walk = 0.999 * walk + rng.gauss(0, 0.004)
        phase = ((t - START) % DAY) / DAY
        demand = 0.82 + 0.09 * math.sin(2 * math.pi * (phase - 0.3)) + 0.05 * math.sin(4 * math.pi * phase) + walk
        runs = on or i in forced
        target = min(1.0, max(0.65, demand)) if runs else 0.0
        # The drive ramps 20 s from standstill to the set speed, and back.
        step = 0.5 * CADENCE / 10
        actual = target if abs(target - actual) <= step else actual + math.copysign(step, target - actual)
        running.append(runs)
        speed.append(actual)
        level = 0.9995 * level + rng.gauss(0, 0.002)
        supply.append(pump.supply + 0.1 * math.sin(2 * math.pi * (phase - 0.1)) + level)
    return running, speed, supply


def readings(rng, pump, speed, supply, wear, temperature_state, fault=None, progress=0.0, severity=1.0):
    """One row of readings (without noise on the hidden states), given the hidden states and an active fault."""
    n = speed
    k_factor, leak, head_loss, suction = 1.0, 0.0, 0.0, 0.0
    rough = 0.0
    if fault == "stuck_valve":
        k_factor = 1 + 0.6 * severity
    elif fault == "leak":
        leak = 2.2 * severity
    elif fault == "cavitation":
        suction = 0.22 * severity
        head_loss = (0.05 + 0.04 * rng.random()) * severity
        rough = 1.0 * severity
    head, pump_flow, metered = operating_point(pump, n, wear + head_loss, k_factor, leak) if n > 0 else (0.0, 0.0, 0.0)
    current = current_for(pump, n, head, pump_flow)
    inlet = supply - suction - 0.00004 * pump_flow ** 2
    outlet = inlet + head * BAR_PER_METRE
    v = pump.vibration
    vib_x = 0.15 + (v[0] * n + v[1] * n * n if n > 0 else 0) + rough * (0.6 + 0.5 * abs(rng.gauss(0, 1)))
    vib_y = 0.12 + (v[2] * n + v[3] * n * n if n > 0 else 0) + rough * (0.5 + 0.4 * abs(rng.gauss(0, 1)))
    return {"speed": n * pump.rated_rpm, "current": current, "flow": metered, "inlet_pressure": inlet,
            "outlet_pressure": outlet, "vibration_x": vib_x, "vibration_y": vib_y,
            "fluid_temperature": temperature_state}


def noisy(rng, row, drift):
    out = dict(row)
    out["speed"] += rng.gauss(0, 2) if row["speed"] > 0 else 0
    out["current"] = max(0.0, out["current"] + rng.gauss(0, 0.06))
    out["flow"] = max(0.0, out["flow"] + rng.gauss(0, 0.35) * (1 if row["flow"] > 0 else 0.2))
    out["inlet_pressure"] += 0.006 * student_t(rng, 5)
    out["outlet_pressure"] += 0.012 * student_t(rng, 5)
    out["vibration_x"] *= math.exp(rng.gauss(0, 0.04))
    out["vibration_y"] *= math.exp(rng.gauss(0, 0.04))
    out["fluid_temperature"] += rng.gauss(0, 0.03)
    for member, offset in drift.items():
        out[member] += offset
    return out


def normal_ranges(rows):
    """Each member's range in normal operation: what a fault must stay inside."""
    ranges = {}
    for member in MEMBERS:
        values = sorted(row[member] for row in rows)
        ranges[member] = (values[0], values[-1])
    return ranges


def generate(folder, seed=1, units=6, days=14):
    """Writes `pump-<n>.csv` for each unit and `labels.csv`; returns [(group, path, days)]."""
    os.makedirs(folder, exist_ok=True)
    labels = ["series,start,end,kind"]
    manifest = []
    count = days * DAY // CADENCE
    for unit in range(units):
        rng = random.Random(f"{seed}/pump/{unit}")
        pump = Pump(rng)
        # Faults: two of each kind after two days of learning, spread over the rest, each while the pump runs.
        kinds = FAULTS * 2
        rng.shuffle(kinds)
        learning = 2 * DAY // CADENCE
        gap = (count - learning) // (len(kinds) + 1)
        windows, forced = [], set()
        for number, kind in enumerate(kinds):
            hours = {"stuck_valve": rng.uniform(1, 3), "leak": rng.uniform(2, 4), "drifting_sensor": rng.uniform(6, 9),
                     "cavitation": rng.uniform(0.5, 2)}[kind]
            length = int(hours * 3600 / CADENCE)
            at = learning + gap * (number + 1) + rng.randrange(max(1, gap // 4))
            at = min(at, count - length - 1)
            windows.append((at, at + length, kind, rng.choice(["flow", "outlet_pressure", "current"]),
                            rng.choice([-1, 1])))
            # The pump runs through the fault (and a few minutes either side), at whatever speed demand asks.
            forced.update(range(max(0, at - 30), min(count, at + length + 30)))
        running, speed, supply = hidden_states(rng, pump, count, forced)
        rows = simulate(rng, pump, running, speed, supply, windows, count, severity=None)
        manifest.append((f"pump-{unit + 1}", os.path.join(folder, f"pump-{unit + 1}.csv"), days))
        with open(manifest[-1][1], "w") as out:
            out.write("timestamp," + ",".join(MEMBERS) + "\n")
            for i, row in enumerate(rows):
                out.write(f"{START + i * CADENCE}," + ",".join(f"{row[m]:.4g}" for m in MEMBERS) + "\n")
        for start, end, kind, _member, _sign in windows:
            labels.append(f"pump-{unit + 1},{START + start * CADENCE},{START + (end - 1) * CADENCE},{kind}")
    with open(os.path.join(folder, "labels.csv"), "w") as out:
        out.write("\n".join(labels) + "\n")
    return manifest


def simulate(rng, pump, running, speed, supply, windows, count, severity):
    """Rows of noisy readings; each fault is weakened until every member stays inside its normal range."""
    temperature = pump.ambient
    clean, faults = [], {}
    for start, end, kind, member, sign in windows:
        for i in range(start, end):
            faults[i] = (kind, member, sign, (i - start) / max(1, end - start - 1), start)
    states = []
    for i in range(count):
        phase = (i * CADENCE % DAY) / DAY
        ambient = pump.ambient + 3 * math.sin(2 * math.pi * (phase - 0.35))
        target = ambient + (2.0 * speed[i] ** 2 if running[i] else 0)
        temperature += (target - temperature) * CADENCE / 7200
        states.append(temperature)
    wear = [0.01 * i / count for i in range(count)]
    normal = [noisy(rng, readings(rng, pump, speed[i], supply[i], wear[i], states[i]), {}) for i in range(count)]
    ranges = normal_ranges([normal[i] for i in range(count) if i not in faults and running[i]])
    rows = list(normal)
    for start, end, kind, member, sign in windows:
        if kind == "drifting_sensor":
            # Away from the nearer end of the member's range, so the drift stays inside it.
            middle = sum(ranges[member]) / 2
            sign = -1 if sum(normal[i][member] for i in range(start, end)) / (end - start) > middle else 1
        for strength in (1.0, 0.8, 0.65, 0.5, 0.4, 0.3):
            trial = []
            for i in range(start, end):
                progress = (i - start) / max(1, end - start - 1)
                fault = None if kind == "drifting_sensor" else kind
                row = readings(rng, pump, speed[i], supply[i], wear[i], states[i], fault=fault, severity=strength)
                drift = {}
                if kind == "drifting_sensor":
                    spread = ranges[member][1] - ranges[member][0]
                    drift[member] = sign * strength * 0.2 * spread * progress
                trial.append(noisy(rng, row, drift))
            inside = all(ranges[m][0] <= row[m] <= ranges[m][1] for row in trial for m in MEMBERS if m != "speed")
            if inside or strength == 0.3:
                rows[start:end] = trial
                break
    return rows


if __name__ == "__main__":
    import sys
    folder = sys.argv[1] if len(sys.argv) > 1 else "/tmp/machines"
    for group, path, days in generate(folder):
        print(group, path, days)
