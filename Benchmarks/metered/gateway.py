#!/usr/bin/env python3
"""Bytes on the wire for a realistic metered gateway: one `outpost run` per configuration, all side by side in one
run, on the same recorded days, each to a receiver of its own that counts every HTTP byte (Benchmarks/metered/
receiver.py).

The gateway, at one sample a minute per series (Outpost's replay input, the recorded timestamps kept):
  - 28 DS18B20 probes (greenhouse soil and air): a daily cycle, slow weather, sensor noise, read in 0.0625 °C steps;
  - 18 humidity sensors in whole percent;
  - one energy meter: energy (kWh, 0.01), power (W, whole), voltage (V, 0.1), frequency (Hz, 0.01);
  - host health: CPU utilization and load, memory, file system, SoC temperature, Wi-Fi signal, uptime (13 series);
  - faults to alert on: each day one probe spikes (a door left open) and one humidity sensor drops (a vent).
The days are replayed `--speed` times faster than recorded; every real-time setting is scaled by the same factor
(`[batch] max_age`), so batches hold what they would hold live. Self-metrics are off (their interval is real time).

usage: Benchmarks/metered/gateway.py --outpost BINARY [--days 2] [--speed 1440] [--keep DIR]
"""
import argparse
import json
import math
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
MINUTE = 60

