#!/usr/bin/env python3
"""Chaos run for Outpost: kill -9 cycles, a receiver outage, a broker restart, a full disk and a wall-clock step,
a receiver that lies (a captive portal's 200 page, redirects, 413 for large requests), another client taking over
Outpost's MQTT session again and again, a reader holding the spool's write-ahead log, all beside a command that
hangs with its output closed and a sysfs-like read that never returns (a FIFO), and a series whose every point is
larger than the broker's packet limit; against a real OTLP/HTTP receiver (this script, decoding with
opentelemetry-proto) and a real mosquitto (max_packet_size 4096), all on loopback. Prints samples generated, delivered, lost and duplicated per uplink, and checks them against the
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


# How the receiver answers: "ok", "portal" (200 with an HTML page), "redirect" (302 to a login page) or "limit"
# (413 for bodies over 1500 bytes). Only "ok" and accepted "limit" requests count as delivered.
answer = {"mode": "ok"}


class Receiver(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def lie(self, status, body, content_type, headers=()):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        mode = answer["mode"]
        if mode == "portal":
            return self.lie(200, b"<!DOCTYPE html><html><body>Log in to Hotel WiFi</body></html>", "text/html")
        if mode == "redirect":
            return self.lie(302, b"", "text/plain", [("Location", "http://portal.example/login")])
        if mode == "limit" and len(body) > 1500:
            return self.lie(413, b"request entity too large", "text/plain")
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
               f"persistence_location {work}/\nautosave_interval 1\nmax_packet_size 4096\n")
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
# A read that never returns, as from a sysfs file of a hung bus: a FIFO nobody writes to (open blocks).
hung_fifo = os.path.join(work, "hung-sensor")
os.mkfifo(hung_fifo)
big_note = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(6000))
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
max_size = "4MiB"
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
[[input.exec]]
name = "chaos.hung_command"
interval = "{args.interval}"
timeout = "1s"
command = "exec >/dev/null 2>&1; exec sleep 100000"
[[input.file]]
name = "chaos.hung_read"
path = "{hung_fifo}"
interval = "{args.interval}"
timeout = "1s"
[[input.simulated]]
name = "chaos.oversized"
interval = "1s"
attributes = {{ note = "{big_note}" }}
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


def descendants(pid):
    """Every process below `pid`, by their parent ids in /proc."""
    children = {}
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/stat") as f:
                parent = int(f.read().rsplit(")", 1)[1].split()[1])
            children.setdefault(parent, []).append(int(entry))
        except (OSError, ValueError, IndexError):
            pass
    found, queue = [], [pid]
    while queue:
        for child in children.get(queue.pop(), []):
            found.append(child)
            queue.append(child)
    return found


def outpost_kill9():
    """kill -9, then what systemd does when a unit's main process dies (KillMode=control-group): a command still
    running outlives a SIGKILLed Outpost, and the unit's control group takes it down."""
    global crashes
    left = descendants(outpost.pid)
    outpost.send_signal(signal.SIGKILL)
    outpost.wait()
    for pid in left:
        try:
            group = os.getpgid(pid)
            os.kill(pid, signal.SIGKILL) if group == os.getpgrp() else os.killpg(group, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
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


def hung_commands():
    """Processes still running the hung command (Outpost must kill every one, and on stop)."""
    found = 0
    for pid in os.listdir("/proc"):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                found += f.read().split(b"\0")[:2] == [b"sleep", b"100000"]
        except OSError:
            pass
    return found


def take_over_session(seconds):
    """Another client with Outpost's client id, connecting again and again (a cloned gateway): each connect takes
    the session over, as mosquitto does; Outpost must back off, name the cause, and lose nothing."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        subprocess.run(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(mqtt_port), "-V", "mqttv5", "-i",
                        "outpost-chaos", "-t", "chaos/intruder", "-W", "2"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


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

    log(f"receiver outage ({args.phase:.0f} s), a reader holding the spool's WAL all the while")
    receiver_down()
    import sqlite3
    holder = sqlite3.connect(f"file:{os.path.join(state, 'spool.db')}?mode=ro", uri=True, isolation_level=None)
    holder.execute("BEGIN")
    holder.execute("SELECT count(*) FROM batches").fetchone()
    wal_sizes = []
    for _ in range(int(args.phase * 2)):
        time.sleep(0.5)
        try:
            wal_sizes.append(os.path.getsize(os.path.join(state, "spool.db-wal")))
        except OSError:
            pass
    holder.execute("COMMIT")
    holder.close()
    wal_peak = max(wal_sizes or [0])
    receiver_up()
    time.sleep(args.phase / 2)

    log(f"a receiver that lies ({args.phase:.0f} s): a captive portal's 200 page, a redirect, 413 above 1500 bytes")
    for mode in ("portal", "redirect", "limit"):
        answer["mode"] = mode
        time.sleep(args.phase / 3)
    answer["mode"] = "ok"
    time.sleep(args.phase / 2)

    log(f"another client takes Outpost's MQTT session over, again and again ({args.phase:.0f} s)")
    take_over_session(args.phase)
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
    hung_before_stop = hung_commands()
    stop_code = outpost_stop()
    hung_after_stop = hung_commands()
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
      f"{'full disk, ' if tmpfs else ''}clock step +1 day and back, a lying receiver, session takeovers, a WAL "
      f"reader, a hung command and read; exit codes {stop_code}, {drain_code}")
print(f"samples generated: {len(values)}")
log_text = open(os.path.join(work, "outpost.log"), errors="replace").read()
# Named either way: MQTT 5's DISCONNECT reason, or (mosquitto closes a taken-over session without one) Outpost's own
# reading of a connection closed right after it was accepted.
takeovers = log_text.count("Session taken over") + log_text.count("another client connecting with client id")
checks = [
    ("hung commands running before the stop (each killed at its 1 s timeout)", hung_before_stop, hung_before_stop <= 1),
    ("hung commands left after the stop", hung_after_stop, hung_after_stop == 0),
    ("faults naming the read that never returns", log_text.count("did not return within"),
     log_text.count("did not return within") >= 1),
    ("session takeovers named in the log", takeovers, takeovers >= 1),
    ("oversized points dropped and reported", log_text.count("cannot fit the broker's maximum packet size"),
     log_text.count("cannot fit the broker's maximum packet size") >= 1),
    ("peak WAL bytes while a reader held it (bound: max_size)", wal_peak, wal_peak <= 4 * 1024 * 1024),
]
ok = True
for what, value, fine in checks:
    ok = ok and fine
    print(f"  {what}: {value} ({'ok' if fine else 'FAILED'})")
for uplink in ("otlp", "mqtt"):
    got = received[uplink]
    distinct = set(got) & made
    lost = len(made - distinct)
    duplicated = len(got) - len(set(got))
    runs = lost_runs(sorted(made - distinct))
    # A connection dropped between a PUBACK and its delivery mark sends that batch again: each takeover may too.
    dup_bound = (crashes + (takeovers + 1 if uplink == "mqtt" else 0)) * batch
    lost_ok, duplicated_ok = lost <= window and len(runs) <= crashes, duplicated <= dup_bound
    ok = ok and lost_ok and duplicated_ok
    print(f"  {uplink:5} delivered {len(distinct):6}   lost {lost:4} in {len(runs)} run(s) (bound {window} in "
          f"{crashes}: {'ok' if lost_ok else 'EXCEEDED'})   duplicated {duplicated:4} (bound {dup_bound}: "
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
