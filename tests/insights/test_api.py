"""GET /api/v1/insights/kpis/: the contract's figures with their previous period, the bad input an
integration may send (400 naming the parameter), scopes, and what a staff session may see."""

import datetime as dt

import pytest

from insights.kpis import FIGURES
from tests.crm.factories import StoreFactory, UserFactory

from .test_kpis import EXPECTED, PERIOD, planted  # noqa: F401  the planted data set

pytestmark = pytest.mark.django_db
URL = "/api/v1/insights/kpis/"


def test_the_figures_of_the_period_and_the_one_before(api, planted):  # noqa: F811
    response = api("insights:read").get(URL, {"from": PERIOD.first.isoformat(), "to": PERIOD.last.isoformat()})
    assert response.status_code == 200
    body = response.json()
    assert {name: body[name] for name in FIGURES} == EXPECTED
    assert body["period"] == {"from": PERIOD.first.isoformat(), "to": PERIOD.last.isoformat()}
    previous = PERIOD.previous()
    assert body["previous_period"] == {"from": previous.first.isoformat(), "to": previous.last.isoformat()}
    assert body["filters"] == {"store": None, "prefecture": None, "channel": None}
    assert "computed_at" in body["freshness"]


def test_filters_are_echoed_and_applied(api, planted):  # noqa: F811
    params = {"from": PERIOD.first.isoformat(), "to": PERIOD.last.isoformat(), "store": "S1", "channel": "store"}
    body = api("insights:read").get(URL, params).json()
    assert body["filters"] == {"store": "S1", "prefecture": None, "channel": "store"}
    assert body["points_issued"]["value"] == 100


def test_no_parameters_means_the_last_four_weeks_and_no_data_means_zeros_and_nulls(api):
    body = api("insights:read").get(URL).json()
    today = dt.date.fromisoformat(body["period"]["to"])
    assert dt.date.fromisoformat(body["period"]["from"]) == today - dt.timedelta(days=27)
    assert body["resolution_rate"] == {"value": None, "previous": None}
    assert body["points_issued"] == {"value": 0, "previous": 0}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2026-02-01", "to": "2026-01-01"}, "to"),
        ({"from": "2020-01-01", "to": "2025-01-01"}, "to"),
        ({"from": "2026-13-01"}, "from"),
        ({"to": "yesterday"}, "to"),
        ({"store": "NOPE"}, "store"),
        ({"channel": "fax"}, "channel"),
        ({"prefecture": "カリフォルニア"}, "prefecture"),
    ],
)
def test_bad_input_is_400_naming_the_parameter(api, params, field):
    response = api("insights:read").get(URL, params)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "validation_error"
    assert list(body["errors"]) == [field]


def test_a_period_of_exactly_five_years_is_allowed(api):
    assert api("insights:read").get(URL, {"from": "2020-01-01", "to": "2024-12-31"}).status_code == 200


def test_scopes_and_staff_roles(api, client):
    assert api("customers:read").get(URL).status_code == 403
    assert client.get(URL).status_code in (401, 403)
    client.force_login(UserFactory(role="marketer"))
    assert client.get(URL).status_code == 200
    client.force_login(UserFactory(role="store_staff", store=StoreFactory()))
    assert client.get(URL).status_code == 403


def test_the_schema_describes_the_insights_endpoints(client):
    paths = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()["paths"]
    assert "/api/v1/insights/kpis/" in paths
    assert "/api/v1/products/{sku}/bought-together/" in paths
    assert "/api/v1/customers/{customer_id}/recommendations/" in paths
    kpis = paths["/api/v1/insights/kpis/"]["get"]
    assert {p["name"] for p in kpis["parameters"]} >= {"from", "to", "store", "prefecture", "channel"}
