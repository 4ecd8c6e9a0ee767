#!/usr/bin/env python3
"""Medians and ratios of bench-vs-dpdk rounds: a table, a CSV, a markdown table and a chart.

Each raw file holds rows "case<TAB>unit<TAB>better<TAB>value" from one run of one side
(dpdk.<round>.tsv or rpdk.<round>.tsv). For every case, the median over rounds of each side and
the ratio rpdk/dpdk are computed, keeping the order in which cases first appear.
"""

import argparse
import csv
import datetime
import glob
import os
import platform
import statistics
import subprocess


def read_rounds(raw, side):
    rows = {}
    order = []
    meta = {}
    for path in sorted(glob.glob(os.path.join(raw, f"{side}.*.tsv"))):
        with open(path) as f:
            for line in f:
                parts = line.rstrip("\n").split("\t")
                if len(parts) != 4:
                    continue
                case, unit, better, value = parts
                try:
                    v = float(value)
                except ValueError:
                    continue
                if case not in rows:
                    rows[case] = []
                    order.append(case)
                rows[case].append(v)
                meta[case] = (unit, better)
    return rows, order, meta


def machine():
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    cores = os.cpu_count()
    kernel = platform.release()
    return f"{cpu}, {cores} vCPUs, Linux {kernel}"


def dpdk_version():
    try:
        out = subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", "dpdk-dev"],
            capture_output=True, text=True, check=False,
        ).stdout.strip()
        return out or "unknown"
    except OSError:
        return "unknown"


def spread(values):
    """The rounds' range, min-max, or "-" without rounds."""
    if not values:
        return "-"
    return f"{fmt(min(values))}-{fmt(max(values))}"


def fmt(v):
    if v is None:
        return "-"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.2f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--component", required=True)
    ap.add_argument("--raw", required=True)
    ap.add_argument("--csv", required=True)
    ap.add_argument("--markdown", required=True)
    ap.add_argument("--chart", required=True)
    ap.add_argument("--dpdk-version", help="the caption's DPDK (default: Debian's dpdk-dev)")
    ap.add_argument("--first", default="DPDK",
                    help="what the first column ran (default DPDK; rpdk builds with --baseline)")
    a = ap.parse_args()
    first = a.first

    d_rows, d_order, d_meta = read_rounds(a.raw, "dpdk")
    r_rows, r_order, r_meta = read_rounds(a.raw, "rpdk")
    order = d_order + [c for c in r_order if c not in d_rows]
    rounds = max(len(glob.glob(os.path.join(a.raw, "dpdk.*.tsv"))), 1)

    results = []
    for case in order:
        unit, better = d_meta.get(case) or r_meta.get(case)
        d = statistics.median(d_rows[case]) if case in d_rows else None
        r = statistics.median(r_rows[case]) if case in r_rows else None
        ratio = r / d if d not in (None, 0) and r is not None else None
        results.append((case, unit, better, d, r, ratio))

    with open(a.csv, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["case", "unit", "better", "dpdk", "rpdk", "ratio"])
        for case, unit, better, d, r, ratio in results:
            w.writerow([
                case, unit, better,
                "" if d is None else f"{d:.4f}",
                "" if r is None else f"{r:.4f}",
                "" if ratio is None else f"{ratio:.3f}",
            ])

    date = datetime.date.today().isoformat()
    version = a.dpdk_version or dpdk_version()
    header = (f"{a.component}: medians of {rounds} alternating rounds, {date}, {machine()}, "
              + (f"DPDK {version}" if first == "DPDK" else f"{first} against rpdk"))
    short = "DPDK" if first == "DPDK" else "base"
    width = max([len(c) for c, *_ in results] + [4])
    print(header)
    print(f"{'case':<{width}}  {'unit':<14} {short:>12} {'rpdk':>12} {'rpdk/' + short:>10}"
          "  spread (min-max)")
    md = [f"_{header}_", "", f"| case | unit | better | {first} | rpdk | rpdk/{short} | "
          f"{short} min-max | rpdk min-max |", "|---|---|---|---:|---:|---:|---:|---:|"]
    for case, unit, better, d, r, ratio in results:
        mark = ""
        if ratio is not None:
            ok = ratio <= 1.0 if better == "lower" else ratio >= 1.0
            mark = "" if ok else "  *"
        ds, rs = spread(d_rows.get(case)), spread(r_rows.get(case))
        print(f"{case:<{width}}  {unit:<14} {fmt(d):>12} {fmt(r):>12} "
              f"{fmt(ratio):>10}{mark:3} {ds} / {rs}")
        md.append(f"| {case} | {unit} | {better} | {fmt(d)} | {fmt(r)} | "
                  f"{fmt(ratio)}{' (worse)' if mark else ''} | {ds} | {rs} |")
    print(f"(* : rpdk worse than {short} on this row)")
    with open(a.markdown, "w") as f:
        f.write("\n".join(md) + "\n")

    draw(a.chart, header, results, short)


def draw(path, header, results, short):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in results if r[5] is not None]
    if not rows:
        return
    height = max(3.0, 0.28 * len(rows) + 1.5)
    fig, ax = plt.subplots(figsize=(11, height))
    labels = [r[0] for r in rows]
    ratios = [r[5] for r in rows]
    colors = []
    for _, _, better, _, _, ratio in rows:
        ok = ratio <= 1.0 if better == "lower" else ratio >= 1.0
        colors.append("#2e7d32" if ok else "#c62828")
    y = list(range(len(rows)))
    ax.barh(y, ratios, color=colors)
    ax.axvline(1.0, color="black", linewidth=1)
    ax.set_yticks(y)
    ax.set_yticklabels(labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel(f"rpdk / {short} (green: rpdk as good or better; cycles: lower is better, "
                  "rates: higher is better)", fontsize=8)
    ax.set_title(header, fontsize=8)
    for yi, ratio in zip(y, ratios):
        ax.text(ratio, yi, f" {ratio:.2f}", va="center", fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
