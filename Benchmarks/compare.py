#!/usr/bin/env python3
"""Outpost beside collectd on the same work, at the same time, on one machine; prints both and the ratios.

The work: N sensor files read once a second (Outpost `[[input.file]]`, collectd `table`), host health every 10 s
(Outpost `[input.host]`, collectd cpu/memory/load/interface/df/uptime/thermal), every value published over MQTT QoS 1
to a mosquitto broker of its own on loopback. Detection is on in Outpost (its defaults); after the warm-up one sensor
at a time gets a 60-sigma spike, so Outpost has alerts to publish. Both agents are measured over the same window
from /proc/<pid>/{stat,status,io}; bytes on the wire are what each broker counted as received ($SYS). Outpost's
wire bytes are counted between two metrics batches' arrivals (each batch holds max_age of samples): a fixed window
would hold three or four 30 s batches by chance, and read a third more or less.

Ratios are what count: the machine is shared and noisy, but both agents see the same noise.
"""
import argparse
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    """A mosquitto of its own, with $SYS every second, and a subscriber logging every message's arrival."""

    def __init__(self, folder, name):
        self.port = free_port()
        conf = os.path.join(folder, f"{name}-mosquitto.conf")
        with open(conf, "w") as f:
            f.write(f"listener {self.port} 127.0.0.1\nallow_anonymous true\nsys_interval 1\npersistence false\n")
        self.process = subprocess.Popen(["mosquitto", "-c", conf], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        wait_for_port(self.port)
        self.messages = []  # (arrival, topic, length, payload text or None)
        self.bytes_received = 0
        self.bytes_history = []  # (arrival, bytes received so far), once a second
        self.first_message_at = None
        self.subscriber = subprocess.Popen(
            ["mosquitto_sub", "-p", str(self.port), "-q", "1", "-t", "#", "-t", "$SYS/broker/bytes/received",
             "-F", "%U\t%t\t%l\t%x"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        threading.Thread(target=self._read, daemon=True).start()
        while self.bytes_received == 0:  # the subscriber is connected once $SYS reaches it
            time.sleep(0.05)

    def _read(self):
        for raw in self.subscriber.stdout:
            parts = raw.split(b"\t", 3)
            if len(parts) < 4:
                continue
            arrival, topic, length = float(parts[0]), parts[1].decode(errors="replace"), int(parts[2])
            payload = bytes.fromhex(parts[3].strip().decode()) if length < 4096 else b""
            if topic == "$SYS/broker/bytes/received":
                self.bytes_received = int(payload or 0)
                self.bytes_history.append((arrival, self.bytes_received))
                continue
            if self.first_message_at is None:
                self.first_message_at = arrival
            text = payload.rstrip(b"\x00").decode(errors="replace") if length < 4096 else None
            self.messages.append((arrival, topic, length, text))

    def stop(self):
        for p in (self.subscriber, self.process):
            p.terminate()
            p.wait()


def wait_for_port(port, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise SystemExit(f"nothing listens on 127.0.0.1:{port}")


class SensorFiles:
    """N files rewritten every second, like a sysfs value; after `spikes_after` s one sensor at a time spikes."""

    def __init__(self, folder, count, spikes_after):
        self.paths = [os.path.join(folder, f"s{i}") for i in range(count)]
        self.spikes_after = spikes_after
        self.stopped = threading.Event()
        self.random = random.Random(7)
        self._write(0)
        threading.Thread(target=self._run, daemon=True).start()

    def _write(self, tick):
        spiked = (tick // 3) % len(self.paths) if tick >= self.spikes_after and tick % 3 == 0 else -1
        for i, path in enumerate(self.paths):
            value = 20.0 + i % 10 + self.random.gauss(0, 0.5) + (30.0 if i == spiked else 0.0)
            with open(path + ".tmp", "w") as f:
                f.write(f"{value:.3f}\n")
            os.replace(path + ".tmp", path)

    def _run(self):
        start, tick = time.time(), 0
        while not self.stopped.wait(max(0.0, start + tick + 1 - time.time())):
            tick += 1
            self._write(tick)


def outpost_config(folder, sensors, broker, name="outpost"):
    lines = [
        "[gateway]", 'id = "bench"', f'state_dir = "{folder}/{name}-state"', "",
        "[log]", 'readings_interval = "0s"', "",
        "[alerts]", "stdout = false", 'mqtt_broker = "local"', "",
        "[mqtt.brokers.local]", f'url = "mqtt://127.0.0.1:{broker.port}"', "",
        "[[uplink.mqtt]]", 'broker = "local"', "",
        "[input.host]", 'interval = "10s"', "",
    ]
    for i, path in enumerate(sensors.paths):
        lines += ["[[input.file]]", f'name = "bench.sensor{i}"', 'unit = "Cel"', f'path = "{path}"',
                  'interval = "1s"', ""]
    path = os.path.join(folder, f"{name}.toml")
    with open(path, "w") as f:
        f.write("\n".join(lines))
    return path


def collectd_config(folder, sensors, broker):
    lines = [
        'Hostname "bench"', "FQDNLookup false", "Interval 10", f'BaseDir "{folder}/collectd"',
        f'PIDFile "{folder}/collectd.pid"', 'PluginDir "/usr/lib/collectd"', 'TypesDB "/usr/share/collectd/types.db"',
        "LoadPlugin logfile", '<Plugin logfile>\n  LogLevel "warning"\n  File STDERR\n</Plugin>',
    ]
    lines += [f"LoadPlugin {p}" for p in ("cpu", "memory", "load", "interface", "df", "uptime", "thermal")]
    lines += ["<LoadPlugin table>\n  Interval 1\n</LoadPlugin>", "<Plugin table>"]
    for i, path in enumerate(sensors.paths):
        lines += [f'  <Table "{path}">', f'    Instance "sensor{i}"', '    Separator " "',
                  "    <Result>", '      Type "gauge"', '      InstancePrefix "value"', "      ValuesFrom 0",
                  "    </Result>", "  </Table>"]
    lines += ["</Plugin>", "LoadPlugin mqtt", "<Plugin mqtt>", '  <Publish "bench">', '    Host "127.0.0.1"',
              f"    Port {broker.port}", '    ClientId "collectd-bench"', "    QoS 1", '    Prefix "collectd"',
              "  </Publish>", "</Plugin>"]
    os.makedirs(os.path.join(folder, "collectd"), exist_ok=True)
    path = os.path.join(folder, "collectd.conf")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def proc_snapshot(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    status = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            status[key] = value.strip()
    io = {}
    with open(f"/proc/{pid}/io") as f:
        for line in f:
            key, _, value = line.partition(":")
            io[key] = int(value)
    kib = lambda key: int(status.get(key, "0 kB").split()[0])
    return {"cpu_s": (int(fields[11]) + int(fields[12])) / CLK_TCK, "threads": int(status["Threads"]),
            "rss_kib": kib("VmRSS"), "rss_anon_kib": kib("RssAnon"), "written": io["write_bytes"]}


def outpost_samples(run_folder, name="outpost"):
    try:
        with open(os.path.join(run_folder, f"{name}-run", "status.json")) as f:
            return json.load(f)["samples_ingested"]
    except (OSError, ValueError, KeyError):
        return None


def collectd_values(messages, since, until):
    """Values collectd published with a time in [since, until): one message is "time:v1[:v2...]"."""
    count = 0
    for _, topic, _, text in messages:
        if text and topic.startswith("collectd/"):
            fields = text.split(":")
            if since <= float(fields[0]) < until:
                count += len(fields) - 1
    return count


def latencies_ms(broker, kind, since, until):
    values = []
    for arrival, topic, _, text in broker.messages:
        if not text or not since <= arrival < until:
            continue
        if kind != "collectd" and "/alerts/" in topic:
            document = json.loads(text)
            if document.get("event") == "outpost.anomaly.raised":
                values.append((arrival - document["time_unix_nano"] / 1e9) * 1000)
        elif kind == "collectd" and "table-sensor" in topic:
            values.append((arrival - float(text.split(":")[0])) * 1000)
    return values


def batch_aligned_wire(broker, since, until, samples_per_second):
    """Bytes per sample between the first and the last metrics batch that arrived in [since, until]: the bytes
    before the first batch's arrival up to those before the last's hold whole batches only."""
    arrivals = [arrival for arrival, topic, _, _ in broker.messages
                if topic.endswith("/metrics") and since <= arrival <= until]
    if len(arrivals) < 2 or samples_per_second <= 0:
        return float("nan")
    before = lambda moment: max((value for arrival, value in broker.bytes_history if arrival < moment), default=0)
    return (before(arrivals[-1]) - before(arrivals[0])) / (samples_per_second * (arrivals[-1] - arrivals[0]))


def percentile(values, share):
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def stripped_size(path):
    with tempfile.NamedTemporaryFile() as copy:
        subprocess.run(["strip", "-o", copy.name, path], check=True)
        return os.path.getsize(copy.name)


def run(outposts, series, warmup, window):
    """`outposts`: {name: binary}, "outpost" first (and "before" for a baseline); collectd runs beside them."""
    folder = tempfile.mkdtemp(prefix="outpost-compare-", dir="/var/tmp")
    shm = tempfile.mkdtemp(prefix="outpost-compare-", dir="/dev/shm")
    processes = []
    kinds = list(outposts) + ["collectd"]
    try:
        sensors = SensorFiles(shm, series, spikes_after=warmup - 5)
        brokers = [Broker(folder, kind) for kind in kinds]
        commands, environments = {}, {}
        for kind, broker in zip(kinds, brokers):
            if kind == "collectd":
                commands[kind] = ["collectd", "-f", "-C", collectd_config(folder, sensors, broker)]
                environments[kind] = dict(os.environ)
                continue
            # As under systemd (RuntimeDirectory=, a tmpfs): the status file is not the SD card's business.
            os.makedirs(os.path.join(shm, f"{kind}-run"))
            commands[kind] = [outposts[kind], "run", "--config", outpost_config(folder, sensors, broker, kind)]
            environments[kind] = dict(os.environ, RUNTIME_DIRECTORY=os.path.join(shm, f"{kind}-run"))
        started = {}
        for kind in kinds:
            started[kind] = time.time()
            processes.append(subprocess.Popen(commands[kind], env=environments[kind], stdout=subprocess.DEVNULL,
                                              stderr=open(os.path.join(folder, f"{kind}.log"), "w")))
        time.sleep(warmup)
        t0 = time.time()
        before = [proc_snapshot(p.pid) for p in processes]
        bytes_before = [b.bytes_received for b in brokers]
        samples_before = {kind: outpost_samples(shm, kind) for kind in outposts}
        time.sleep(window)
        t1 = time.time()
        after = [proc_snapshot(p.pid) for p in processes]
        bytes_after = [b.bytes_received for b in brokers]
        samples = []
        for index, kind in enumerate(kinds):
            if kind == "collectd":
                samples.append(collectd_values(brokers[index].messages, t0, t1))
                continue
            first, last = samples_before[kind], outpost_samples(shm, kind)
            samples.append(last - first if first is not None and last else 0)
        rows = {}
        for index, kind in enumerate(kinds):
            n = max(samples[index], 1)
            latency = latencies_ms(brokers[index], kind, t0, t1 + 2)
            first = brokers[index].first_message_at
            rows[kind] = {
                "samples/s": samples[index] / (t1 - t0),
                "threads": after[index]["threads"],
                "CPU µs/sample": (after[index]["cpu_s"] - before[index]["cpu_s"]) * 1e6 / n,
                "RSS MiB": after[index]["rss_kib"] / 1024,
                "RssAnon MiB": after[index]["rss_anon_kib"] / 1024,
                "disk B/sample": (after[index]["written"] - before[index]["written"]) / n,
                "wire B/sample": batch_aligned_wire(brokers[index], t0, t1, samples[index] / (t1 - t0))
                if kind != "collectd" else (bytes_after[index] - bytes_before[index]) / n,
                "latency p50 ms": percentile(latency, 0.5),
                "latency p99 ms": percentile(latency, 0.99),
                "latency count": len(latency),
                "start→first MQTT ms": (first - started[kind]) * 1000 if first else float("nan"),
            }
        return rows
    finally:
        for p in processes:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
        for b in brokers if "brokers" in locals() else []:
            b.stop()
        if "sensors" in locals():
            sensors.stopped.set()
        shutil.rmtree(folder, ignore_errors=True)
        shutil.rmtree(shm, ignore_errors=True)


def ratio(a, b):
    return f"{a / b:.2f}" if isinstance(b, (int, float)) and b and b == b and a == a else "-"


def cell(value):
    return f"{value:.1f}" if isinstance(value, float) else str(value)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outpost", default=".build/release/outpost")
    parser.add_argument("--before", help="another outpost binary (an earlier build) to run beside it, same work")
    parser.add_argument("--series", default="200", help="comma-separated sensor counts, e.g. 50,200,1000,2000")
    parser.add_argument("--warmup", type=float, default=45, help="seconds before the window (detector warm-up)")
    parser.add_argument("--window", type=float, default=90, help="measured seconds (3 batches of 30 s)")
    args = parser.parse_args()
    print(f"stripped binary: outpost {stripped_size(args.outpost) / 2**20:.1f} MiB, collectd "
          f"{os.path.getsize(shutil.which('collectd')) / 2**20:.2f} MiB (+ plugins: "
          f"{sum(os.path.getsize(f'/usr/lib/collectd/{p}.so') for p in ('cpu', 'memory', 'load', 'interface', 'df', 'uptime', 'thermal', 'table', 'mqtt')) / 2**20:.2f} MiB)")
    outposts = {"outpost": os.path.abspath(args.outpost)}
    if args.before:
        outposts["before"] = os.path.abspath(args.before)
        print(f"before: {args.before}, stripped {stripped_size(args.before) / 2**20:.1f} MiB")
    for series in [int(s) for s in args.series.split(",")]:
        rows = run(outposts, series, args.warmup, args.window)
        print(f"\n{series} series at 1 Hz + host health, MQTT QoS 1, {args.window:.0f} s window "
              f"after {args.warmup:.0f} s")
        if args.before:
            print("| figure | outpost | before | collectd | outpost/collectd | before/collectd | outpost/before |")
            print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
        else:
            print("| figure | outpost | collectd | ratio |\n| --- | ---: | ---: | ---: |")
        for key in rows["outpost"]:
            a, c = rows["outpost"][key], rows["collectd"][key]
            if args.before:
                b = rows["before"][key]
                print(f"| {key} | {cell(a)} | {cell(b)} | {cell(c)} | {ratio(a, c)} | {ratio(b, c)} | {ratio(a, b)} |")
            else:
                print(f"| {key} | {cell(a)} | {cell(c)} | {ratio(a, c)} |")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
