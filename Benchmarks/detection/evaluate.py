#!/usr/bin/env python3
"""Detection evaluation: generate the corpus, replay it through the real `outpost replay`, score the alerts.

    Benchmarks/detection/evaluate.py [--outpost PATH] [--config FILE] [--seed N] [--copies N] [--keep DIR]

Prints, per series family and in total: false episodes per series-day on anomaly-free stretches, the share of
injected faults caught by kind, and the delay (in samples) from a fault's first sample to its raised alert.
An alert counts for a fault when it is raised inside the fault's window or within `grace` samples after it
(a drift back to normal ends late); every other raised alert is a false episode.
"""
import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import corpus  # noqa: E402

GRACE_SAMPLES = 10


def read_labels(path):
    labels = collections.defaultdict(list)
    with open(path) as rows:
        next(rows)
        for row in rows:
            series, start, end, kind = row.strip().split(",")
            labels[series].append((int(start), int(end), kind))
    return labels


def replay(outpost, config, files, output):
    command = [outpost, "replay", "--output", output, "--input", *files]
    if config:
        command[2:2] = ["--config", config]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    raised = collections.defaultdict(list)
    with open(output) as lines:
        for line in lines:
            event = json.loads(line)
            if event["event"] == "outpost.anomaly.raised":
                raised[event["series"]].append(event["time_unix_nano"] // 1_000_000_000)
    return raised


def score(manifest, labels, raised):
    families = collections.OrderedDict()
    for name, _unit, cadence, days in manifest:
        family = name.rsplit(".", 1)[0]
        stats = families.setdefault(family, {"false": 0, "clean_days": 0.0, "caught": collections.Counter(),
                                             "faults": collections.Counter(), "delays": collections.defaultdict(list)})
        windows = labels[name]
        used = set()
        for time in raised.get(name, []):
            hit = None
            for index, (start, end, _kind) in enumerate(windows):
                if start <= time <= end + GRACE_SAMPLES * cadence:
                    hit = index
                    break
            if hit is None:
                # Alerts during the two learning days count too: an operator sees them.
                stats["false"] += 1
            elif hit not in used:
                used.add(hit)
                start, _end, kind = windows[hit]
                stats["caught"][kind] += 1
                stats["delays"][kind].append((time - start) // cadence)
        faulty = sum(end - start + (GRACE_SAMPLES + 1) * cadence for start, end, _ in windows)
        stats["clean_days"] += (days * corpus.DAY - faulty) / corpus.DAY
        for _start, _end, kind in windows:
            stats["faults"][kind] += 1
    return families


def median(values):
    ordered = sorted(values)
    return ordered[len(ordered) // 2] if ordered else None


def report(families, exclude=()):
    kinds = corpus.FAULTS
    header = f"{'family':<22}{'false/day':>10}" + "".join(f"{k:>13}" for k in kinds)
    print(header)
    total = {"false": 0, "clean_days": 0.0, "caught": collections.Counter(), "faults": collections.Counter(),
             "delays": collections.defaultdict(list)}
    for family, stats in families.items():
        if family in exclude:
            print(f"{family:<22}{stats['false'] / stats['clean_days']:>10.2f}  (excluded from the totals)")
            continue
        cells = [f"{stats['caught'][k]}/{stats['faults'][k]}" for k in kinds]
        print(f"{family:<22}{stats['false'] / stats['clean_days']:>10.2f}" + "".join(f"{c:>13}" for c in cells))
        total["false"] += stats["false"]
        total["clean_days"] += stats["clean_days"]
        total["caught"].update(stats["caught"])
        total["faults"].update(stats["faults"])
        for kind, delays in stats["delays"].items():
            total["delays"][kind] += delays
    print()
    print(f"false episodes per series-day (anomaly-free stretches): {total['false'] / total['clean_days']:.3f} "
          f"({total['false']} over {total['clean_days']:.1f} series-days)")
    for kind in kinds:
        delays = total["delays"][kind]
        share = total["caught"][kind] / max(1, total["faults"][kind])
        delay = f", median delay {median(delays)} samples, max {max(delays)}" if delays else ""
        print(f"  {kind:<12} caught {total['caught'][kind]:>2}/{total['faults'][kind]} ({share:.0%}){delay}")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outpost", default=os.path.join(here, "..", "..", ".build", "release", "outpost"))
    parser.add_argument("--config", help="a TOML whose [detect] to use (default: the built-in defaults)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--copies", type=int, default=3)
    parser.add_argument("--exclude", action="append", default=[], help="leave a family out of the totals")
    parser.add_argument("--keep", help="write the corpus and alerts here instead of a temporary folder")
    arguments = parser.parse_args()
    folder = arguments.keep or tempfile.mkdtemp(prefix="outpost-detection-")
    manifest = corpus.generate(folder, seed=arguments.seed, copies=arguments.copies)
    files = [os.path.join(folder, name + ".csv") for name, *_ in manifest]
    raised = replay(arguments.outpost, arguments.config, files, os.path.join(folder, "alerts.jsonl"))
    report(score(manifest, read_labels(os.path.join(folder, "labels.csv")), raised), exclude=arguments.exclude)
    if not arguments.keep:
        subprocess.run(["rm", "-rf", folder], check=False)


if __name__ == "__main__":
    main()
