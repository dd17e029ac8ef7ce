"""Service layer: rules and storage work behind the routes, with no FastAPI imports."""

from evidence_api.services.container import Services

__all__ = ["Services"]
