"""Device-side intake and the API client: building, committing and signing evidence events, and sending them
(and everything else the HTTP API offers) to the service with one typed client."""

from ingest.client import ApiClient, ApiError, ApiUnreachable, ClientError

__all__ = ["ApiClient", "ApiError", "ApiUnreachable", "ClientError"]
