"""The Numenta Anomaly Benchmark's scoring rules, for binary detections (standard library only).

Written from NAB's documentation and paper (Lavin and Ahmad 2015, "Evaluating real-time anomaly detection
algorithms", and github.com/numenta/NAB's wiki): checked against a reference implementation of NAB's scorer that
reproduces NAB's published scoreboard (`nab.py --check-with PATH` compares the two on the same detections).

- A file of n rows has a probation of min(floor(0.15 n), 750) rows: detections there are ignored, and a window
  counts only if it ends after the probation.
- A window [l, r] (w rows) rewards its earliest detection at row i with tp * A(-(r - i + 1) / w) / A(-1), where
  A(y) = 2 / (1 + e^(5y)) - 1 (and -1 for y > 3); a window without a detection costs fn.
- A detection outside every window costs fp * A((i - r') / (w' - 1)), r' and w' the end and width of the last
  window before it, or fp in full before the first window. Every such row counts.
- Normalised: 100 (S - S_null) / (S_perfect - S_null), where S_null = -fn per scored window and
  S_perfect = tp per window.
"""
import json
import math
import os
from datetime import datetime

PROFILES = ("standard", "reward_low_FP_rate", "reward_low_FN_rate")
SHORT = {"standard": "standard", "reward_low_FP_rate": "low FP", "reward_low_FN_rate": "low FN"}


def sigmoid(y):
    if y > 3:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * y)) - 1.0


FULL_REWARD = sigmoid(-1.0)


def parse_time(text):
    text = text.strip().replace("T", " ")
    return datetime.strptime(text[:19], "%Y-%m-%d %H:%M:%S")


class Recording:
    """One NAB data file: its rows, its windows as row indices, and what a detection on each row is worth."""

    def __init__(self, name, times, values, windows):
        self.name, self.times, self.values = name, times, values
        self.rows = len(times)
        self.probation = min(int(0.15 * self.rows), 750)
        index = {time: row for row, time in enumerate(times)}
        self.windows = sorted((index[parse_time(a)], index[parse_time(b)]) for a, b in windows)
        self.category = name.split("/")[0]

    def row_at(self, time):
        """The row stamped `time`, else the last row before it (None before the first)."""
        low, high = 0, self.rows
        while low < high:
            middle = (low + high) // 2
            if self.times[middle] <= time:
                low = middle + 1
            else:
                high = middle
        return low - 1 if low > 0 else None

    def score(self, detected_rows, costs):
        """The raw score of detections at `detected_rows`, the windows hit and scored, and the false detections."""
        rows = sorted(row for row in set(detected_rows) if row >= self.probation)
        total, hits, scored, false = 0.0, 0, 0, 0
        for left, right in self.windows:
            if right < self.probation:
                continue
            scored += 1
            inside = [row for row in rows if left <= row <= right]
            if inside:
                width = right - left + 1
                total += costs["tpWeight"] * sigmoid(-(right - inside[0] + 1) / width) / FULL_REWARD
                hits += 1
            else:
                total -= costs["fnWeight"]
        for row in rows:
            if any(left <= row <= right for left, right in self.windows):
                continue
            false += 1
            before = [(left, right) for left, right in self.windows if right < row]
            if not before:
                total -= costs["fpWeight"]
                continue
            left, right = before[-1]
            width = right - left + 1
            position = (row - right) / (width - 1) if width > 1 else 0.0
            total += costs["fpWeight"] * sigmoid(position)
        return total, hits, scored, false


class Benchmark:
    """A NAB checkout: data files, labelled windows and cost profiles."""

    def __init__(self, root):
        self.root = root
        with open(os.path.join(root, "labels", "combined_windows.json")) as source:
            windows = json.load(source)
        with open(os.path.join(root, "config", "profiles.json")) as source:
            self.costs = {name: profile["CostMatrix"] for name, profile in json.load(source).items()}
        self.recordings = {}
        for name in sorted(windows):
            path = os.path.join(root, "data", name)
            if not os.path.exists(path):
                continue  # a category held out of this checkout
            times, values = [], []
            with open(path) as rows:
                next(rows)
                for row in rows:
                    if row.strip():
                        stamp, value = row.strip().split(",")[:2]
                        times.append(parse_time(stamp))
                        values.append(float(value))
            self.recordings[name] = Recording(name, times, values, windows[name])

    def path(self, name):
        return os.path.join(self.root, "data", name)

    @property
    def categories(self):
        return sorted({recording.category for recording in self.recordings.values()})

    def score(self, detections, names=None):
        """Scores `detections` ({file: [row, ...]}) over `names` (default all): per profile, the normalised score,
        raw score, windows hit of scored windows and false detections."""
        names = names if names is not None else list(self.recordings)
        results = {}
        for profile in PROFILES:
            costs = self.costs[profile]
            raw = null = perfect = 0.0
            hits = scored = false = 0
            for name in names:
                recording = self.recordings[name]
                total, hit, windows, wrong = recording.score(detections.get(name, []), costs)
                raw += total
                hits, scored, false = hits + hit, scored + windows, false + wrong
                null -= costs["fnWeight"] * windows
                perfect += costs["tpWeight"] * len(recording.windows)
            normalised = 100 * (raw - null) / (perfect - null) if perfect != null else float("nan")
            results[profile] = {"score": normalised, "raw": raw, "hit": hits, "windows": scored, "false": false}
        return results
