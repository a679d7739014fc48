"""Staff pages (inbox, ticket page, customer panel) and public pages (contact form, CSAT survey)."""

import datetime as dt

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from channels_hub.models import CsatResponse, Lead, Message, Ticket
from channels_hub.services import receive_message
from channels_hub.services.tickets import csat_token
from crm import registry
from tests.crm.factories import CustomerFactory, UserFactory
from tests.mfa import login_as

from .factories import CannedReplyFactory, MessageFactory, TicketFactory

pytestmark = pytest.mark.django_db
INBOX = "/hub/"


def text(response) -> str:
    return response.content.decode()


@pytest.fixture
def agent(client):
    user = UserFactory(role="agent")
    login_as(client, user)
    return user


def ticket_url(ticket, action=""):
    return f"/hub/tickets/{ticket.public_id}/" + (f"{action}/" if action else "")


# --- inbox -------------------------------------------------------------------------------------------
def test_inbox_queues_show_the_right_tickets(client, agent):
    now = timezone.now()
    mine = TicketFactory(assignee=agent, subject="MINE")
    TicketFactory(assignee=UserFactory(role="agent"), subject="THEIRS")
    unassigned = TicketFactory(subject="NOBODY")
    overdue = TicketFactory(subject="LATE", resolution_due=now - dt.timedelta(hours=1))
    TicketFactory(assignee=agent, subject="DONE", status="resolved")
    assert "MINE" in text(client.get(INBOX)) and "NOBODY" not in text(client.get(INBOX))
    assert "DONE" not in text(client.get(INBOX))
    body = text(client.get(INBOX, {"queue": "unassigned"}))
    assert unassigned.subject in body and "THEIRS" not in body and "MINE" not in body
    body = text(client.get(INBOX, {"queue": "overdue"}))
    assert overdue.subject in body and "hub-overdue" in body and "NOBODY" not in body
    body = text(client.get(INBOX, {"queue": "mine", "status": "resolved"}))
    assert "DONE" in body and mine.subject not in body


def test_inbox_search_finds_by_ticket_id_subject_and_customer_email(client, agent):
    customer = CustomerFactory(email="findme@example.jp")
    wanted = TicketFactory(customer=customer, subject="ギフト包装")
    TicketFactory(subject="その他")
    for q in (wanted.public_id, "ギフト", "findme@example.jp"):
        body = text(client.get(INBOX, {"queue": "all", "q": q}))
        assert wanted.public_id in body and "その他" not in body, q


def test_inbox_with_bad_filters_answers_400(client, agent):
    response = client.get(INBOX, {"queue": "everything", "channel": "fax"})
    assert response.status_code == 400


def test_inbox_runs_a_fixed_number_of_queries(client, agent, django_assert_max_num_queries):
    for i in range(30):
        TicketFactory(assignee=agent, subject=f"T{i}", lead=None)
    with django_assert_max_num_queries(6):  # session, user, (perms), tickets, mention count
        response = client.get(INBOX)
    assert text(response).count("/hub/tickets/tkt_") == 30


def test_inbox_needs_the_hub_permission(client):
    assert client.get(INBOX).status_code == 302  # to login
    login_as(client, UserFactory(role="marketer"))
    assert client.get(INBOX).status_code == 200
    login_as(client, UserFactory())
    assert client.get(INBOX).status_code == 403


# --- ticket page --------------------------------------------------------------------------------------
def test_ticket_page_shows_conversation_timeline_and_canned_replies(client, agent):
    customer = CustomerFactory()
    ticket = TicketFactory(customer=customer)
    MessageFactory(ticket=ticket, body="サイズ交換の件")
    other = TicketFactory(customer=customer, subject="前回の問い合わせ")
    CannedReplyFactory(title="お礼テンプレ")
    body = text(client.get(ticket_url(ticket)))
    assert "サイズ交換の件" in body and "お礼テンプレ" in body
    assert other.public_id in body  # other tickets beside it, and in the timeline
    assert customer.member_number in body


