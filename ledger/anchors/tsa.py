"""The ``rfc3161`` anchor backend: RFC 3161 trusted timestamps of signed checkpoints (docs/formats.md, "RFC 3161
timestamp receipt"), with ``rfc3161-client``.

What is timestamped: SHA-256 of the exact checkpoint note text (origin, size, SM3 root and the log's SM2
signature line). Why not SM3: RFC 3161 imprints name their hash, and OpenSSL's TSA accepts SM3
(1.2.156.10197.1.401), but ``rfc3161-client`` builds requests with SHA-256 or SHA-512 only, and public
TSAs are not required to accept SM3; a SHA-256 imprint of the note binds it as firmly (the note itself
commits to the SM3 root). The verifier accepts SHA-256/384/512 and SM3 imprints.

Staged like every backend (``ledger.anchors.base``): ``prepare`` builds the TimeStampReq (with a fresh
nonce; its tx id is the hex SHA-256 of the request DER); ``submit`` POSTs it and keeps the reply in memory;
``status`` checks the reply (granted, same imprint and nonce, and, when roots are configured, a valid
signature chaining to them) and returns the token as the receipt. A TSA keeps nothing we could recover
after a restart, so a request whose reply was lost is ``AnchorCommitError`` (the anchorer asks anew).
A TSA that is down is normal: submit fails, the anchorer backs off and later timestamps the newest
checkpoint, which covers every older one.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from typing import Any

import rfc3161_client as tsp
from cryptography import x509

from ledger.anchors.base import AnchorReceipt, AnchorRequest, PendingAnchor
from ledger.clock import rfc3339
from ledger.errors import AnchorCommitError, AnchorSubmitError
from ledger.httppost import HttpUnreachable, post

__all__ = ["RECEIPT_KIND", "TimestampAuthority"]

RECEIPT_KIND = "rfc3161"
_SHA256 = "sha256"


class TimestampAuthority:
    """``Anchor`` that timestamps checkpoints at the RFC 3161 TSA ``url``.

    ``name`` labels the TSA in receipts (the trust root names its roots); ``roots`` are the PEM root
    certificates its tokens must chain to (empty: not checked here, only by the verifier); ``timeout`` bounds
    each request in seconds.
    """

    def __init__(self, url: str, *, name: str = "tsa", roots: Sequence[str] = (), timeout: float = 10.0) -> None:
        self.name, self.url, self._timeout = RECEIPT_KIND, url, timeout  # backend and pack kind: rfc3161
        self.tsa_name = name
        self._roots = [x509.load_pem_x509_certificate(pem.encode()) for pem in roots]
        self._replies: dict[str, bytes] = {}

    def prepare(self, request: AnchorRequest) -> PendingAnchor:
        """A TimeStampReq for SHA-256 of the checkpoint text, asking for the TSA's certificate."""
        text = request.checkpoint.text
        query = tsp.TimestampRequestBuilder().data(text.encode()).hash_algorithm(tsp.HashAlgorithm.SHA256) \
            .nonce(nonce=True).cert_request(cert_request=True).build()
        der = query.as_bytes()
        cp = request.checkpoint.checkpoint
        body = {"checkpoint": text, "request": base64.b64encode(der).decode(), "nonce": str(query.nonce)}
        return PendingAnchor(self.name, hashlib.sha256(der).hexdigest(), cp.tree_size, cp.root_hash, body)

    def submit(self, pending: PendingAnchor) -> None:
        """POST the request; keep the reply for ``status``. ``AnchorSubmitError`` if the TSA is unreachable
        or answers with an HTTP error (retried)."""
        try:
            answer = post(self.url, base64.b64decode(pending.body["request"]),
                          content_type="application/timestamp-query", timeout=self._timeout)
        except HttpUnreachable as exc:
            raise AnchorSubmitError(str(exc), backend=self.name, tx_id=pending.tx_id) from exc
        if answer.status != 200:
            raise AnchorSubmitError(f"{self.url} answered HTTP {answer.status}: {answer.body[:200]!r}",
                                    backend=self.name, tx_id=pending.tx_id)
        self._replies[pending.tx_id] = answer.body

    def status(self, pending: PendingAnchor) -> AnchorReceipt | None:
        """The receipt from the reply; ``AnchorCommitError`` if the TSA refused, or the reply does not fit
        the request, or it is lost (after a restart)."""
        reply = self._replies.pop(pending.tx_id, None)
        if reply is None:
            raise AnchorCommitError("no reply from the TSA is held for this request (the process restarted); "
                                    "timestamping anew", backend=self.name, tx_id=pending.tx_id)
        try:
            response = tsp.decode_timestamp_response(reply)
            self._check(pending, response)
        except (ValueError, tsp.VerificationError) as exc:
            raise AnchorCommitError(f"{self.url} gave an unusable timestamp: {exc}", backend=self.name,
                                    tx_id=pending.tx_id) from exc
        token = response.time_stamp_token()
        return AnchorReceipt(self.name, pending.tree_size, pending.root_hash, pending.tx_id, {
            "kind": RECEIPT_KIND, "tsa": self.tsa_name, "hash_algorithm": _SHA256,
            "checkpoint": pending.body["checkpoint"], "token": base64.b64encode(token).decode(),
            "gen_time": rfc3339(response.tst_info.gen_time)})

    def recover(self, after_tree_size: int | None) -> list[AnchorReceipt]:
        """Nothing: a TSA keeps no record we can read back."""
        return []

    def _check(self, pending: PendingAnchor, response: Any) -> None:
        if tsp.PKIStatus(response.status) not in (tsp.PKIStatus.GRANTED, tsp.PKIStatus.GRANTED_WITH_MODS):
            raise ValueError(f"status {response.status} {response.status_string}")
        imprint = hashlib.sha256(pending.body["checkpoint"].encode()).digest()
        info = response.tst_info
        if info.message_imprint.message != imprint or str(info.nonce) != pending.body["nonce"]:
            raise ValueError("the token's imprint or nonce is not the request's")
        if self._roots:
            builder = tsp.VerifierBuilder(nonce=int(pending.body["nonce"]))
            for root in self._roots:
                builder = builder.add_root_certificate(root)
            builder.build().verify(response, imprint)
