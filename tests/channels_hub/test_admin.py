"""Admin: configuration is editable, tickets and leads are read-only (they change through services)."""

import pytest

from tests.crm.factories import UserFactory
from tests.mfa import login_as

from .factories import CannedReplyFactory, LeadFactory, MessageFactory, RoutingRuleFactory, TeamFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    login_as(client, UserFactory(role="admin"))
    return client


@pytest.mark.parametrize(
    "model", ["team", "routingrule", "slapolicy", "cannedreply", "channelendpoint", "ticket", "lead", "csatresponse"]
)
def test_admin_lists_load(admin_client, model):
    TeamFactory()
    RoutingRuleFactory()
    CannedReplyFactory()
    MessageFactory()
    LeadFactory()
    assert admin_client.get(f"/admin/channels_hub/{model}/").status_code == 200


def test_routing_rules_can_be_added_but_tickets_cannot(admin_client):
    assert admin_client.get("/admin/channels_hub/routingrule/add/").status_code == 200
    assert admin_client.get("/admin/channels_hub/ticket/add/").status_code == 403
    message = MessageFactory()
    page = admin_client.get(f"/admin/channels_hub/ticket/{message.ticket.pk}/change/")
    assert page.status_code == 200 and message.body in page.content.decode()


def test_agents_do_not_reach_the_hub_admin(client):
    login_as(client, UserFactory(role="agent"))
    assert client.get("/admin/channels_hub/routingrule/").status_code in (302, 403)