def test_ticket_page_query_count_is_fixed(client, agent, django_assert_max_num_queries, monkeypatch):
    monkeypatch.setattr(registry, "_timeline_sources", {})
    ticket = TicketFactory()
    for _ in range(20):
        MessageFactory(ticket=ticket)
    with django_assert_max_num_queries(13):  # 12 + the access-log INSERT (who saw whom)
        response = client.get(ticket_url(ticket))
    assert text(response).count('class="hub-message') == 20


def test_agent_replies_from_the_ticket_page(client, agent, django_capture_on_commit_callbacks):
    ticket = TicketFactory(customer=CustomerFactory(email="c@example.jp"))
    MessageFactory(ticket=ticket, channel="email")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(ticket_url(ticket, "reply"), {"body": "お待たせしました", "channel": ""})
    assert response.status_code == 302
    reply = ticket.messages.get(direction="out")
    assert reply.body == "お待たせしました" and reply.delivery_status == "sent"
    assert mail.outbox[0].to == ["c@example.jp"]


def test_empty_reply_shows_the_error_and_writes_nothing(client, agent):
    ticket = TicketFactory()
    response = client.post(ticket_url(ticket, "reply"), {"body": ""})
    assert response.status_code == 400
    assert ticket.messages.count() == 0
    response = client.post(ticket_url(ticket, "reply"), {"body": "x", "channel": "fax"})
    assert response.status_code == 400 and ticket.messages.count() == 0


def test_note_status_and_merge_from_the_ticket_page(client, agent):
    customer = CustomerFactory()
    ticket, other = TicketFactory(customer=customer), TicketFactory(customer=customer)
    assert client.post(ticket_url(ticket, "note"), {"body": "内部メモ"}).status_code == 302
    assert ticket.messages.get().direction == "note"
    response = client.post(ticket_url(ticket, "update"), {"status": "open", "priority": "high", "tags": "vip, gift"})
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert (ticket.status, ticket.priority, ticket.tags) == ("open", "high", ["gift", "vip"])
    bad = client.post(ticket_url(ticket, "update"), {"status": "boom", "priority": "high"})
    assert bad.status_code == 400
    assert client.post(ticket_url(ticket, "merge"), {"target": "tkt_nope"}).status_code == 400
    assert client.post(ticket_url(ticket, "merge"), {"target": other.public_id}).status_code == 302
    ticket.refresh_from_db()
    assert ticket.merged_into == other
    assert client.get(ticket_url(ticket)).status_code == 302  # the old id leads to the survivor


def test_store_staff_cannot_reply(client):
    login_as(client, UserFactory(role="store_staff"))
    ticket = TicketFactory()
    assert client.post(ticket_url(ticket, "reply"), {"body": "x"}).status_code == 403
    assert ticket.messages.count() == 0


def test_link_a_lead_from_the_ticket_page(client, agent):
    message, _ = receive_message(
        channel="email", sender={"email": "anon@example.jp"}, body="x", external_message_id="1"
    )
    customer = CustomerFactory()
    assert client.post(ticket_url(message.ticket, "link-lead"), {"customer": "999"}).status_code == 400
    assert Lead.objects.get().customer is None
    response = client.post(ticket_url(message.ticket, "link-lead"), {"customer": customer.member_number})
    assert response.status_code == 302
    assert Ticket.objects.get().customer == customer


# --- customer 360 panel, call log, counter note ------------------------------------------------------------
def test_customer_page_shows_the_hub_panel_and_logs_a_call(client, agent):
    customer = CustomerFactory()
    ticket = TicketFactory(customer=customer, subject="配送の件")
    page = text(client.get(f"/customers/{customer.public_id}/"))
    assert 'id="panel-hub"' in page and "配送の件" in page
    response = client.post(f"/hub/customers/{customer.public_id}/call/", {"body": "電話で配送日を確認"})
    assert response.status_code == 302
    call = Message.objects.get(channel="phone")
    assert call.ticket == ticket and call.author_user == agent  # joins the open ticket


