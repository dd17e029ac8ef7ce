"""Device-side intake: building, committing and signing evidence events before they are sent."""

__all__: list[str] = []
