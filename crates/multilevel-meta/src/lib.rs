//! Random-effects meta-analysis and meta-regression (metafor's rma: REML, ML, DL, PM, HE, SJ, FE).
