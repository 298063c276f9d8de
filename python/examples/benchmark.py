"""One timed run each: `ml.mixedlm(...).fit()` against statsmodels' `smf.mixedlm(...).fit()` on
Hsb82's random slope model (mAch ~ ses, random intercept and ses slope by school), REML.
Prints both times, their ratio and the estimates side by side.

Run: python python/examples/benchmark.py   (needs statsmodels)
"""

import platform
import time
import warnings

import pandas as pd
import statsmodels.formula.api as smf

import multilevel as ml

hsb = ml.load_dataset("Hsb82")
df = pd.DataFrame({"mAch": hsb["mAch"], "ses": hsb["ses"], "school": hsb["school"].astype(str)})

t0 = time.perf_counter()
ours = ml.mixedlm("mAch ~ ses", df, groups=df["school"], re_formula="~ses").fit()
t_ours = time.perf_counter() - t0

with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    t0 = time.perf_counter()
    theirs = smf.mixedlm("mAch ~ ses", df, groups=df["school"], re_formula="~ses").fit()
    t_theirs = time.perf_counter() - t0

print(f"machine: {platform.machine()}, {platform.processor() or 'cpu'}; "
      f"Python {platform.python_version()}")
print(f"multilevel  ml.mixedlm(...).fit(): {t_ours * 1e3:9.1f} ms")
print(f"statsmodels smf.mixedlm(...).fit(): {t_theirs * 1e3:9.1f} ms "
      f"(converged: {theirs.converged}; {len(caught)} warnings)")
print(f"ratio: {t_theirs / t_ours:.1f}x")
print()
print(pd.DataFrame({"multilevel": ours.params, "statsmodels": theirs.params}))
print(f"llf: multilevel {ours.llf:.4f}, statsmodels {theirs.llf:.4f}")
