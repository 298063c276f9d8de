"""Tutorial 2: High School and Beyond (Hsb82: 7,185 students in 160 schools).

OLS, between, within and random-effects estimators of the ses slope with the Hausman test
(`ml.explore`), then the random intercept model in statsmodels' words (`ml.mixedlm`), random
slopes, and the cross-level interaction `mAch ~ ses * sector`.

Run: python python/examples/hsb.py
"""

import multilevel as ml

hsb = ml.load_dataset("Hsb82")

# OLS, between, within (fixed effects), random effects, Hausman.
print(ml.explore("mAch ~ ses", hsb, groups="school", bootstrap=0))
print()

# The random intercept model, statsmodels-style (change `smf.mixedlm` to `ml.mixedlm`).
r = ml.mixedlm("mAch ~ ses", hsb, groups="school").fit(reml=True)
print(r.summary())
print("school variance (cov_re):", round(float(r.cov_re.iloc[0, 0]), 4))
print()

# Random slopes: does the ses slope differ between schools?
m_int = ml.lmer("mAch ~ ses + (1 | school)", hsb)
m_slope = ml.lmer("mAch ~ ses + (ses | school)", hsb)
print(m_slope.summary())
print()
print(ml.compare(m_int, m_slope))
print()

# Cross-level interaction: does the ses slope depend on the school's sector?
m_x = ml.lmer("mAch ~ ses * sector + (ses | school)", hsb)
print(m_x.summary())
print()
print(m_x.tidy().round(4).to_string())
