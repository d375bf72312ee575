#!/usr/bin/env python3
"""zstd against gzip on Outpost's batches, side by side in one run: a day of the gateway of Benchmarks/metered
(63 series at one sample a minute) as OTLP protobuf requests of 30 s, 15 min and 1 h, each compressed and
decompressed by one codec per process (`outpost-benchmarks compression`), so each process's peak RSS holds one
codec's state only.

usage: Benchmarks/metered/compression.py --benchmarks .build-release/release/outpost-benchmarks
           [--aarch64 .build-raspberry-pi-4-debian-swift/outpost-benchmarks]

With --aarch64, also the instructions each codec executes on aarch64 (qemu-aarch64 -cpu cortex-a72 with the counting
plugin, Scripts/cross/insn-plugin), less those of a run with no compression: counts are stable from run to run,
time under emulation is not.
"""
import argparse
import os
import re
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CODECS = [("gzip", 6), ("gzip", 9), ("zstd", 1), ("zstd", 3), ("zstd", 9), ("zstd", 19)]
SPANS = [30, 900, 3600]


def measure(binary, codec, level, span, rounds, prefix=()):
    output = subprocess.run(list(prefix) + [binary, "compression", codec, str(level), str(span), str(rounds)],
                            capture_output=True, text=True, check=True)
    per_sample = float(re.search(r"([0-9.]+) B/sample", output.stdout).group(1))
    compress = float(re.search(r"compress ([0-9.]+) µs", output.stdout).group(1))
    decompress = float(re.search(r"decompress ([0-9.]+) µs", output.stdout).group(1))
    before, after = map(int, re.search(r"peak RSS ([0-9]+) → ([0-9]+)", output.stdout).groups())
    instructions = re.search(r"instructions ([0-9]+)", output.stderr)
    return dict(per_sample=per_sample, compress=compress, decompress=decompress, rss=(after - before) / 2**20,
                instructions=int(instructions.group(1)) if instructions else None)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--benchmarks", required=True)
    parser.add_argument("--aarch64")
    parser.add_argument("--rounds", type=int, default=5)
    arguments = parser.parse_args()
    for span in SPANS:
        rows = [(codec, level, measure(arguments.benchmarks, codec, level, span, arguments.rounds))
                for codec, level in CODECS]
        gzip6 = rows[0][2]
        print("\nbatches of %d s (%d a day), x86_64:\n" % (span, 86400 // span))
        print("| codec | B/sample | vs gzip 6 | compress µs/batch | decompress µs/batch | peak RSS growth MiB |")
        print("| --- | ---: | ---: | ---: | ---: | ---: |")
        for codec, level, row in rows:
            print("| %s %d | %.2f | %.2f | %.0f | %.0f | %.1f |" % (
                codec, level, row["per_sample"], row["per_sample"] / gzip6["per_sample"], row["compress"],
                row["decompress"], row["rss"]))
        if arguments.aarch64:
            plugin = subprocess.run([os.path.join(ROOT, "Scripts/cross/insn-plugin")], capture_output=True,
                                    text=True, check=True).stdout.strip()
            sysroot = os.path.join(ROOT, ".build/sysroots/debian12-arm64-debian-swift")
            qemu = ("qemu-aarch64", "-cpu", "cortex-a72", "-L", sysroot, "-plugin", plugin, "-d", "plugin")
            base = measure(arguments.aarch64, "none", 0, span, 1, qemu)["instructions"]
            batches = 86400 // span
            print("\naarch64 (cortex-a72 under qemu), instructions per batch to compress and decompress once:\n")
            print("| codec | instructions per batch | vs gzip 6 |")
            print("| --- | ---: | ---: |")
            counts = []
            for codec, level in CODECS:
                counted = measure(arguments.aarch64, codec, level, span, 1, qemu)["instructions"]
                counts.append((codec, level, (counted - base) / batches))
            for codec, level, count in counts:
                print("| %s %d | %.0f | %.2f |" % (codec, level, count, count / counts[0][2]))


main()