def test_store_staff_write_a_counter_note(client):
    staff = UserFactory(role="store_staff")
    login_as(client, staff)
    customer = CustomerFactory()
    client.post(f"/hub/customers/{customer.public_id}/counter-note/", {"body": "サイズ違いの取り寄せ希望"})
    note = Message.objects.get()
    assert note.channel == "store_card" and note.ticket.customer == customer
    client.post(f"/hub/customers/{customer.public_id}/counter-note/", {"body": ""})
    assert Message.objects.count() == 1


def test_hub_panel_and_timeline_run_fixed_queries(rf, django_assert_num_queries):
    from channels_hub import panels, selectors

    customer = CustomerFactory()
    for _ in range(5):
        MessageFactory(ticket=TicketFactory(customer=customer))
    request = rf.get("/")
    request.user = UserFactory(role="agent")
    request.user.has_perm("channels_hub.add_message")  # warm the permission cache
    with django_assert_num_queries(1):
        context = panels._hub_context(customer, request)
    assert len(context["tickets"]) == 5
    with django_assert_num_queries(1):
        entries = selectors.ticket_timeline(customer=customer, limit=20)
    assert len(entries) == 5 and entries[0].kind == "message"


def test_nav_has_the_inbox_for_agents(client, agent):
    assert 'href="/hub/"' in text(client.get(INBOX))


# --- public contact form --------------------------------------------------------------------------
def test_contact_form_opens_a_ticket_and_mails_a_confirmation(django_capture_on_commit_callbacks):
    client = Client(enforce_csrf_checks=True)
    page = client.get("/contact/")
    token = page.cookies["csrftoken"].value
    data = {
        "name": "山田 太郎", "email": "Taro@Example.jp", "phone": "", "subject": "営業時間",
        "body": "日曜は何時まで？", "csrfmiddlewaretoken": token,
    }  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/contact/", data)
    assert response.status_code == 200
    ticket = Ticket.objects.get()
    assert ticket.first_channel == "web_form" and ticket.lead.email == "taro@example.jp"
    assert ticket.public_id not in text(response) and "tkt_" not in text(response)  # the answer names no ticket
    assert mail.outbox[0].to == ["taro@example.jp"] and ticket.public_id in mail.outbox[0].subject
    assert "日曜は何時まで" not in mail.outbox[0].body and "営業時間" not in mail.outbox[0].body  # no echo


def test_contact_form_without_csrf_token_is_refused():
    client = Client(enforce_csrf_checks=True)
    response = client.post("/contact/", {"name": "a", "email": "a@example.jp", "subject": "s", "body": "b"})
    assert response.status_code == 403
    assert Ticket.objects.count() == 0


@pytest.mark.parametrize(
    ("overrides", "field"),
    [({"email": "bad"}, "email"), ({"body": "  "}, "body"), ({"subject": "s" * 201}, "subject"),
     ({"phone": "12"}, "phone"), ({"website": "http://spam"}, "website"), ({"name": ""}, "name")],
)  # fmt: skip
def test_contact_form_bad_input_is_shown_and_writes_nothing(client, overrides, field):
    data = {"name": "a", "email": "a@example.jp", "phone": "", "subject": "s", "body": "b", **overrides}
    response = client.post("/contact/", data)
    assert response.status_code == 400
    assert response.context["form"].errors.get(field), response.context["form"].errors
    assert Ticket.objects.count() == 0 and Lead.objects.count() == 0 and mail.outbox == []


