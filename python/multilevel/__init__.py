"""multilevel: mixed-effects (multilevel) models with lme4's numbers, from pandas, polars and
pyarrow data.

lme4-style::

    import multilevel as ml
    m = ml.lmer("Reaction ~ Days + (Days | Subject)", ml.load_dataset("sleepstudy"))
    print(m.summary())

statsmodels-style::

    r = ml.mixedlm("Reaction ~ Days", data, groups="Subject", re_formula="~Days").fit()
    r.params, r.bse, r.cov_re, r.random_effects
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
    "compare",
    "explore",
    "dataset_names",
    "glmer",
    "lmer",
    "load_dataset",
    "mixedlm",
]
