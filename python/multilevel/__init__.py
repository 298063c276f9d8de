"""multilevel: mixed-effects (multilevel) models with lme4's numbers, from pandas, polars and
pyarrow data.

lme4-style::

    import multilevel as ml
    m = ml.lmer("Reaction ~ Days + (Days | Subject)", ml.load_dataset("sleepstudy"))
    print(m.summary())

statsmodels-style::

    r = ml.mixedlm("Reaction ~ Days", data, groups="Subject", re_formula="~Days").fit()
    r.params, r.bse, r.cov_re, r.random_effects

Workflow: ``ml.explore`` (ICC, OLS/between/within/random estimators, Hausman), ``ml.meta``
(metafor's rma), ``ml.gee`` (geepack's geeglm), ``ml.robust`` (clubSandwich's CR0/1/2).
"""

from ._multilevel import MultilevelError, __version__
from ._models import (
    ComparisonTable,
    GeneralizedLinearMixedModel,
    LinearMixedModel,
    ExploreResult,
    Figure,
    compare,
    explore,
    dataset_names,
    glmer,
    lmer,
    load_dataset,
)
from ._statsmodels import MixedLM, MixedLMResults, mixedlm
from ._workflow import GeeResult, MetaAnalysis, RobustResult, gee, meta, robust

__all__ = [
    "ComparisonTable",
    "GeneralizedLinearMixedModel",
    "LinearMixedModel",
    "MixedLM",
    "MixedLMResults",
    "MultilevelError",
    "__version__",
    "ExploreResult",
    "Figure",
    "GeeResult",
    "MetaAnalysis",
    "RobustResult",
    "compare",
    "explore",
    "dataset_names",
    "gee",
    "meta",
    "robust",
    "glmer",
    "lmer",
    "load_dataset",
    "mixedlm",
]