def test_contact_form_is_rate_limited_per_ip(client, settings):
    settings.HUB_CONTACT_RATE = (2, dt.timedelta(hours=1))
    data = {"name": "a", "email": "a@example.jp", "subject": "s", "body": "b"}
    statuses = [client.post("/contact/", data, REMOTE_ADDR="203.0.113.5").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    assert Message.objects.count() == 2
    assert client.post("/contact/", {**data, "email": "b@example.jp"}, REMOTE_ADDR="203.0.113.6").status_code == 200


def test_behind_the_balancer_the_limit_counts_per_client_not_per_balancer(client, settings):
    settings.HUB_CONTACT_RATE = (2, dt.timedelta(hours=1))
    settings.TRUSTED_PROXY_COUNT = 1
    balancer = {"REMOTE_ADDR": "10.0.0.2"}

    def post(client_ip, email):
        data = {"name": "a", "email": email, "subject": "s", "body": "b"}
        return client.post("/contact/", data, HTTP_X_FORWARDED_FOR=f"198.51.100.1, {client_ip}", **balancer)

    assert [post("203.0.113.5", f"a{i}@example.jp").status_code for i in range(3)] == [200, 200, 429]
    assert post("203.0.113.9", "z@example.jp").status_code == 200  # another client, same balancer
    # A forged left-most entry does not make a new client: the balancer's entry counts.
    assert post("203.0.113.5", "y@example.jp").status_code == 429


def test_one_address_cannot_be_flooded_with_confirmations_from_many_clients(client, settings):
    settings.HUB_CONTACT_RATE = (100, dt.timedelta(hours=1))
    data = {"name": "a", "email": "victim@example.jp", "subject": "s", "body": "b"}
    statuses = [client.post("/contact/", data, REMOTE_ADDR=f"203.0.113.{i}").status_code for i in range(5)]
    assert statuses == [200, 200, 200, 429, 429]


def test_a_web_form_message_never_joins_an_identified_customers_ticket(client, django_capture_on_commit_callbacks):
    from tests.crm.factories import CustomerFactory

    customer = CustomerFactory(email="hanako@example.jp")
    existing = TicketFactory(customer=customer, status="open")
    before = Message.objects.filter(ticket=existing).count()
    data = {"name": "x", "email": "Hanako@example.jp", "subject": "住所変更", "body": "住所を変えてください"}
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/contact/", data)
    assert response.status_code == 200 and existing.public_id not in text(response)
    assert Message.objects.filter(ticket=existing).count() == before
    new = Ticket.objects.exclude(pk=existing.pk).get()
    assert new.first_channel == "web_form" and new.pk != existing.pk


# --- CSAT survey -------------------------------------------------------------------------------------------
def test_survey_link_preselects_the_score_and_records_on_submit(client):
    ticket = TicketFactory(status="resolved")
    url = f"/survey/{csat_token(ticket)}/"
    page = client.get(url, {"score": "5"})
    assert page.status_code == 200 and CsatResponse.objects.count() == 0  # a GET never answers
    response = client.post(url, {"score": "5", "comment": "早い対応でした"})
    assert response.status_code == 200
    ticket.refresh_from_db()
    assert ticket.csat_score == 5


@pytest.mark.parametrize("token", ["garbage", "eyJ0IjoidGt0X1gifQ:1:bad"])
def test_bad_survey_token_is_400_and_changes_nothing(client, token):
    TicketFactory()
    assert client.get(f"/survey/{token}/").status_code == 400
    assert client.post(f"/survey/{token}/", {"score": "5"}).status_code == 400
    assert CsatResponse.objects.count() == 0


def test_expired_survey_link_is_400(client, settings):
    settings.HUB_CSAT_MAX_AGE = dt.timedelta(seconds=-1)
    ticket = TicketFactory()
    assert client.post(f"/survey/{csat_token(ticket)}/", {"score": "3"}).status_code == 400
    assert CsatResponse.objects.count() == 0


def test_survey_with_bad_score_is_400(client):
    ticket = TicketFactory()
    assert client.post(f"/survey/{csat_token(ticket)}/", {"score": "9"}).status_code == 400
    assert CsatResponse.objects.count() == 0
