#!/usr/bin/env python3
"""Writes lte-drive.csv: a synthetic, deterministic 10-minute LTE drive-like capacity trace,
one sample per second, downlink and uplink in Mbit/s (header time_s,down_mbps,up_mbps).

Synthetic, not measured. Levels from FedSim's 4g profile (Sources/Network/Profiles/FourG.swift:
downlink median 17.4 Mbit/s and p90 50 Mbit/s from Ookla; uplink median 5, p90 15): the log of
each rate is an Ornstein-Uhlenbeck process (AR(1) at 1 s) with that median, the lognormal spread
the median/p90 pair implies, and a 15 s correlation time (an assumption: drive traces change on
the scale of seconds to tens of seconds). On top, fades of 2-6 s to 3-10% of the level (handovers,
tunnels; an assumption) start with probability 1/60 per second; the uplink fades with the
downlink (same radio). Uplink log-rate innovations are correlated with the downlink's (rho 0.7).

Run: python3 Scenarios/traces/make-lte-drive.py  (rewrites lte-drive.csv next to it; Python's
random.Random(seed) with random()/gauss() is stable across CPython 3 versions).
"""
import math, os, random

HERE = os.path.dirname(os.path.abspath(__file__))
SECONDS = 600
Z90 = 1.2815515655446004
TAU = 15.0
RHO = 0.7

def sigma(median, p90):
    return (math.log(p90) - math.log(median)) / Z90

def main():
    rng = random.Random(20261203)
    a = math.exp(-1.0 / TAU)
    s_down, s_up = sigma(17.4, 50), sigma(5, 15)
    x_down = x_up = 0.0  # standardised log deviations
    fade_left, fade_depth = 0, 1.0
    rows = []
    for t in range(SECONDS):
        e1 = rng.gauss(0, 1)
        e2 = RHO * e1 + math.sqrt(1 - RHO * RHO) * rng.gauss(0, 1)
        x_down = a * x_down + math.sqrt(1 - a * a) * e1
        x_up = a * x_up + math.sqrt(1 - a * a) * e2
        if fade_left == 0 and rng.random() < 1 / 60:
            fade_left = 2 + int(rng.random() * 5)
            fade_depth = 0.03 + 0.07 * rng.random()
        depth = fade_depth if fade_left > 0 else 1.0
        fade_left = max(0, fade_left - 1)
        down = 17.4 * math.exp(s_down * x_down) * depth
        up = 5.0 * math.exp(s_up * x_up) * depth
        rows.append(f"{t},{down:.3f},{up:.3f}")
    with open(os.path.join(HERE, "lte-drive.csv"), "w") as fh:
        fh.write("time_s,down_mbps,up_mbps\n")
        fh.write("\n".join(rows) + "\n")

main()
