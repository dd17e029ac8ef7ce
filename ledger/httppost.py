"""One small blocking HTTP POST (stdlib ``urllib``) for the parts of the log that call out: the TSA backend
and the witness collector. Transport failures become ``HttpUnreachable``; any HTTP status is returned."""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass

__all__ = ["HttpAnswer", "HttpUnreachable", "post"]

MAX_ANSWER_BYTES = 1024 * 1024


class HttpUnreachable(OSError):
    """The server could not be reached or did not answer in time (the caller backs off and retries)."""


@dataclass(frozen=True)
class HttpAnswer:
    """What the server answered: status code, content type and body (at most ``MAX_ANSWER_BYTES``)."""

    status: int
    content_type: str
    body: bytes


def post(url: str, body: bytes, *, content_type: str, timeout: float = 10.0) -> HttpAnswer:
    """POST ``body`` to ``url``; the answer whatever its status; ``HttpUnreachable`` if there is none."""
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return HttpAnswer(answer.status, answer.headers.get("Content-Type", ""), answer.read(MAX_ANSWER_BYTES))
    except urllib.error.HTTPError as exc:
        with exc:
            return HttpAnswer(exc.code, exc.headers.get("Content-Type", ""), exc.read(MAX_ANSWER_BYTES))
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise HttpUnreachable(f"cannot reach {url}: {getattr(exc, 'reason', exc)}") from exc
