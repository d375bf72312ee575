#!/usr/bin/env python3
"""Detection on real recordings: the Numenta Anomaly Benchmark, replayed through the real `outpost replay`.

    Benchmarks/detection/nab.py --nab PATH [--outpost PATH] [--config FILE] [--results DIR] [--check-with NABSCORE]
                                [--cross-validate] [--per-file]

`--nab` is a NAB checkout (github.com/numenta/NAB, or the 51 files in ../shared/data/nab): its data/, labels/ and
config/profiles.json. Every data file is replayed through the binary at the built-in defaults (or `--config`), each
`outpost.anomaly.raised` is a detection on the row it names, and the detections are scored with NAB's rules
(nabscoring.py): the standard, low-FP and low-FN scores, windows hit, false alerts, and one row per category.

- `--results DIR` also writes NAB-format result files (DIR/outpost/<category>/outpost_<file>.csv with
  timestamp,value,anomaly_score,label), so NAB's own `run.py --score` can score them too.
- `--check-with PATH` scores the same detections with another NAB scorer (a `nabscore.py` that reproduces NAB's
  published scoreboard) and fails when the two disagree by 0.001 or more.
- `--cross-validate` says what is tuned and what generalises: the detector's candidate settings
  (CANDIDATES below) are each replayed, the best on one half of the categories is scored on the other half, and the
  other way round. It prints the full-corpus score of the defaults beside the cross-validated one.
"""
import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
from datetime import datetime, timezone

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nabscoring  # noqa: E402

# Alternatives to the built-in defaults tried by --cross-validate: a [detect] table each. They span the knobs that
# matter on NAB-like data: how rare a run of scores must be, how sensitive the single-sample rule is, the budgets.
CANDIDATES = {
    "defaults": "",
    "sensitivity low": "sensitivity = \"low\"\n",
    "sensitivity high": "sensitivity = \"high\"\n",
    "likelihood 1e-5": "likelihood_threshold = 1e-5\n",
    "likelihood 1e-7": "likelihood_threshold = 1e-7\n",
    "window 30": "window = 30\n",
    "window 120": "window = 120\n",
    "range 3 days": "range_horizon = \"3d\"\n",
    "range 14 days": "range_horizon = \"14d\"\n",
    "recent 20": "recent_samples = 20\n",
    "no profile": "seasonality = \"off\"\n",
    "daily budget 4": "max_episodes_per_day = 4\n",
    "no record rule": "rules = [\"likelihood\", \"drift\", \"stuck\"]\n",
    "no likelihood rule": "rules = [\"record\", \"drift\", \"stuck\"]\n",
}
HALVES = (("artificialNoAnomaly", "realAdExchange", "realTraffic"),
          ("artificialWithAnomaly", "realAWSCloudwatch", "realTweets"))


def series_name(name):
    """The series `outpost replay` makes of a file: its name without the extension."""
    return os.path.splitext(os.path.basename(name))[0]


def replay(outpost, benchmark, config_text, results=None):
    """Replays every recording; returns {file: [detected row, ...]}."""
    by_series = {series_name(name): name for name in benchmark.recordings}
    detections = collections.defaultdict(list)
    with tempfile.TemporaryDirectory() as folder:
        output = os.path.join(folder, "alerts.jsonl")
        command = [outpost, "replay", "--output", output]
        if config_text is not None:
            config = os.path.join(folder, "detect.toml")
            with open(config, "w") as file:
                file.write(config_text)
            command += ["--config", config]
        command += ["--input"] + [benchmark.path(name) for name in benchmark.recordings]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        with open(output) as lines:
            for line in lines:
                event = json.loads(line)
                if event["event"] != "outpost.anomaly.raised":
                    continue
                name = by_series[event["series"]]
                stamp = datetime.fromtimestamp(event["time_unix_nano"] / 1e9, timezone.utc).replace(tzinfo=None)
                row = benchmark.recordings[name].row_at(stamp)
                if row is not None:
                    detections[name].append(row)
    if results:
        write_results(benchmark, detections, results)
    return detections


def write_results(benchmark, detections, folder):
    for name, recording in benchmark.recordings.items():
        category, file = name.split("/")
        path = os.path.join(folder, "outpost", category, "outpost_" + file)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        detected = set(detections.get(name, []))
        windows = recording.windows
        with open(path, "w") as out:
            out.write("timestamp,value,anomaly_score,label\n")
            for row, (time, value) in enumerate(zip(recording.times, recording.values)):
                label = int(any(left <= row <= right for left, right in windows))
                out.write("%s,%r,%d,%d\n" % (time.strftime("%Y-%m-%d %H:%M:%S"), value, row in detected, label))


