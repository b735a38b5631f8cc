"""Models: lifetime value (:mod:`retain.models.clv`) and churn risk (:mod:`retain.models.churn`).

Shared infrastructure lives in private modules: ``_base`` (the scikit-learn estimator contract,
parameter constraints, fitted-state checks) and ``_mle`` (one maximum-likelihood driver with
analytic gradients, Hessian-based standard errors and convergence checklists).
"""