def series_list():
    listed = []
    for index in range(28):
        listed.append(dict(name="greenhouse.%s.temperature" % ("soil" if index % 2 else "air"), unit="Cel",
                           sensor="28-%04x" % (0x100 + index), location="bed-%d" % (index // 2), kind="ds18b20"))
    for index in range(18):
        listed.append(dict(name="greenhouse.air.humidity", unit="%", sensor="sht-%d" % index,
                           location="bed-%d" % index, kind="humidity"))
    for name, unit, kind in [("meter.energy", "kW.h", "energy"), ("meter.power", "W", "power"),
                             ("meter.voltage", "V", "voltage"), ("meter.frequency", "Hz", "frequency")]:
        listed.append(dict(name=name, unit=unit, sensor="em-1", location="barn", kind=kind))
    for name, unit, kind in [("system.cpu.utilization", "1", "cpu"), ("system.cpu.load_average.1m", "{thread}", "load"),
                             ("system.cpu.load_average.5m", "{thread}", "load5"),
                             ("system.cpu.load_average.15m", "{thread}", "load15"),
                             ("system.memory.usage", "By", "memory"), ("system.memory.utilization", "1", "memutil"),
                             ("system.linux.memory.available", "By", "available"),
                             ("system.filesystem.usage", "By", "fs"), ("system.filesystem.utilization", "1", "fsutil"),
                             ("hw.temperature", "Cel", "soc"), ("outpost.wifi.signal", "dBm", "wifi"),
                             ("system.uptime", "s", "uptime"), ("system.network.io", "By", "network")]:
        listed.append(dict(name=name, unit=unit, sensor=None, location=None, kind=kind, device="pi4-greenhouse"))
    return listed


def generate(directory, days, seed):
    """One CSV per series, `days` days at one row a minute, ending at the last whole day before now."""
    random.seed(seed)
    os.makedirs(directory, exist_ok=True)
    end = (int(time.time()) // 86400) * 86400
    start = end - days * 86400
    listed = series_list()
    for index, series in enumerate(listed):
        path = os.path.join(directory, "s%02d.csv" % index)
        rows = []
        ar = 0.0
        weather = 0.0
        energy = 12345.0
        memory = 310e6
        for minute in range(days * 1440):
            t = start + minute * MINUTE
            day_phase = 2 * math.pi * ((t % 86400) / 86400 - 0.3)
            weather += random.gauss(0, 0.01) - weather * 0.002
            ar = 0.9 * ar + random.gauss(0, 0.02)
            kind = series["kind"]
            if kind == "ds18b20":
                value = 14 + index % 7 + 5 * math.sin(day_phase) + weather * 3 + ar
                if index < 2 and 600 + index * 30 <= minute % 1440 < 620 + index * 30:  # a door open 20 minutes
                    value -= 6
                value = round(value / 0.0625) * 0.0625
            elif kind == "humidity":
                value = 70 - 15 * math.sin(day_phase) + weather * 5 + ar * 10
                if index == 30 and 900 <= minute % 1440 < 930:  # a vent stuck open for half an hour
                    value -= 25
                value = float(round(value))
            elif kind == "energy":
                energy += max(0.0, 0.02 + 0.015 * math.sin(day_phase) + random.gauss(0, 0.003))
                value = round(energy, 2)
            elif kind == "power":
                value = float(round(1200 + 900 * math.sin(day_phase) + random.gauss(0, 40)))
            elif kind == "voltage":
                value = round(230 + 2 * math.sin(day_phase * 3) + random.gauss(0, 0.3), 1)
            elif kind == "frequency":
                value = round(50 + random.gauss(0, 0.015), 2)
            elif kind == "cpu":
                value = round(max(0.0, 0.04 + random.expovariate(40)), 4)
            elif kind.startswith("load"):
                value = round(0.05 + abs(ar) * 2, 2)
            elif kind == "memory":
                memory += random.gauss(0, 20e3)
                value = float(int(memory) // 4096 * 4096)
            elif kind == "memutil":
                value = round(memory / 3.8e9, 4)
            elif kind == "available":
                value = float(int(3.8e9 - memory) // 4096 * 4096)
            elif kind == "fs":
                value = float(8.1e9 + minute * 4096)
            elif kind == "fsutil":
                value = round((8.1e9 + minute * 4096) / 31e9, 4)
            elif kind == "soc":
                value = round(48 + 4 * math.sin(day_phase) + random.gauss(0, 0.4), 3)
            elif kind == "wifi":
                value = float(-61 + round(random.gauss(0, 1.2)))
            elif kind == "uptime":
                value = float(86400 * 40 + minute * 60)
            else:  # network bytes, as a gauge of the running total
                value = float(3_000_000_000 + minute * 45_000 + random.randint(0, 9000))
            rows.append("%d,%s" % (t, repr(value)))
        with open(path, "w") as handle:
            handle.write("timestamp,value\n" + "\n".join(rows) + "\n")
        series["path"] = path
    return listed, days * 1440 * len(listed)


def inputs(listed, speed):
    text = []
    for series in listed:
        text.append("[[input.replay]]")
        text.append('path = "%s"' % series["path"])
        text.append('name = "%s"' % series["name"])
        text.append('unit = "%s"' % series["unit"])
        if series.get("sensor"):
            text.append('sensor_id = "%s"' % series["sensor"])
        if series.get("location"):
            text.append('location = "%s"' % series["location"])
        if series.get("device"):
            text.append('device = "%s"' % series["device"])
        text.append("speed = %d" % speed)
        text.append("")
    return "\n".join(text)


# What an operator would set: a DS18B20 flickers by one 0.0625 °C step, so 0.1 (the example) sends two; a
# humidity sensor in whole % flickers by one; the meter and host health move by a share of their value.
REPORT = """
[report]
on_change = true
deadband = "5%"
max_silence = "15m"

[[report.override]]
series = "greenhouse.*.temperature"
deadband = 0.1

[[report.override]]
series = "greenhouse.air.humidity"
deadband = 2

[[report.override]]
series = "meter.*"
deadband = "1%"
"""

# The same, with an hourly heartbeat: what a gateway whose dashboards can wait an hour for a flat series sends.
REPORT_HOURLY = REPORT.replace('max_silence = "15m"', 'max_silence = "1h"')

VARIANTS = [
    # name, [batch] extra, [report], uplink extra
    ("nothing (gzip 6)", "", "", ""),
    ("report-on-change", "", REPORT, ""),
    ("aggregation 15m", "", "", 'aggregate = "15m"'),
    ("zstd 3", 'compression = "zstd"', "", ""),
    ("zstd 19", 'compression = "zstd"\nzstd_level = 19', "", ""),
    ("report-on-change + zstd 19", 'compression = "zstd"\nzstd_level = 19', REPORT, ""),
    ("all: report-on-change, aggregation 15m, zstd 19", 'compression = "zstd"\nzstd_level = 19', REPORT,
     'aggregate = "15m"'),
    ("report-on-change (hourly heartbeat) + zstd 19", 'compression = "zstd"\nzstd_level = 19', REPORT_HOURLY, ""),
]


def config(variant, state, port, max_age_real, listed, speed):
    name, batch, report, uplink = variant
    return """
[gateway]
id = "greenhouse-01"
state_dir = "%s"

[status]
path = "%s/status.json"
interval = "500ms"
self_metrics_interval = "0s"

[log]
readings_interval = "0s"

[alerts]
stdout = false

[batch]
max_age = "%dms"
%s
%s
[[uplink.otlp_http]]
name = "lte"
endpoint = "http://127.0.0.1:%d"
drain_rate = 1000
%s

%s
""" % (state, state, max_age_real, batch, report, port, uplink, inputs(listed, speed))


def read_json(url):
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)


def proc_figures(pid):
    with open("/proc/%d/stat" % pid) as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    hwm = 0
    with open("/proc/%d/status" % pid) as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                hwm = int(line.split()[1]) * 1024
    return cpu, hwm


def run(outpost, days, speed, batch_age_seconds, workdir, label, only=None):
    listed, total = generate(os.path.join(workdir, "data"), days, seed=21)
    max_age_real = max(1, int(batch_age_seconds * 1000 / speed))
    runs = []
    for index, variant in enumerate(VARIANTS):
        if only and not any(word in variant[0] for word in only):
            continue
        state = os.path.join(workdir, "%s-%d" % (label, index))
        os.makedirs(state, exist_ok=True)
        receiver = subprocess.Popen([sys.executable, os.path.join(HERE, "receiver.py"), "0"], stdout=subprocess.PIPE)
        port = int(receiver.stdout.readline())
        path = os.path.join(state, "outpost.toml")
        with open(path, "w") as handle:
            handle.write(config(variant, state, port, max_age_real, listed, speed))
        log = open(os.path.join(state, "outpost.log"), "w")
        process = subprocess.Popen([outpost, "run", "--config", path], stdout=subprocess.DEVNULL, stderr=log)
        runs.append(dict(variant=variant[0], state=state, port=port, receiver=receiver, process=process))
    # Every sample replayed; then the last batches close (one max_age) and go.
    deadline = time.time() + days * 86400 / speed * 3 + 120
    for entry in runs:
        while time.time() < deadline:
            try:
                with open(os.path.join(entry["state"], "status.json")) as handle:
                    status = json.load(handle)
                if status["samples_ingested"] >= total:
                    break
            except (OSError, ValueError, KeyError):
                pass
            time.sleep(0.5)
    time.sleep(max_age_real / 1000 * 2 + 3)
    results = []
    for entry in runs:
        with open(os.path.join(entry["state"], "status.json")) as handle:
            status = json.load(handle)
        cpu, hwm = proc_figures(entry["process"].pid)
        count = read_json("http://127.0.0.1:%d/count" % entry["port"])
        entry["process"].send_signal(signal.SIGTERM)
        entry["process"].wait(timeout=60)
        entry["receiver"].kill()
        uplink = status["uplinks"][0]
        wire = count["in"] + count["out"]
        per_day = wire / days
        logs = count["bytes"].get("/v1/logs", 0)
        results.append(dict(variant=entry["variant"], samples=status["samples_ingested"], alerts=status["alerts"],
                            logs_per_sample=logs / status["samples_ingested"],
                            requests=sum(count["requests"].values()), wire=wire, counted=uplink["wire_bytes"],
                            per_sample=wire / status["samples_ingested"], per_day=per_day,
                            per_month=per_day * 30.44 / 1e6, cpu=cpu, rss=hwm,
                            waiting=sum(lane["batches"] for lane in status["spool"]["lanes"].values())))
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--outpost", required=True)
    parser.add_argument("--days", type=int, default=2)
    parser.add_argument("--speed", type=int, default=1440)
    parser.add_argument("--batch-age", type=int, nargs="+", default=[30, 900, 3600],
                        help="[batch] max_age in recorded seconds (one table each)")
    parser.add_argument("--keep", help="keep the data, configs and logs in this folder")
    parser.add_argument("--only", nargs="+", help="run only the configurations whose name contains one of these")
    arguments = parser.parse_args()
    workdir = arguments.keep or tempfile.mkdtemp(prefix="outpost-metered-")
    os.makedirs(workdir, exist_ok=True)
    try:
        for age in arguments.batch_age:
            results = run(arguments.outpost, arguments.days, arguments.speed, age, workdir, "age%d" % age,
                          arguments.only)
            print("\n[batch] max_age = %d s (recorded time), %d days of %d samples replayed %dx, side by side:\n"
                  % (age, arguments.days, results[0]["samples"] // arguments.days, arguments.speed))
            print("| configuration | wire B/sample | of it events and alerts | MB/month | of a 100 MB plan | "
                  "requests/day | alerts | CPU s | RSS MiB | counted by Outpost / receiver |")
            print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
            for result in results:
                print("| %s | %.2f | %.2f | %.2f | %.1f %% | %d | %d | %.1f | %.1f | %.4f |" % (
                    result["variant"], result["per_sample"], result["logs_per_sample"], result["per_month"],
                    result["per_month"], result["requests"] / arguments.days, result["alerts"], result["cpu"],
                    result["rss"] / 2**20, result["counted"] / max(1, result["wire"])))
            sys.stdout.flush()
    finally:
        if not arguments.keep:
            shutil.rmtree(workdir, ignore_errors=True)


main()
