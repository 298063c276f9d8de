"""Tutorial 1: 10 simulated schools x 20 students.

Ordinary least squares ignores the schools; a random intercept lets each school have its own
level; a random intercept and slope lets each school have its own slope too. The data are
simulated here (seeded), so the true values are known: intercept 50, slope 2, school SDs 5
(intercept) and 1 (slope), residual SD 3.

Run: python python/examples/schools_simulated.py
"""

import numpy as np
import pandas as pd

import multilevel as ml

rng = np.random.default_rng(2024)
n_schools, n_students = 10, 20
school = np.repeat([f"s{j + 1:02d}" for j in range(n_schools)], n_students)
u0 = rng.normal(0, 5, n_schools)  # school intercept deviations
u1 = rng.normal(0, 1, n_schools)  # school slope deviations
hours = rng.uniform(0, 10, n_schools * n_students)
j = np.repeat(np.arange(n_schools), n_students)
score = 50 + u0[j] + (2 + u1[j]) * hours + rng.normal(0, 3, n_schools * n_students)
data = pd.DataFrame({"score": score, "hours": hours, "school": pd.Categorical(school)})

# 1. OLS, ignoring the schools (least squares with NumPy).
X = np.column_stack([np.ones(len(data)), data["hours"]])
beta, *_ = np.linalg.lstsq(X, data["score"], rcond=None)
resid = data["score"] - X @ beta
sigma2 = resid @ resid / (len(data) - 2)
se = np.sqrt(np.diag(sigma2 * np.linalg.inv(X.T @ X)))
print("OLS (schools ignored)")
print(f"  intercept {beta[0]:8.3f} (SE {se[0]:.3f})   slope {beta[1]:6.3f} (SE {se[1]:.3f})")
print()

# 2. Random intercept.
m1 = ml.lmer("score ~ hours + (1 | school)", data)
print(m1.summary())
print()

# 3. Random intercept and slope.
m2 = ml.lmer("score ~ hours + (hours | school)", data)
print(m2.summary())
print()

# Does the slope vary between schools? Likelihood-ratio test (refitted by ML, as lme4).
print(ml.compare(m1, m2))
print()
print("Per-school lines (lme4's coef()):")
print(m2.coef["school"].round(3))
