#!/usr/bin/env python3
"""Packet rates from testpmd's and l2fwd's periodic statistics (DPDK's and rpdk's print the
same): the median over the periodic prints after the first two (warm-up), in Mpps.

  rates.py testpmd FILE   sum of Rx-pps over the ports of each print
  rates.py l2fwd FILE     increase of "Total packets received" between prints, per second
"""

import re
import statistics
import sys


def testpmd(text):
    rates = []
    for block in text.split("Port statistics ====")[1:]:
        pps = [int(x) for x in re.findall(r"Rx-pps:\s+(\d+)", block)]
        if pps:
            rates.append(sum(pps))
    return rates[2:] if len(rates) > 3 else rates[1:]


def l2fwd(text, period=1.0):
    totals = [int(x) for x in re.findall(r"Total packets received:\s+(\d+)", text)]
    # The last block is the final statistics printed at exit, not a periodic one.
    totals = totals[:-1]
    deltas = [(b - a) / period for a, b in zip(totals, totals[1:])]
    return deltas[2:] if len(deltas) > 3 else deltas[1:]


def main():
    kind, path = sys.argv[1], sys.argv[2]
    text = open(path, errors="replace").read()
    rates = testpmd(text) if kind == "testpmd" else l2fwd(text)
    if not rates:
        sys.exit(f"rates.py: no periodic statistics in {path}")
    print(f"{statistics.median(rates) / 1e6:.3f}")


if __name__ == "__main__":
    main()
