"""The KPI dashboard as a marketer sees it, in Japanese and English: figures, charts with their tables,
CSV downloads, freshness; who may open it; bad input shown on the form."""

import csv
import io

import pytest

from insights.services import refresh_insights_facts
from tests.crm.factories import StoreFactory, UserFactory
from tests.mfa import login_with_mfa

from .test_kpis import PERIOD, planted  # noqa: F401

pytestmark = pytest.mark.django_db
URL = "/insights/"


@pytest.fixture
def marketer(client):
    client.force_login(UserFactory(role="marketer", language="ja"))
    return client


def query(**extra):
    return {"from": PERIOD.first.isoformat(), "to": PERIOD.last.isoformat(), **extra}


def test_the_dashboard_shows_figures_charts_tables_and_freshness(marketer, planted):  # noqa: F811
    refresh_insights_facts()
    page = marketer.get(URL, query()).content.decode()
    assert "チャネル横断購入率" in page  # cross-channel purchase rate, in Japanese
    assert '<tr data-figure="cross_channel_purchase_rate">' in page
    assert "40.0%" in page  # this period
    assert "vendor/chartjs/chart.umd.min.js" in page and "cdn" not in page.lower()
    for key in ("rates", "spend", "points", "categories", "csat", "pickups"):
        assert f'data-chart="{key}"' in page and f'id="table-{key}"' in page and f"csv={key}" in page
    assert "complaint" in page  # the complaint category in the weekly trend
    assert "日次集計" in page  # how fresh the figures are


def test_the_dashboard_in_english(client, planted):  # noqa: F811
    client.force_login(UserFactory(role="marketer", language="en"))
    page = client.get(URL, query()).content.decode()
    assert "Cross-channel purchase rate" in page and "CSAT by channel" in page
    assert "every figure is computed live" in page


def test_each_table_downloads_as_csv(marketer, planted):  # noqa: F811
    response = marketer.get(URL, query(csv="figures"))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    by_key = {row[1]: row for row in rows[1:]}
    assert by_key["cross_channel_purchase_rate"][2:4] == ["40.0", "0.0"]
    assert by_key["omni_spend_per_customer"][2:4] == ["4500", ""]
    csat = list(csv.reader(io.StringIO(marketer.get(URL, query(csv="csat")).content.decode("utf-8-sig"))))
    assert ["email", "5.0", "1", "2"] in csat
    assert marketer.get(URL, query(csv="nope")).status_code == 400


def test_a_category_that_looks_like_a_formula_is_inert_in_the_csv(marketer, planted):  # noqa: F811
    from channels_hub.models import Ticket

    Ticket.objects.filter(category="delivery").update(category="=HYPERLINK(1)")
    text = marketer.get(URL, query(csv="categories")).content.decode("utf-8-sig")
    assert "'=HYPERLINK(1)" in text and ",=HYPERLINK" not in text


def test_bad_input_is_shown_on_the_form(marketer):
    response = marketer.get(URL, {"from": "2026-02-01", "to": "2026-01-01", "store": "NOPE"})
    assert response.status_code == 400
    page = response.content.decode()
    assert 'aria-invalid="true"' in page and "不明な店舗です" in page


def test_only_roles_with_the_permission_open_it(client):
    assert client.get(URL).status_code == 302  # to the login page
    client.force_login(UserFactory(role="store_staff", store=StoreFactory()))
    assert client.get(URL).status_code == 403
    client.force_login(UserFactory(role="agent"))
    assert client.get(URL).status_code == 403
    login_with_mfa(client, UserFactory(role="admin"))
    assert client.get(URL).status_code == 200


def test_the_menu_shows_insights_to_marketers(marketer):
    assert 'href="/insights/"' in marketer.get("/customers/").content.decode()
