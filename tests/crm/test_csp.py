"""A Content-Security-Policy on every page (audit finding 8): scripts and style elements only from
our origin or with the page's nonce, no inline event handlers left in our templates."""

import re

import pytest
from django.test import Client

from tests.campaigns.factories import CampaignFactory, SegmentFactory
from tests.channels_hub.factories import MessageFactory, TicketFactory
from tests.crm.factories import CustomerFactory
from tests.mfa import login_with_mfa

pytestmark = pytest.mark.django_db
_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.IGNORECASE)
_SCRIPT_OR_STYLE = re.compile(r"<(script|style)\b([^>]*)>", re.IGNORECASE)


def policy_of(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


def assert_strict_page(response):
    assert response.status_code == 200, response.status_code
    policy = policy_of(response)
    assert "'unsafe-inline'" not in policy["script-src"] and "'unsafe-eval'" not in policy["script-src"]
    assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]
    html = response.content.decode()
    nonces = [n.removeprefix("'nonce-").rstrip("'") for n in policy["script-src"] if n.startswith("'nonce-")]
    for _tag, attributes in _SCRIPT_OR_STYLE.findall(html):
        if "src=" in attributes or 'type="application/json"' in attributes:
            continue
        assert any(f'nonce="{n}"' in attributes for n in nonces), attributes  # inline only with this page's nonce
    assert not _HANDLER.search(html), _HANDLER.search(html).group(0)


@pytest.fixture
def admin(client, admin_user):
    login_with_mfa(client, admin_user)
    return client


def test_every_staff_page_has_a_strict_policy(admin):
    customer = CustomerFactory()
    ticket = TicketFactory(customer=customer)
    MessageFactory(ticket=ticket)
    campaign, segment = CampaignFactory(), SegmentFactory()
    for path in (
        "/customers/", f"/customers/{customer.public_id}/", "/customers/duplicates/", "/hub/",
        f"/hub/tickets/{ticket.public_id}/", "/campaigns/", "/campaigns/new/", "/campaigns/segments/new/",
        f"/campaigns/segments/{segment.public_id}/", f"/campaigns/{campaign.public_id}/", "/loyalty/finance/",
        "/loyalty/approvals/", "/inventory/", "/inventory/reservations/", "/admin/", "/admin/crm/customer/",
        "/admin/crm/apikey/add/", "/accounts/2fa/",
    ):  # fmt: skip
        assert_strict_page(admin.get(path))


def test_public_pages_and_the_api_docs_have_a_strict_policy():
    client = Client()
    for path in ("/accounts/login/", "/contact/", "/api/docs/"):
        assert_strict_page(client.get(path))
