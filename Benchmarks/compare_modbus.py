#!/usr/bin/env python3
"""Outpost's Modbus input beside collectd's modbus plugin, reading the same Modbus TCP server in the same run.

The work: DEVICES Modbus TCP devices (one pymodbus process serving each on its own loopback port, the test server
of Tests/OutpostTestSupport/modbus_server.py), each with 20 float32 values in holding registers 0..39, read once a
second. Outpost reads unit 1 of every device, collectd unit 2 (same map, same server), so the server counts each
agent's requests apart. Both publish every value over MQTT QoS 1 to a mosquitto of their own, as in
Benchmarks/compare.py; detection runs in Outpost with its defaults.

Measured over the same window: CPU per value read (user + system time of the agent's process, /proc/<pid>/stat,
divided by the float32 values its requests carried, as the server counted them), requests per device and poll,
threads, RSS. Ratios count, not absolutes: the machine is shared, both see the same noise.
"""
import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import Broker, proc_snapshot, wait_for_port  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VALUES = 20


class ModbusServers:
    """The pymodbus test server in benchmark mode, counting each request by agent (unit id)."""

    def __init__(self, python, devices):
        self.process = subprocess.Popen(
            [python, os.path.join(ROOT, "Tests/OutpostTestSupport/modbus_server.py"), "tcp", "0",
             "--devices", str(devices), "--count-requests"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.ports = [int(port) for port in self.process.stdout.readline().split(",")]
        for port in self.ports:
            wait_for_port(port)
        self.lock = threading.Lock()
        self.requests = {1: 0, 2: 0}  # unit id: requests
        self.registers = {1: 0, 2: 0}  # unit id: registers asked for
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.process.stdout:
            parts = line.split()  # request UNIT FC ADDR COUNT PORT
            if len(parts) >= 5 and parts[0] == "request":
                with self.lock:
                    unit = int(parts[1])
                    self.requests[unit] = self.requests.get(unit, 0) + 1
                    self.registers[unit] = self.registers.get(unit, 0) + int(parts[4])

    def counts(self):
        with self.lock:
            return dict(self.requests), dict(self.registers)

    def stop(self):
        self.process.terminate()
        self.process.wait()


def outpost_config(folder, ports, broker):
    lines = [
        "[gateway]", 'id = "bench"', f'state_dir = "{folder}/outpost-state"', "",
        "[log]", 'readings_interval = "0s"', "",
        "[alerts]", "stdout = false", 'mqtt_broker = "local"', "",
        "[mqtt.brokers.local]", f'url = "mqtt://127.0.0.1:{broker.port}"', "",
        "[[uplink.mqtt]]", 'broker = "local"', "",
    ]
    for index, port in enumerate(ports):
        lines += ["[[input.modbus]]", f'name = "bench.meter{index}"', 'host = "127.0.0.1"', f"port = {port}",
                  "unit_id = 1", 'interval = "1s"', ""]
        for value in range(VALUES):
            lines += ["[[input.modbus.registers]]", f'name = "r{value}"', f"address = {2 * value}",
                      'type = "float32"', ""]
    path = os.path.join(folder, "outpost.toml")
    with open(path, "w") as f:
        f.write("\n".join(lines))
    return path


def collectd_config(folder, ports, broker):
    lines = [
        'Hostname "bench"', "FQDNLookup false", "Interval 1", f'BaseDir "{folder}/collectd"',
        f'PIDFile "{folder}/collectd.pid"', 'PluginDir "/usr/lib/collectd"', 'TypesDB "/usr/share/collectd/types.db"',
        "LoadPlugin logfile", '<Plugin logfile>\n  LogLevel "warning"\n  File STDERR\n</Plugin>',
        "LoadPlugin modbus", "<Plugin modbus>",
    ]
    for value in range(VALUES):
        lines += [f'  <Data "r{value}">', f"    RegisterBase {2 * value}", "    RegisterType Float",
                  "    RegisterCmd ReadHolding", '    Type "gauge"', f'    Instance "r{value}"', "  </Data>"]
    for index, port in enumerate(ports):
        lines += [f'  <Host "meter{index}">', '    Address "127.0.0.1"', f'    Port "{port}"', "    Interval 1",
                  "    <Slave 2>", f'      Instance "meter{index}"']
        lines += [f'      Collect "r{value}"' for value in range(VALUES)]
        lines += ["    </Slave>", "  </Host>"]
    lines += ["</Plugin>", "LoadPlugin mqtt", "<Plugin mqtt>", '  <Publish "bench">', '    Host "127.0.0.1"',
              f"    Port {broker.port}", '    ClientId "collectd-bench"', "    QoS 1", '    Prefix "collectd"',
              "  </Publish>", "</Plugin>"]
    os.makedirs(os.path.join(folder, "collectd"), exist_ok=True)
    path = os.path.join(folder, "collectd.conf")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def run(outpost, python, devices, warmup, window):
    folder = tempfile.mkdtemp(prefix="outpost-modbus-", dir="/var/tmp")
    processes = {}
    try:
        servers = ModbusServers(python, devices)
        brokers = {kind: Broker(folder, kind) for kind in ("outpost", "collectd")}
        commands = {
            "outpost": [outpost, "run", "--config", outpost_config(folder, servers.ports, brokers["outpost"])],
            "collectd": ["collectd", "-f", "-C", collectd_config(folder, servers.ports, brokers["collectd"])],
        }
        for kind, command in commands.items():
            processes[kind] = subprocess.Popen(command, stdout=subprocess.DEVNULL,
                                               stderr=open(os.path.join(folder, f"{kind}.log"), "w"))
        time.sleep(warmup)
        before = {kind: proc_snapshot(p.pid) for kind, p in processes.items()}
        requests_before, registers_before = servers.counts()
        messages_before = {kind: len(broker.messages) for kind, broker in brokers.items()}
        t0 = time.time()
        time.sleep(window)
        elapsed = time.time() - t0
        after = {kind: proc_snapshot(p.pid) for kind, p in processes.items()}
        requests_after, registers_after = servers.counts()
        rows = {}
        for kind, unit in (("outpost", 1), ("collectd", 2)):
            requests = requests_after[unit] - requests_before[unit]
            values = (registers_after[unit] - registers_before[unit]) / 2
            cpu = after[kind]["cpu_s"] - before[kind]["cpu_s"]
            polls = devices * elapsed  # one poll per device and second
            rows[kind] = {
                "values read/s": values / elapsed,
                "requests/s": requests / elapsed,
                "requests per device and poll": requests / polls,
                "CPU µs/value": cpu * 1e6 / max(values, 1),
                "CPU % of one core": cpu * 100 / elapsed,
                "threads": after[kind]["threads"],
                "RSS MiB": after[kind]["rss_kib"] / 1024,
                "MQTT messages/s": (len(brokers[kind].messages) - messages_before[kind]) / elapsed,
            }
        for kind, p in processes.items():
            if p.poll() is not None:
                raise SystemExit(f"{kind} exited early; see {folder}/{kind}.log")
        return rows
    finally:
        for p in processes.values():
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
        for broker in locals().get("brokers", {}).values():
            broker.stop()
        if "servers" in locals():
            servers.stop()
        shutil.rmtree(folder, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outpost", default=".build/release/outpost")
    parser.add_argument("--python", default=".build/otlp-python/bin/python", help="a python with pymodbus")
    parser.add_argument("--devices", type=int, default=10)
    parser.add_argument("--warmup", type=float, default=15)
    parser.add_argument("--window", type=float, default=60)
    parser.add_argument("--runs", type=int, default=1, help="repeat, printing each run")
    args = parser.parse_args()
    for run_index in range(args.runs):
        rows = run(os.path.abspath(args.outpost), args.python, args.devices, args.warmup, args.window)
        print(f"\n{args.devices} Modbus TCP devices × {VALUES} float32 at 1 s, MQTT QoS 1, {args.window:.0f} s window "
              f"after {args.warmup:.0f} s (run {run_index + 1})")
        print("| figure | outpost | collectd | ratio |\n| --- | ---: | ---: | ---: |")
        for key in rows["outpost"]:
            a, c = rows["outpost"][key], rows["collectd"][key]
            ratio = f"{a / c:.2f}" if c else "-"
            cell = (lambda v: f"{v:.2f}" if isinstance(v, float) else str(v))
            print(f"| {key} | {cell(a)} | {cell(c)} | {ratio} |")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
