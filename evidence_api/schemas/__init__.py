"""Request and response bodies, per resource and direction."""

__all__: list[str] = []
