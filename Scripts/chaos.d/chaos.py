#!/usr/bin/env python3
"""Chaos run for Outpost: kill -9 cycles, a receiver outage, a broker restart, a full disk and a wall-clock step,
against a real OTLP/HTTP receiver (this script, decoding with opentelemetry-proto) and a real mosquitto, all on
loopback. Prints samples generated, delivered, lost and duplicated per uplink, and checks them against the
documented bounds: lost within the in-memory window (one `max_age` plus one `[spool] write_after` of samples per
crash: the open batch, and closed batches no uplink had confirmed yet), duplicates within one batch per crash.

Every sample is unique: an exec input runs a counter (`chaos.seq`) that appends each value it hands Outpost to
generated.log, so generated, delivered, lost and duplicated are exact counts, not estimates.

Run through Scripts/chaos (it finds the binary, the Python and the shim).
"""
import argparse, gzip, http.server, json, os, random, shutil, signal, socket, subprocess, sys, tempfile, threading
import time

from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2

parser = argparse.ArgumentParser()
parser.add_argument("--outpost", required=True)
parser.add_argument("--shim", required=True, help="wallclock_shift.so")
parser.add_argument("--kills", type=int, default=6, help="kill -9 cycles")
parser.add_argument("--phase", type=float, default=12.0, help="seconds each outage lasts")
parser.add_argument("--interval", default="200ms", help="how often the counter is read")
parser.add_argument("--max-age", type=float, default=2.0, help="[batch] max_age in seconds: the crash window")
parser.add_argument("--write-after", type=float, default=2.0,
                    help="[spool] write_after in seconds: added to the crash window (0: write-through)")
parser.add_argument("--seed", type=int, default=1)
parser.add_argument("--keep", action="store_true", help="keep the work folder")
args = parser.parse_args()
rng = random.Random(args.seed)
work = tempfile.mkdtemp(prefix="outpost-chaos-")
state = os.path.join(work, "state")
os.makedirs(state)
log = lambda text: print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# ---- the full disk needs a small file system of its own: a tmpfs (root only) --------------------------------------
tmpfs = os.geteuid() == 0 and shutil.which("mount") is not None
if tmpfs:
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", state], check=True)

# ---- the OTLP receiver: records every chaos.seq value it accepts -------------------------------------------------
received = {"otlp": [], "mqtt": []}
lock = threading.Lock()


def seq_values(body):
    request = metrics_service_pb2.ExportMetricsServiceRequest()
    request.ParseFromString(body)
    values = []
    for resource in request.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name == "chaos.seq":
                    values += [int(point.as_double) for point in metric.gauge.data_points]
    return values


class Receiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        if self.path == "/v1/metrics":
            values = seq_values(body)
            with lock:
                received["otlp"] += values
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_):
        pass


otlp_port = free_port()
receiver = None


