"""``evidence_api.proof_path`` answers exactly what the routes answer: the same status, headers and bytes for any
query (well-formed ones it serves itself, all others it passes on), compared with the same app without it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evidence_api.config import Settings
from evidence_api.main import create_app
from evidence_api.proof_path import ProofPath
from tests.api.support import Api
from tests.helpers import signed_item

SIZE = 9


@pytest.fixture
def reference(api: Api, settings: Settings) -> Iterator[TestClient]:
    """The same app without ``ProofPath``, on the running app's services (its lifespan is not run)."""
    for n in range(SIZE):
        assert api.post_events({"events": [signed_item(api.guardian, payload={"n": n})]}).status_code == 201
    app = create_app(settings)
    app.user_middleware = [m for m in app.user_middleware if m.cls is not ProofPath]
    app.state.services = api.client.app.state.services  # type: ignore[attr-defined]
    yield TestClient(app, raise_server_exceptions=False)


_NAMES = st.sampled_from(["leaf_index", "tree_size", "first", "second", "x", "leaf%5Findex", ""])
_VALUES = st.one_of(st.integers(-2, SIZE + 2).map(str), st.sampled_from(
    ["", "05", "+1", " 1", "1.0", "abc", "1e3", "%31", "00", "9" * 17, "9" * 18, str(2**56), str(2**56 + 1)]))
_PAIRS = st.lists(st.tuples(_NAMES, st.sampled_from(["=", ""]), _VALUES), max_size=4)


def _answer(client: TestClient, method: str, path: str, query: str, body: bytes | None) -> tuple[object, ...]:
    resp = client.request(method, f"{path}?{query}" if query else path, content=body)
    return resp.status_code, resp.headers.multi_items(), resp.content


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(["/v1/log/proofs/inclusion", "/v1/log/proofs/consistency", "/v1/log/proofs/inclusion/"]),
       pairs=_PAIRS, separator=st.sampled_from(["&", "&", ";"]), method=st.sampled_from(["GET", "GET", "HEAD", "POST"]),
       body=st.sampled_from([None, None, b"", b"{}"]))
def test_proof_path_answers_as_the_routes_do(api: Api, reference: TestClient, path: str,
                                             pairs: list[tuple[str, str, str]], separator: str, method: str,
                                             body: bytes | None) -> None:
    query = separator.join(f"{name}{eq}{value}" for name, eq, value in pairs)

    assert _answer(api.client, method, path, query, body) == _answer(reference, method, path, query, body)


@pytest.mark.parametrize(("path", "query"), [
    ("/v1/log/proofs/inclusion", "leaf_index=3&tree_size=9"), ("/v1/log/proofs/inclusion", "tree_size=9&leaf_index=0"),
    ("/v1/log/proofs/inclusion", "leaf_index=9&tree_size=9"), ("/v1/log/proofs/inclusion", "leaf_index=0&tree_size=10"),
    ("/v1/log/proofs/consistency", "first=4&second=9"), ("/v1/log/proofs/consistency", "second=9&first=0"),
    ("/v1/log/proofs/consistency", "first=5&second=4"), ("/v1/log/proofs/consistency", f"first=0&second={2**56}"),
])
def test_well_formed_proof_requests_and_their_refusals_match_the_routes(
        api: Api, reference: TestClient, monkeypatch: pytest.MonkeyPatch, path: str, query: str) -> None:
    log, calls = api.client.app.state.services.log, []  # type: ignore[attr-defined]
    for name in ("prove_inclusion", "prove_consistency"):
        real = getattr(log, name)
        monkeypatch.setattr(log, name, lambda *args, real=real: calls.append(args) or real(*args))

    served = _answer(api.client, "GET", path, query, None)
    asked = len(calls)

    assert served == _answer(reference, "GET", path, query, None)
    # served by the fast path (one proof), or refused by it and answered by the route (which proves again)
    assert asked == (1 if served[0] == 200 else 2)
