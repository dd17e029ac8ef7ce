"""Tiezheng evidence service: FastAPI app, services, CLI and migrations."""

__all__: list[str] = []
