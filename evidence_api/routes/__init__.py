"""HTTP routes, one module per resource; thin handlers over ``evidence_api.services``."""

__all__: list[str] = []
