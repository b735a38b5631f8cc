"""Uplift evaluations over HTTP: ``GET /api/v1/uplift/campaigns`` and ``.../campaigns/{id}``."""
