//! Marginal models: GEE with sandwich standard errors and cluster-robust (CR0/CR1/CR2) covariance.
