"""The offer plan over HTTP: ``GET /api/v1/plan`` (JSON) and ``/api/v1/plan.csv`` (audited)."""