def receiver_up():
    global receiver
    http.server.ThreadingHTTPServer.allow_reuse_address = True
    receiver = http.server.ThreadingHTTPServer(("127.0.0.1", otlp_port), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()


def receiver_down():
    global receiver
    receiver.shutdown()
    receiver.server_close()
    receiver = None


# ---- mosquitto, persistent, and a persistent QoS 1 subscriber that decodes what the MQTT uplink publishes ---------
mqtt_port = free_port()
with open(os.path.join(work, "mosquitto.conf"), "w") as conf:
    conf.write(f"listener {mqtt_port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
               f"persistence_location {work}/\nautosave_interval 1\n")
broker = None


def broker_up():
    global broker
    broker = subprocess.Popen(["mosquitto", "-c", os.path.join(work, "mosquitto.conf")],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", mqtt_port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)


def broker_down():
    broker.send_signal(signal.SIGTERM)
    broker.wait(10)


def subscribe():
    """mosquitto_sub with a persistent session, reconnecting when the broker comes back; payloads as hex."""
    while not stopping.is_set():
        process = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(mqtt_port), "-q", "1", "-c",
                                    "-i", "chaos-subscriber", "-t", "chaos/+/metrics", "-F", "%x"],
                                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        subscribers.append(process)
        for line in process.stdout:
            payload = bytes.fromhex(line.strip())
            try:
                values = seq_values(gzip.decompress(payload))
            except Exception:
                continue
            with lock:
                received["mqtt"] += values
        process.wait()
        time.sleep(0.2)


stopping = threading.Event()
subscribers = []

# ---- Outpost: an exec counter, both uplinks, a short batch age ---------------------------------------------------
counter, generated = os.path.join(work, "counter"), os.path.join(work, "generated.log")
shift = os.path.join(work, "shift")
with open(shift, "w") as f:
    f.write("0\n")


def config(counting=True):
    return f"""
[gateway]
id = "chaos"
state_dir = "{state}"
[batch]
max_age = "{args.max_age}s"
[spool]
write_after = "{args.write_after}s"
[status]
interval = "1s"
self_metrics_interval = "0s"
[log]
readings_interval = "0s"
[detect]
enabled = false
[mqtt]
topic_prefix = "chaos"
[mqtt.brokers.local]
url = "mqtt://127.0.0.1:{mqtt_port}"
client_id = "outpost-chaos"
[[uplink.otlp_http]]
name = "otlp"
endpoint = "http://127.0.0.1:{otlp_port}"
initial_backoff = "500ms"
max_backoff = "2s"
[[uplink.mqtt]]
name = "mqtt"
broker = "local"
initial_backoff = "500ms"
max_backoff = "2s"
""" + (f"""
[[input.exec]]
name = "chaos.seq"
unit = "1"
interval = "{args.interval}"
command = "n=$(( $(cat {counter} 2>/dev/null || echo 0) + 1 )); echo $n > {counter}; echo $n >> {generated}; echo $n"
""" if counting else """
[[input.simulated]]
name = "chaos.idle"
interval = "1h"
""")


outpost = None
crashes = 0


def outpost_up(counting=True):
    global outpost
    path = os.path.join(work, "outpost.toml" if counting else "drain.toml")
    with open(path, "w") as f:
        f.write(config(counting))
    environment = dict(os.environ, LD_PRELOAD=args.shim, OUTPOST_CHAOS_SHIFT_FILE=shift)
    outpost = subprocess.Popen([args.outpost, "run", "--config", path], env=environment,
                               stdout=open(os.path.join(work, "alerts.jsonl"), "a"),
                               stderr=open(os.path.join(work, "outpost.log"), "a"))


def outpost_kill9():
    global crashes
    outpost.send_signal(signal.SIGKILL)
    outpost.wait()
    crashes += 1


def outpost_stop():
    outpost.send_signal(signal.SIGTERM)
    return outpost.wait(60)


def spool_empty():
    try:
        status = json.load(open(os.path.join(state, "status.json")))
        lanes = status["spool"]["lanes"]
        return all(lanes[lane]["batches"] == 0 for lane in lanes)
    except Exception:
        return False


def generated_values():
    try:
        return [int(line) for line in open(generated) if line.strip()]
    except FileNotFoundError:
        return []


started = time.monotonic()
try:
    receiver_up()
    broker_up()
    threading.Thread(target=subscribe, daemon=True).start()
    outpost_up()
    log(f"steady state ({args.phase:.0f} s); work folder {work}")
    time.sleep(args.phase)

    log(f"{args.kills} kill -9 cycles")
    for _ in range(args.kills):
        time.sleep(rng.uniform(2.0, 5.0))
        outpost_kill9()
        outpost_up()

    log(f"receiver outage ({args.phase:.0f} s)")
    receiver_down()
    time.sleep(args.phase)
    receiver_up()
    time.sleep(args.phase / 2)

    log(f"broker restart ({args.phase:.0f} s down)")
    broker_down()
    time.sleep(args.phase)
    broker_up()
    time.sleep(args.phase / 2)

    if tmpfs:
        log(f"full disk with the receiver and broker down ({args.phase:.0f} s)")
        receiver_down()
        broker_down()
        filler = os.path.join(state, "filler")
        subprocess.run(["dd", "if=/dev/zero", f"of={filler}", "bs=64k"], stderr=subprocess.DEVNULL)
        time.sleep(args.phase)
        os.remove(filler)
        receiver_up()
        broker_up()
        time.sleep(args.phase / 2)
    else:
        log("full disk skipped: mounting a small tmpfs needs root")

    log("wall clock stepped forward by one day, then back")
    with open(shift, "w") as f:
        f.write("86400\n")
    time.sleep(args.phase)
    with open(shift, "w") as f:
        f.write("0\n")
    time.sleep(args.phase)

    log("graceful stop, then a drain run without the counter")
    stop_code = outpost_stop()
    outpost_up(counting=False)
    deadline = time.monotonic() + 60
    time.sleep(3)
    while time.monotonic() < deadline and not spool_empty():
        time.sleep(0.5)
    time.sleep(2)
    drain_code = outpost_stop()
finally:
    stopping.set()
    if outpost and outpost.poll() is None:
        outpost.kill()
    if broker and broker.poll() is None:
        broker.kill()
    for process in subscribers:
        if process.poll() is None:
            process.kill()
    if receiver:
        receiver_down()

def lost_runs(lost):
    """Consecutive lost values as (first, last): each crash should cost one run, at most."""
    runs = []
    for value in lost:
        if runs and runs[-1][1] == value - 1:
            runs[-1] = (runs[-1][0], value)
        else:
            runs.append((value, value))
    return runs


values = generated_values()
made = set(values)
# One max_age and one write_after of samples at 5/s per crash, plus in flight.
window = crashes * (int((args.max_age + args.write_after) / 0.2) + 3)
batch = int(args.max_age / 0.2) + 2                  # samples in one batch
print()
print(f"Outpost chaos run: {time.monotonic() - started:.0f} s, {crashes} kill -9, receiver outage, broker restart, "
      f"{'full disk, ' if tmpfs else ''}clock step +1 day and back; exit codes {stop_code}, {drain_code}")
print(f"samples generated: {len(values)}")
ok = True
for uplink in ("otlp", "mqtt"):
    got = received[uplink]
    distinct = set(got) & made
    lost = len(made - distinct)
    duplicated = len(got) - len(set(got))
    runs = lost_runs(sorted(made - distinct))
    lost_ok, duplicated_ok = lost <= window and len(runs) <= crashes, duplicated <= crashes * batch
    ok = ok and lost_ok and duplicated_ok
    print(f"  {uplink:5} delivered {len(distinct):6}   lost {lost:4} in {len(runs)} run(s) (bound {window} in "
          f"{crashes}: {'ok' if lost_ok else 'EXCEEDED'})   duplicated {duplicated:4} (bound {crashes * batch}: "
          f"{'ok' if duplicated_ok else 'EXCEEDED'})")
    with open(os.path.join(work, f"lost-{uplink}.txt"), "w") as f:
        f.write("".join(f"{first}-{last}\n" for first, last in runs))
if tmpfs:
    subprocess.run(["umount", "-l", state])
if args.keep or not ok:
    print(f"work folder kept: {work}")
else:
    shutil.rmtree(work, ignore_errors=True)
sys.exit(0 if ok else 1)
