"""Every ``ApiClient.connect`` shares one TLS context with httpx's default settings (certificates and host
names checked), built once per process instead of once per client (it reads the whole CA bundle)."""

from __future__ import annotations

import ssl

import httpx

from ingest.client import ApiClient, tls_context


def test_tls_context_is_built_once_and_verifies_like_httpx_default() -> None:
    context = tls_context()

    assert tls_context() is context
    default = httpx.create_ssl_context()
    assert (context.verify_mode, context.check_hostname) == (default.verify_mode, default.check_hostname)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert len(context.get_ca_certs()) == len(default.get_ca_certs()) > 0


def test_connect_uses_the_shared_context() -> None:
    with ApiClient.connect("https://127.0.0.1:1") as first, ApiClient.connect("http://127.0.0.1:1") as second:
        pools = [client.http._transport._pool for client in (first, second)]  # type: ignore[attr-defined]
        assert all(pool._ssl_context is tls_context() for pool in pools)
