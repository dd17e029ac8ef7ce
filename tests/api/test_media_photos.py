"""On-site photos as a permit rule (the tenant's defaults): the start needs two photos each of protective
equipment worn and isolation in place, close-out two of the cleared site, all taken inside the area's
geofence; the refusal names what is missing, as every rule does."""

from __future__ import annotations

import pytest

from tests.api.media_support import camera, jpeg, store_photo
from tests.api.permit_support import CHECKS, Plant, gas, near, seed_plant, to_approved
from tests.api.support import Api, assert_problem
from tests.helpers import TENANT


@pytest.fixture
def plant(api: Api) -> Plant:
    plant = seed_plant(api)
    plant.admin.set_rules({"hot_work_upgrade": {"night_from_hour": None, "rest_days": []}})  # photo rule: defaults
    return plant


def _photos(plant: Plant, purpose: str, count: int, *, metres_north: float = 10.0) -> None:
    phone = camera(plant.api, f"phone-{purpose}-{metres_north:g}-{count}", kind="phone")
    for n in range(count):
        store_photo(plant.api, phone, jpeg(seed=n), tenant=TENANT, captured_at=plant.clock.stamp(),
                    location=near(metres_north), permit="HW-1", purpose=purpose)


def test_start_and_close_out_wait_for_their_photos(plant: Plant) -> None:
    to_approved(plant)
    plant.ok("analyst", "gas.analysed", gas(clock=plant.clock))
    plant.ok("guard-1", "guardian.checkin", {"qr_token": plant.qr}, location=near(10))
    plant.ok("guard-1", "guardian.checks_confirmed", CHECKS)

    refused = plant.act("leader", "permit.activated", {"note": ""})
    body = assert_problem(refused, 422, "rule-violation",
                          "permit.activated needs on-site photos first: ppe 0 of 2; isolation 0 of 2; upload each with "
                          "POST /v1/media")
    assert body["rule"] == "photos.missing"

    _photos(plant, "ppe", 2)
    _photos(plant, "isolation", 1)
    _photos(plant, "isolation", 1, metres_north=2_000)  # outside unit-3's 200 m geofence
    refused = plant.act("leader", "permit.activated", {"note": ""})
    assert_problem(refused, 422, "rule-violation", r"isolation 1 of 2 \(1 more taken outside the area's geofence or "
                                                   r"without a location\)")
    _photos(plant, "isolation", 1, metres_north=-20)
    assert plant.ok("leader", "permit.activated", {"note": ""})["permit"]["state"] == "active"

    plant.ok("leader", "permit.completed", {"note": "完工"})
    refused = plant.act("head", "permit.closed", {"result": "accepted"})
    assert_problem(refused, 422, "rule-violation", "permit.closed needs on-site photos first: site_cleared 0 of 2")
    _photos(plant, "site_cleared", 2)
    assert plant.ok("head", "permit.closed", {"result": "accepted"})["permit"]["state"] == "closed"


def test_photo_steps_are_a_tenant_setting(plant: Plant) -> None:
    plant.admin.set_rules({"hot_work_upgrade": {"night_from_hour": None, "rest_days": []},
                           "photo_steps": {"permit.activated": [{"purpose": "ppe", "min_count": 1}],
                                           "permit.closed": []}})
    to_approved(plant)
    plant.ok("analyst", "gas.analysed", gas(clock=plant.clock))
    plant.ok("guard-1", "guardian.checkin", {"qr_token": plant.qr}, location=near(10))
    plant.ok("guard-1", "guardian.checks_confirmed", CHECKS)
    assert_problem(plant.act("leader", "permit.activated", {"note": ""}), 422, "rule-violation", "ppe 0 of 1$|ppe 0 of 1;")
    _photos(plant, "ppe", 1)
    assert plant.ok("leader", "permit.activated", {"note": ""})["permit"]["state"] == "active"