def table(benchmark, detections, per_file=False):
    lines = ["%-24s %9s %9s %9s %9s %7s" % ("", "standard", "low FP", "low FN", "windows", "false")]

    def line(label, names):
        result = benchmark.score(detections, names)
        standard = result["standard"]
        lines.append("%-24s %9.1f %9.1f %9.1f %5d/%-3d %7d" % (
            label, standard["score"], result["reward_low_FP_rate"]["score"],
            result["reward_low_FN_rate"]["score"], standard["hit"], standard["windows"], standard["false"]))

    line("all %d files" % len(benchmark.recordings), None)
    for category in benchmark.categories:
        line(category, [n for n in benchmark.recordings if n.startswith(category + "/")])
    if per_file:
        for name in benchmark.recordings:
            line(series_name(name)[:24], [name])
    return "\n".join(lines)


def check(benchmark, detections, reference):
    """Scores the same detections with a reference scorer; returns the largest difference."""
    with tempfile.TemporaryDirectory() as folder:
        alerts = os.path.join(folder, "alerts.jsonl")
        with open(alerts, "w") as out:
            for name, rows in detections.items():
                for row in rows:
                    stamp = benchmark.recordings[name].times[row].strftime("%Y-%m-%dT%H:%M:%S")
                    out.write(json.dumps({"series": name, "timestamp": stamp}) + "\n")
        scores = os.path.join(folder, "scores.json")
        subprocess.run([sys.executable, reference, "--nab", benchmark.root, "--results", alerts, "--json", scores],
                       check=True, stdout=subprocess.DEVNULL)
        with open(scores) as source:
            theirs = json.load(source)["ALL"]
    ours = benchmark.score(detections)
    return max(abs(ours[p]["score"] - theirs[p]["normalized"]) for p in nabscoring.PROFILES)


def names_in(benchmark, categories):
    return [n for n in benchmark.recordings if n.split("/")[0] in categories]


def cross_validate(outpost, benchmark, base_config):
    """Chooses the best candidate on each half and scores it on the other; returns the lines to print."""
    runs = {label: replay(outpost, benchmark, (base_config or "") + ("\n[detect]\n" + text if text else ""))
            for label, text in CANDIDATES.items()}
    lines, held_out = [], collections.defaultdict(float)
    for tune, test in (HALVES, HALVES[::-1]):
        tune_names, test_names = names_in(benchmark, tune), names_in(benchmark, test)
        best = max(runs, key=lambda label: benchmark.score(runs[label], tune_names)["standard"]["raw"])
        lines.append("tuned on %s: best %r" % (", ".join(tune), best))
        for profile in nabscoring.PROFILES:
            held_out[profile] += benchmark.score(runs[best], test_names)[profile]["raw"]
    null = perfect = 0.0
    everything = benchmark.score(runs["defaults"])
    for profile in nabscoring.PROFILES:
        costs = benchmark.costs[profile]
        windows = everything[profile]["windows"]
        null, perfect = -costs["fnWeight"] * windows, costs["tpWeight"] * sum(
            len(r.windows) for r in benchmark.recordings.values())
        score = 100 * (held_out[profile] - null) / (perfect - null)
        lines.append("%-22s defaults %5.1f   cross-validated %5.1f" % (
            nabscoring.SHORT[profile], everything[profile]["score"], score))
    for label, run in runs.items():
        result = benchmark.score(run)
        lines.append("  candidate %-18s standard %5.1f  low FP %5.1f  false %4d" % (
            label, result["standard"]["score"], result["reward_low_FP_rate"]["score"], result["standard"]["false"]))
    return lines


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nab", required=True, help="a NAB checkout (data/, labels/, config/)")
    parser.add_argument("--outpost", default=os.path.join(here, "..", "..", ".build", "release", "outpost"))
    parser.add_argument("--config", help="a config file whose [detect] table replaces the defaults")
    parser.add_argument("--results", help="write NAB-format result files here")
    parser.add_argument("--check-with", help="a reference NAB scorer (nabscore.py) to compare with")
    parser.add_argument("--cross-validate", action="store_true")
    parser.add_argument("--per-file", action="store_true")
    args = parser.parse_args()

    benchmark = nabscoring.Benchmark(args.nab)
    config_text = open(args.config).read() if args.config else None
    detections = replay(args.outpost, benchmark, config_text, args.results)
    print(table(benchmark, detections, args.per_file))
    if args.check_with:
        difference = check(benchmark, detections, args.check_with)
        print("reference scorer: largest difference %.6f" % difference)
        if difference >= 0.001:
            return 1
    if args.cross_validate:
        print("\n".join(cross_validate(args.outpost, benchmark, config_text)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
