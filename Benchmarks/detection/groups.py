#!/usr/bin/env python3
"""Group detection on the generated multi-sensor corpus, beside per-series detection on the same data.

    Benchmarks/detection/groups.py [--outpost PATH] [--config FILE] [--set KEY=VALUE ...] [--seed N] [--units N]
                                   [--days N] [--keep DIR]

Generates simulated pumps (machines.py: 8 sensors each, on/off regimes, faults that keep every reading in range but
break relations), replays every unit's multi-column CSV through the real `outpost replay` (each column judged as a
series, the columns together as a group: the built-in defaults, or `--config`'s `[[detect.group]]`, or with `--set`
one `[[detect.group]]` per unit with those settings, e.g. `--set likelihood_threshold=1e-4`), and reports for
both: false episodes per group-day (group) and per series-day (series) on anomaly-free stretches, and the faults
caught by kind with the delay from the fault's start to its first raised alert. An alert counts for a fault when it
is raised inside the fault's window or within 10 samples after it; every other raised alert is a false episode. A
fault counts as caught by the per-series detector when any of the unit's series raises for it.
"""
import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import machines  # noqa: E402

GRACE_SAMPLES = 10


def read_labels(path):
    labels = collections.defaultdict(list)
    with open(path) as rows:
        next(rows)
        for row in rows:
            unit, start, end, kind = row.strip().split(",")
            labels[unit].append((int(start), int(end), kind))
    return labels


def replay(outpost, config, files, output):
    command = [outpost, "replay", "--output", output, "--input", *files]
    if config:
        command[2:2] = ["--config", config]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    group, series = collections.defaultdict(list), collections.defaultdict(list)
    with open(output) as lines:
        for line in lines:
            event = json.loads(line)
            if event["event"] != "outpost.anomaly.raised":
                continue
            second = event["time_unix_nano"] // 1_000_000_000
            if "group" in event["details"]:
                # A group's unit is its device (the file's name unless a config says otherwise).
                group[event["attributes"].get("device", event["details"]["group"])].append(second)
            else:
                series[event["series"] + "@" + event["attributes"].get("device", "")].append(second)
    return group, series


def score(windows, raised, days, streams):
    """False episodes, clean stream-days, and per window the first alert's delay in seconds (None: missed)."""
    grace = GRACE_SAMPLES * machines.CADENCE
    delays = [None] * len(windows)
    false = 0
    for time in sorted(raised):
        hit = next((i for i, (start, end, _) in enumerate(windows) if start <= time <= end + grace), None)
        if hit is None:
            false += 1
        elif delays[hit] is None:
            delays[hit] = time - windows[hit][0]
    faulty = sum(end - start + grace + machines.CADENCE for start, end, _ in windows)
    clean_days = streams * (days * machines.DAY - faulty) / machines.DAY
    return false, clean_days, delays


def median(values):
    ordered = sorted(values)
    return ordered[len(ordered) // 2] if ordered else None


def report(rows):
    print(f"{'unit':<10}{'group false':>12}{'series false':>13}  faults caught (group / series)")
    totals = {"group": [0, 0.0], "series": [0, 0.0]}
    caught = {"group": collections.Counter(), "series": collections.Counter(), "only group": collections.Counter()}
    faults = collections.Counter()
    delays = {"group": collections.defaultdict(list), "series": collections.defaultdict(list)}
    for unit, windows, group, series in rows:
        cells = []
        for index, (_start, _end, kind) in enumerate(windows):
            faults[kind] += 1
            for name, result in (("group", group), ("series", series)):
                if result[2][index] is not None:
                    caught[name][kind] += 1
                    delays[name][kind].append(result[2][index] // machines.CADENCE)
            if group[2][index] is not None and series[2][index] is None:
                caught["only group"][kind] += 1
            cells.append(f"{kind}:{'G' if group[2][index] is not None else '-'}"
                         f"{'S' if series[2][index] is not None else '-'}")
        for name, result in (("group", group), ("series", series)):
            totals[name][0] += result[0]
            totals[name][1] += result[1]
        print(f"{unit:<10}{group[0] / group[1]:>12.2f}{series[0] / series[1]:>13.2f}  {' '.join(cells)}")
    print()
    print(f"group detector:      {totals['group'][0] / totals['group'][1]:.3f} false episodes per group-day "
          f"({totals['group'][0]} over {totals['group'][1]:.1f} group-days)")
    print(f"per-series detector: {totals['series'][0] / totals['series'][1]:.3f} false episodes per series-day "
          f"({totals['series'][0]} over {totals['series'][1]:.1f} series-days)")
    print(f"{'fault':<18}{'group':>8}{'series':>8}{'group only':>12}   median delay in samples (group / series)")
    for kind in machines.FAULTS:
        group_delay, series_delay = median(delays["group"][kind]), median(delays["series"][kind])
        print(f"{kind:<18}{caught['group'][kind]:>5}/{faults[kind]:<2}{caught['series'][kind]:>5}/{faults[kind]:<2}"
              f"{caught['only group'][kind]:>9}/{faults[kind]:<2}   {group_delay} / {series_delay}")
    total = sum(faults.values())
    print(f"{'all':<18}{sum(caught['group'].values()):>5}/{total:<2}{sum(caught['series'].values()):>5}/{total:<2}"
          f"{sum(caught['only group'].values()):>9}/{total:<2}")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outpost", default=os.path.join(here, "..", "..", ".build", "release", "outpost"))
    parser.add_argument("--config", help="a TOML whose [detect] (and [[detect.group]]) to use")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a [[detect.group]] setting for every unit's group (TOML value), e.g. learning=\"2d\"")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--units", type=int, default=6)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--keep", help="write the corpus and alerts here instead of a temporary folder")
    arguments = parser.parse_args()
    folder = arguments.keep or tempfile.mkdtemp(prefix="outpost-groups-")
    manifest = machines.generate(folder, seed=arguments.seed, units=arguments.units, days=arguments.days)
    labels = read_labels(os.path.join(folder, "labels.csv"))
    if arguments.set:
        arguments.config = os.path.join(folder, "groups.toml")
        with open(arguments.config, "w") as config:
            for unit, _path, _days in manifest:
                config.write(f'\n[[detect.group]]\nname = "{unit}"\nattributes = {{ device = "{unit}" }}\n')
                config.write("".join(f"{setting}\n" for setting in arguments.set))
    group, series = replay(arguments.outpost, arguments.config, [path for _, path, _ in manifest],
                           os.path.join(folder, "alerts.jsonl"))
    rows = []
    for unit, _path, days in manifest:
        windows = labels[unit]
        unit_series = [time for name in machines.MEMBERS for time in series.get(name + "@" + unit, [])]
        rows.append((unit, windows, score(windows, group[unit], days, 1),
                     score(windows, unit_series, days, len(machines.MEMBERS))))
    report(rows)
    if not arguments.keep:
        subprocess.run(["rm", "-rf", folder], check=False)


if __name__ == "__main__":
    main()
