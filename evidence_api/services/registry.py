"""Registry verification of special-operations certificates: the ``CertificateRegistry`` adapter protocol, the
built-in ``HttpRegistry`` (a JSON lookup by URL template) and ``compare`` of a stored certificate with what the
registry says.

The official query (应急管理部 特种作业操作证查询) has no public API, so the adapter is generic: an operator
points ``HttpRegistry`` at a gateway, or plugs in their own adapter. With none configured nothing is checked,
and the service records that the check could not happen rather than pretending it did.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote

import httpx

from evidence_api.services.errors import ServiceError

__all__ = ["CertificateRegistry", "HttpRegistry", "RegistryAnswer", "RegistryUnavailable", "compare"]

_COMPARED = ("holder_name", "sub_type", "expires_on", "review_due_on")


class RegistryUnavailable(ServiceError):
    """The registry could not be asked, or its answer could not be read; the message says why."""


@dataclass(frozen=True)
class RegistryAnswer:
    """What a registry said about a certificate number: ``found`` and the fields it returned (``record``)."""

    found: bool
    record: dict[str, Any] = field(default_factory=dict)


class CertificateRegistry(Protocol):
    """An authority's certificate registry."""

    def lookup(self, number: str, holder_name: str) -> RegistryAnswer:
        """What the registry holds for certificate ``number`` of ``holder_name``.

        Returns ``RegistryAnswer(found=False)`` when the registry answers that it has no such certificate;
        raises ``RegistryUnavailable`` when it cannot be reached or answers something unreadable.
        """
        ...


class HttpRegistry:
    """A registry behind an HTTP GET returning JSON.

    ``url_template`` has ``{number}`` and ``{holder_name}`` placeholders (filled URL-quoted), e.g.
    ``https://gw.example/certs?no={number}&name={holder_name}``. A 200 answer is a JSON object with the fields
    of the certificate (``holder_name``, ``sub_type``, ``expires_on``, ``review_due_on``, ``status``; any may be
    missing) and optionally ``"found": false``; a 404 means not found. ``timeout`` is in seconds.
    """

    def __init__(self, url_template: str, *, timeout: float = 5.0, headers: dict[str, str] | None = None) -> None:
        self._template = url_template
        self._client = httpx.Client(timeout=timeout, headers=headers)

    def lookup(self, number: str, holder_name: str) -> RegistryAnswer:
        """GET the filled template; see the class docstring for the answers understood."""
        url = self._template.format(number=quote(number, safe=""), holder_name=quote(holder_name, safe=""))
        status, body = self._get(url)
        if status == 404:
            return RegistryAnswer(found=False)
        if status != 200:
            raise RegistryUnavailable(f"registry answered HTTP {status}")
        if not isinstance(body, dict):
            raise RegistryUnavailable(f"registry answer is not a JSON object: {str(body)[:100]!r}")
        return RegistryAnswer(found=body.get("found", True) is not False, record=body)

    def _get(self, url: str) -> tuple[int, Any]:
        """The status and parsed JSON body of GET ``url``; every transport failure becomes ``RegistryUnavailable``."""
        try:
            resp = self._client.get(url)
            return resp.status_code, resp.json() if resp.status_code == 200 else None
        except httpx.HTTPError as exc:
            raise RegistryUnavailable(f"registry unreachable: {type(exc).__name__}: {exc}") from exc
        except ValueError as exc:
            raise RegistryUnavailable(f"registry answer is not JSON: {exc}") from exc

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._client.close()


def compare(certificate: dict[str, Any], answer: RegistryAnswer) -> list[str]:
    """Where ``answer`` disagrees with the stored ``certificate`` row; ``[]`` when it confirms it.

    A field the registry did not return is not compared; a registry status other than ``valid`` is a
    disagreement.

    >>> compare({"holder_name": "王五", "sub_type": "1.1"}, RegistryAnswer(True, {"holder_name": "王五"}))
    []
    >>> compare({"holder_name": "王五"}, RegistryAnswer(True, {"holder_name": "王六"}))
    ["holder_name: registry has '王六', we have '王五'"]
    """
    if not answer.found:
        return ["number: the registry has no such certificate"]
    problems = [f"{key}: registry has {answer.record[key]!r}, we have {certificate.get(key)!r}"
                for key in _COMPARED if key in answer.record and str(answer.record[key]) != str(certificate.get(key))]
    status = answer.record.get("status")
    if status is not None and status != "valid":
        problems.append(f"status: registry says {status!r}")
    return problems
