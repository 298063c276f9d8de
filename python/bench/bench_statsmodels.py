"""Speed of the Python package, run by hand (not a test):

1. ``ml.mixedlm(...).fit()`` against statsmodels' ``smf.mixedlm(...).fit()`` on High School
   and Beyond (Hsb82, 7185 students in 160 schools), REML: the random intercept
   ``mAch ~ ses`` and the random slope (``re_formula="~ses"``);
2. the call overhead of ``ml.lmer`` on sleepstudy (``Reaction ~ Days + (Days | Subject)``,
   from a pandas DataFrame) above the Rust library's own fit of the same model in-process,
   with the parts of the Python call timed separately (reading the data, the fit in the
   extension, reading its results); ``--rust-binary PATH`` runs a program that prints the Rust
   library's median time of the same fit ("median X ms") and subtracts it.

Every time is the median of repeated runs, printed with the spread (min-max) and the number of
repeats. Run from the repository root, with the package and statsmodels installed::

    python python/bench/bench_statsmodels.py
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import time
import warnings

import multilevel as ml
from multilevel import _data
from multilevel import _multilevel as _ext


def timed(fn, repeats):
    """(median, min, max) in milliseconds over ``repeats`` calls, and the last result."""
    times = []
    out = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return (statistics.median(times), min(times), max(times)), out


def fmt(t):
    med, lo, hi = t
    return f"{med:9.3f} ms (min {lo:.3f}, max {hi:.3f})"


def machine():
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (f"{cpu}; {os.cpu_count()} logical CPUs; {platform.system()} {platform.release()}; "
            f"Python {platform.python_version()}; multilevel {ml.__version__}")


def statsmodels_part(repeats_ours, repeats_sm):
    import pandas as pd
    import statsmodels
    import statsmodels.formula.api as smf

    hsb = ml.load_dataset("Hsb82")
    df = pd.DataFrame({"mAch": hsb["mAch"], "ses": hsb["ses"],
                       "school": hsb["school"].astype(str)})
    print(f"statsmodels {statsmodels.__version__}, pandas {pd.__version__}")
    for label, re_formula in (("random intercept", None), ("random slope", "~ses")):
        kw = {} if re_formula is None else {"re_formula": re_formula}
        t_ours, ours = timed(
            lambda: ml.mixedlm("mAch ~ ses", df, groups="school", **kw).fit(), repeats_ours)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            t_sm, theirs = timed(
                lambda: smf.mixedlm("mAch ~ ses", df, groups=df["school"], **kw).fit(),
                repeats_sm)
        print(f"\nHsb82 {label} (REML)")
        print(f"  ml.mixedlm(...).fit()  {fmt(t_ours)}  over {repeats_ours} runs")
        print(f"  smf.mixedlm(...).fit() {fmt(t_sm)}  over {repeats_sm} runs "
              f"(converged: {theirs.converged}; {len(caught)} warnings)")
        print(f"  ratio of medians: {t_sm[0] / t_ours[0]:.0f}x "
              f"(range {t_sm[1] / t_ours[2]:.0f}x-{t_sm[2] / t_ours[1]:.0f}x)")
        print(f"  llf: multilevel {ours.llf:.4f}, statsmodels {theirs.llf:.4f}")


def overhead_part(repeats, rust_binary):
    sleep = ml.load_dataset("sleepstudy")  # pandas, Subject a categorical
    formula = "Reaction ~ Days + (Days | Subject)"
    wanted = {"Reaction", "Days", "Subject"}
    for _ in range(20):
        ml.lmer(formula, sleep)
    t_call, m = timed(lambda: ml.lmer(formula, sleep), repeats)
    t_data, frame = timed(lambda: _data.to_data(sleep, "sleepstudy", wanted), repeats)
    t_fit, raw = timed(lambda: _ext.lmer(formula, frame, "sleepstudy"), repeats)
    t_json, _ = timed(lambda: json.loads(raw.result_json()), repeats)
    print(f"\nsleepstudy {formula}, from a pandas DataFrame, {repeats} calls each")
    print(f"  ml.lmer(...)                          {fmt(t_call)}")
    print(f"    reading the data                    {fmt(t_data)}")
    print(f"    the fit in the extension            {fmt(t_fit)}")
    print(f"    reading the results (JSON, on first use) {fmt(t_json)}")
    print(f"  REML criterion {-2 * m.loglik:.3f}")
    if rust_binary:
        out = subprocess.run([rust_binary, str(repeats)], check=True, capture_output=True,
                             text=True).stdout.strip()
        print(f"  Rust in-process: {out}")
        rust_ms = float(out.split("median ")[1].split(" ms")[0])
        print(f"  call overhead (median ml.lmer - median Rust fit): "
              f"{t_call[0] - rust_ms:.3f} ms")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rust-binary", help="a program printing the Rust fit's median time")
    ap.add_argument("--repeats", type=int, default=500, help="calls timed for the overhead")
    ap.add_argument("--repeats-ours", type=int, default=20)
    ap.add_argument("--repeats-statsmodels", type=int, default=3)
    ap.add_argument("--skip-statsmodels", action="store_true")
    a = ap.parse_args()
    print(f"machine: {machine()}")
    if not a.skip_statsmodels:
        statsmodels_part(a.repeats_ours, a.repeats_statsmodels)
    overhead_part(a.repeats, a.rust_binary)


if __name__ == "__main__":
    main()
