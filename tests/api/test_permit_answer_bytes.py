"""An accepted action's answer is written by the route itself (``routes.permits``: pydantic's serializer of
``ActionOut``, without FastAPI validating the model it was just built as): byte for byte what FastAPI's own
serialization of the route's ``response_model`` gives for that answer, with the same status and media type,
at every step of a walk (a draft's 201 included, and an action with a follow-up the service signed)."""

from __future__ import annotations

import asyncio

import httpx
from fastapi.routing import APIRoute, serialize_response

from evidence_api.routes import permits
from evidence_api.schemas.permits import ActionOut
from tests.api.permit_support import APPROVERS, CHECKS, gas, hot_work, near, seed_plant
from tests.api.support import Api


def _route(path: str) -> APIRoute:
    return next(r for r in permits.router.routes if isinstance(r, APIRoute) and r.path == path and "POST" in r.methods)


def _as_fastapi_would(route: APIRoute, resp: httpx.Response) -> bytes:
    answer = ActionOut.model_validate_json(resp.content)
    content: bytes = asyncio.run(serialize_response(field=route.response_field, response_content=answer,
                                                    by_alias=route.response_model_by_alias, dump_json=True))
    return content


def test_every_answer_of_a_walk_is_fastapis_serialization(api: Api) -> None:
    plant = seed_plant(api)
    draft, action = _route("/v1/permits"), _route("/v1/permits/{permit_id}/actions")
    answers = [(draft, plant.act("applicant", "permit.drafted", hot_work(clock=plant.clock)))]
    answers.append((action, plant.act("applicant", "permit.submitted", {"note": ""})))
    for step in answers[-1][1].json()["permit"]["route"]:
        for role in step:
            answers.append((action, plant.act(APPROVERS[role], "permit.approved", {"role": role, "opinion": "同意"},
                                              location=near(2))))
    answers.append((action, plant.act("analyst", "gas.analysed", gas(clock=plant.clock))))
    answers.append((action, plant.act("guard-1", "guardian.checkin", {"qr_token": plant.qr}, location=near(10))))
    answers.append((action, plant.act("guard-1", "guardian.checks_confirmed", CHECKS)))
    answers.append((action, plant.act("leader", "permit.activated", {"note": ""})))
    # out of limits: the service suspends the permit and raises an alarm, signed in the same append
    answers.append((action, plant.act("analyst", "gas.analysed", gas(minutes_ago=0, purpose="periodic", clock=plant.clock,
                                                                   combustible_pct_vol=0.8))))
    assert len(answers[-1][1].json()["receipts"]) > 1, "the suspension's receipts come with the reading's"
    for route, resp in answers:
        assert resp.status_code == (route.status_code or 200), resp.text
        assert resp.headers["content-type"] == "application/json"
        assert resp.content == _as_fastapi_would(route, resp)
