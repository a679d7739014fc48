import pytest
from django.core import mail

from campaigns.models import Campaign, CampaignRecipient, Segment

from .factories import CampaignFactory, CustomerFactory, SegmentFactory, make_order

pytestmark = pytest.mark.django_db
TOKYO = {
    "all": [
        {"field": "prefecture", "op": "in", "value": ["東京都"]},
        {"field": "email_opt_in", "op": "eq", "value": True},
    ]
}


def test_preview_counts_and_samples(api):
    customers = CustomerFactory.create_batch(3)
    CustomerFactory(prefecture="大阪府")
    response = api("campaigns:read").post("/api/v1/segments/preview/", {"rules": TOKYO}, format="json")
    assert response.status_code == 200
    assert response.json() == {"count": 3, "sample": sorted(c.public_id for c in customers)}


@pytest.mark.parametrize(
    ("rules", "path"),
    [
        ({"all": [{"field": "prefecture", "op": "in", "value": ["東京都"]}, {"field": "age", "op": "in", "value": 3}]},
         "rules.all.1.op"),
        ({"all": [{"field": "shoe_size", "op": "eq", "value": 3}]}, "rules.all.0.field"),
        ({"all": [{"field": "spend", "op": "gte", "value": "lots"}]}, "rules.all.0.value"),
        ("everyone", "rules"),
    ],
)  # fmt: skip
def test_preview_with_a_bad_rule_names_its_path(api, rules, path):
    response = api("campaigns:read").post("/api/v1/segments/preview/", {"rules": rules}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "validation_error" and path in body["errors"]
    assert response["Content-Type"] == "application/problem+json"


def test_preview_refuses_unknown_body_fields_and_missing_rules(api):
    client = api("campaigns:read")
    assert "rule" in client.post("/api/v1/segments/preview/", {"rule": TOKYO}, format="json").json()["errors"]
    assert "rules" in client.post("/api/v1/segments/preview/", {}, format="json").json()["errors"]


def test_scopes(api):
    assert api("customers:read").post("/api/v1/segments/preview/", {"rules": TOKYO}, format="json").status_code == 403
    assert (
        api("campaigns:read").post("/api/v1/segments/", {"name": "x", "rules": TOKYO}, format="json").status_code == 403
    )
    assert Segment.objects.count() == 0


def test_create_and_read_segment_with_fresh_count(api):
    CustomerFactory()
    client = api("campaigns:read", "campaigns:write")
    response = client.post("/api/v1/segments/", {"name": "東京", "rules": TOKYO}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["id"].startswith("seg_") and body["count"] == 1 and body["rules"] == TOKYO and body["name"] == "東京"
    CustomerFactory()
    assert client.get(f"/api/v1/segments/{body['id']}/").json()["count"] == 2
    assert client.get("/api/v1/segments/seg_nope/").status_code == 404


def test_create_segment_with_bad_rules_writes_nothing(api):
    response = api("campaigns:write").post(
        "/api/v1/segments/", {"name": "", "rules": {"any": [{"field": "age"}]}}, format="json"
    )
    assert response.status_code == 400
    assert Segment.objects.count() == 0


def _campaign_body(segment_obj, **extra):
    return {
        "name": "冬のセール", "segment": segment_obj.public_id, "subject": "{{ customer.family_name }}様へ",
        "from_email": "Shop <news@shop.example>", "body_text": "セール {{ unsubscribe_url }}", **extra,
    }  # fmt: skip


def test_create_send_and_report_campaign(api, django_capture_on_commit_callbacks):
    customers = CustomerFactory.create_batch(2)
    CustomerFactory(email_opt_in=False)
    client = api("campaigns:read", "campaigns:write")
    segment = SegmentFactory(rules=TOKYO | {"all": [{"field": "prefecture", "op": "eq", "value": "東京都"}]})
    response = client.post("/api/v1/campaigns/", _campaign_body(segment), format="json")
    assert response.status_code == 201
    campaign_id = response.json()["id"]
    assert response.json() == {"id": campaign_id, "status": "draft"} and campaign_id.startswith("cmp_")

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/api/v1/campaigns/{campaign_id}/send/")
    assert response.status_code == 202
    assert response.json()["id"] == campaign_id
    assert len(mail.outbox) == 2
    make_order(customers[0], channel="store", total=8000, days_ago=0)
    make_order(customers[1], channel="ec", total=12000, days_ago=0)

    body = client.get(f"/api/v1/campaigns/{campaign_id}/").json()
    assert body["status"] == "sent"
    assert body["counts"] == {
        "audience": 3, "recipients": 2, "sent": 2, "failed": 0, "suppressed": 1, "holdout": 0,
        "opened": 0, "clicked": 0, "unsubscribed": 0,
    }  # fmt: skip
    assert body["attributed"] == {"orders": 2, "revenue": 20000, "store_orders": 1, "ec_orders": 1}


def test_second_send_is_409_and_sends_nothing(api, django_capture_on_commit_callbacks):
    CustomerFactory()
    campaign = CampaignFactory()
    client = api("campaigns:write")
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(f"/api/v1/campaigns/{campaign.public_id}/send/").status_code == 202
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/api/v1/campaigns/{campaign.public_id}/send/")
    assert response.status_code == 409 and response.json()["code"] == "invalid_state"
    assert len(mail.outbox) == 1 and CampaignRecipient.objects.count() == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"body_text": "{{ name }}"}, "body_text"),
        ({"subject": "{% if %}"}, "subject"),
        ({"body_html": "<p>{% include 'secret.html' %}</p>"}, "body_html"),
        ({"holdout_percent": 120}, "holdout_percent"),
        ({"holdout_percent": "half"}, "holdout_percent"),
        ({"segment": "seg_missing"}, "segment"),
        ({"from_email": "nobody"}, "from_email"),
        ({"status": "sent"}, "status"),
    ],
)
def test_create_campaign_bad_input_names_the_field_and_writes_nothing(api, change, field):
    response = api("campaigns:write").post(
        "/api/v1/campaigns/", _campaign_body(SegmentFactory(), **change), format="json"
    )
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert Campaign.objects.count() == 0


def test_unknown_campaign_is_404(api):
    client = api("campaigns:read", "campaigns:write")
    assert client.get("/api/v1/campaigns/cmp_nope/").status_code == 404
    assert client.post("/api/v1/campaigns/cmp_nope/send/").status_code == 404
