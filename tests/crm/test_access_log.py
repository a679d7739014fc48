"""Who saw whom: every read of a person's data leaves one access log entry (staff pages, API reads,
campaign previews, exports), none for a read that found nobody; admins query it; old entries are
purged after the retention period. And data minimisation: no unfiltered customer list without
customers:export, masked contacts in store staff's search results."""

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.utils import timezone

from crm.models import AccessLogEntry
from crm.privacy.access_log import purge_access_log
from tests.campaigns.factories import CampaignFactory
from tests.channels_hub.factories import MessageFactory, TicketFactory
from tests.mfa import login_as

from .factories import CustomerFactory, IdentityFactory, UserFactory

pytestmark = pytest.mark.django_db


def entries():
    return list(AccessLogEntry.objects.order_by("pk").values_list("kind", "customer__public_id", "actor"))


def test_an_api_read_of_one_customer_records_the_key_the_address_and_the_customer(api):
    customer = CustomerFactory()
    IdentityFactory(customer=customer, channel="ec", external_id="EC-1")
    reader = api("customers:read")
    reader.get(f"/api/v1/customers/{customer.public_id}/", REMOTE_ADDR="203.0.113.9")
    reader.get("/api/v1/customers/resolve/", {"channel": "ec", "external_id": "EC-1"})
    reader.get(f"/api/v1/customers/{customer.public_id}/timeline/")
    entry = AccessLogEntry.objects.order_by("pk").first()
    assert entry.api_key is not None and entry.actor.startswith("api-key:test")
    assert entry.ip_address == "203.0.113.9" and entry.what == f"GET /api/v1/customers/{customer.public_id}/"
    assert entries() == [("api_read", customer.public_id, entry.actor)] * 3


def test_a_search_records_each_customer_it_showed_and_nobody_else(api):
    found = [CustomerFactory(family_name="佐藤"), CustomerFactory(family_name="佐藤")]
    CustomerFactory(family_name="鈴木")
    api("customers:read").get("/api/v1/customers/", {"q": "佐藤"})
    assert sorted(e[1] for e in entries()) == sorted(c.public_id for c in found)
    assert {e[0] for e in entries()} == {"api_search"}


def test_reads_that_find_nobody_or_are_refused_record_nothing(api):
    reader = api("customers:read")
    assert reader.get("/api/v1/customers/cus_NOPE/").status_code == 404
    assert reader.get("/api/v1/customers/resolve/", {"channel": "ec", "external_id": "nobody"}).status_code == 404
    assert api("catalog:read").get(f"/api/v1/customers/{CustomerFactory().public_id}/").status_code == 403
    assert reader.get("/api/v1/customers/", {"q": "該当なし"}).json()["results"] == []
    assert entries() == []


def test_the_caller_screen_pop_records_the_callers_it_showed(api):
    customer = CustomerFactory(phone="+819055556666")
    api("customers:read").get("/api/v1/hub/caller/", {"phone": "090-5555-6666"})
    assert [e[:2] for e in entries()] == [("api_read", customer.public_id)]


def test_staff_opening_the_360_page_a_ticket_or_a_preview_as_the_customer_is_recorded(client):
    user = UserFactory(role="admin", email="boss@tsunagu.example")
    user.is_superuser = True
    user.save()
    login_as(client, user)
    customer = CustomerFactory()
    ticket = TicketFactory(customer=customer)
    MessageFactory(ticket=ticket)
    campaign = CampaignFactory()
    assert client.get(f"/customers/{customer.public_id}/").status_code == 200
    assert client.get(f"/hub/tickets/{ticket.public_id}/").status_code == 200
    assert client.get(f"/campaigns/{campaign.public_id}/preview/?customer={customer.public_id}").status_code == 200
    assert client.get(f"/campaigns/{campaign.public_id}/preview/").status_code == 200  # the sample: nobody
    assert entries() == [
        ("customer_page", customer.public_id, "boss@tsunagu.example"),
        ("ticket", customer.public_id, "boss@tsunagu.example"),
        ("campaign_preview", customer.public_id, "boss@tsunagu.example"),
    ]
    assert AccessLogEntry.objects.first().user == user


def test_access_log_command_lists_who_saw_her_newest_first(api):
    customer = CustomerFactory()
    api("customers:read").get(f"/api/v1/customers/{customer.public_id}/")
    call_command("export_customer", customer.public_id, stdout=io.StringIO())
    out = io.StringIO()
    call_command("access_log", "--customer", customer.public_id, stdout=out)
    kinds = [line.split("\t")[2] for line in out.getvalue().splitlines()]
    assert kinds == ["export", "api_read"]


def test_entries_older_than_the_retention_are_purged(settings):
    settings.ACCESS_LOG_RETENTION_DAYS = 30
    customer = CustomerFactory()
    now = timezone.now()
    AccessLogEntry.objects.create(
        customer=customer, kind="export", what="old", actor="x", at=now - dt.timedelta(days=31)
    )
    AccessLogEntry.objects.create(
        customer=customer, kind="export", what="new", actor="x", at=now - dt.timedelta(days=29)
    )
    assert purge_access_log() == 1
    assert purge_access_log() == 0
    assert list(AccessLogEntry.objects.values_list("what", flat=True)) == ["new"]


# --- Minimisation -------------------------------------------------------------------------------------
def test_listing_every_customer_needs_customers_export(api):
    CustomerFactory()
    refused = api("customers:read").get("/api/v1/customers/")
    assert refused.status_code == 400
    assert refused.json()["code"] == "validation_error" and "customers:export" in refused.json()["errors"]["q"][0]
    assert api("customers:read").get("/api/v1/customers/", {"q": "  "}).status_code == 400
    listed = api("customers:read", "customers:export").get("/api/v1/customers/")
    assert listed.status_code == 200 and len(listed.json()["results"]) == 1


def test_staff_without_the_export_permission_cannot_list_everyone_through_the_api(client):
    CustomerFactory()
    login_as(client, UserFactory(role="store_staff"))
    assert client.get("/api/v1/customers/").status_code == 400
    client.logout()
    login_as(client, UserFactory(role="marketer"))
    assert client.get("/api/v1/customers/").status_code == 200


def test_store_staff_see_masked_contacts_in_search_and_full_ones_on_the_logged_360_page(client):
    customer = CustomerFactory(family_name="山本", email="yamamoto@example.jp", phone="+819012345678")
    login_as(client, UserFactory(role="store_staff"))
    results = client.get("/customers/", {"q": "山本"}).content.decode()
    assert "y•••@example.jp" in results and "•••••••5678" in results
    assert "yamamoto@example.jp" not in results and "1234" not in results
    assert entries() == []
    page = client.get(f"/customers/{customer.public_id}/").content.decode()
    assert "yamamoto@example.jp" in page
    assert [e[0] for e in entries()] == ["customer_page"]


def test_agents_see_full_contacts_in_search(client):
    CustomerFactory(family_name="山本", email="yamamoto@example.jp")
    login_as(client, UserFactory(role="agent"))
    assert "yamamoto@example.jp" in client.get("/customers/", {"q": "山本"}).content.decode()
