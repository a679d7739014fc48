import re
from collections import Counter

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.management import call_command

from campaigns.models import Campaign, CampaignRecipient, Suppression
from campaigns.selectors import campaign_counts
from campaigns.services import (
    cancel_campaign,
    create_campaign,
    pause_campaign,
    resume_campaign,
    send_recipient_batch,
    send_test_mail,
    start_campaign,
)
from crm.exceptions import InvalidState
from tests.crm.factories import UserFactory

from .factories import CampaignFactory, CustomerFactory, SegmentFactory

pytestmark = pytest.mark.django_db
State = CampaignRecipient.State


def mails_per_address():
    return Counter(m.to[0] for m in mail.outbox)


@pytest.fixture
def send(django_capture_on_commit_callbacks):
    """start_campaign as the API calls it; the queued batches run (eager Celery) once it commits."""

    def run(service=start_campaign, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return service(**kwargs)

    return run


def test_send_mails_each_opted_in_customer_once_with_personalisation_and_headers(send):
    CustomerFactory(family_name="佐藤", given_name="一郎", email="ichiro@example.jp")
    CustomerFactory(email_opt_in=False, email="no@example.jp")
    CustomerFactory(email="")
    Suppression.objects.create(email="bounced@example.jp", reason="hard_bounce")
    CustomerFactory(email="bounced@example.jp")
    campaign = CampaignFactory(segment=SegmentFactory(rules={"field": "prefecture", "op": "eq", "value": "東京都"}))

    send(campaign=campaign)

    assert mails_per_address() == {"ichiro@example.jp": 1}
    message = mail.outbox[0]
    assert message.subject == "佐藤様 冬のセール"
    assert "佐藤 一郎様" in message.body and "{{" not in message.body
    assert message.from_email == "Tsunagu Shop <news@shop.example>"
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert re.match(r"^<http://127\.0\.0\.1:8000/campaigns/u/[^>]+/>$", message.extra_headers["List-Unsubscribe"])
    html = message.alternatives[0][0]
    assert "/campaigns/t/c/" in html and "/campaigns/t/o/" in html and "https://shop.example/sale" not in html
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENT
    counts = campaign_counts(campaign)
    assert {k: counts[k] for k in ("audience", "recipients", "sent", "suppressed", "holdout")} == {
        "audience": 4,
        "recipients": 1,
        "sent": 1,
        "suppressed": 3,
        "holdout": 0,
    }
    reasons = set(CampaignRecipient.objects.filter(state=State.SUPPRESSED).values_list("suppressed_reason", flat=True))
    assert reasons == {"not_opted_in", "no_email", "suppression_list"}


def test_second_send_is_refused_and_mails_nobody_again(send):
    CustomerFactory.create_batch(3)
    campaign = CampaignFactory()
    send(campaign=campaign)
    assert len(mail.outbox) == 3
    with pytest.raises(InvalidState):
        send(campaign=campaign)
    assert len(mail.outbox) == 3
    assert CampaignRecipient.objects.count() == 3


def test_a_batch_run_twice_mails_nobody_twice():
    CustomerFactory.create_batch(4)
    campaign = CampaignFactory()
    start_campaign(campaign=campaign, dispatch=False)
    ids = list(CampaignRecipient.objects.values_list("pk", flat=True))
    assert send_recipient_batch(campaign_id=campaign.pk, recipient_ids=ids) == 4
    assert send_recipient_batch(campaign_id=campaign.pk, recipient_ids=ids) == 0
    assert len(mail.outbox) == 4
    assert set(CampaignRecipient.objects.values_list("attempts", flat=True)) == {1}


def test_holdout_is_deterministic_and_not_mailed(send):
    CustomerFactory.create_batch(40)
    campaign = CampaignFactory(holdout_percent=50)
    send(campaign=campaign)
    holdout = set(CampaignRecipient.objects.filter(state=State.HOLDOUT).values_list("customer_id", flat=True))
    assert 5 < len(holdout) < 35
    assert len(mail.outbox) == 40 - len(holdout)
    from campaigns.services.campaigns import in_holdout

    again = {
        r.customer_id
        for r in CampaignRecipient.objects.select_related("customer")
        if in_holdout(campaign_id=campaign.public_id, customer_id=r.customer.public_id, percent=50)
    }
    assert again == holdout


def test_pause_then_resume_and_cancel_mid_send(send):
    CustomerFactory.create_batch(6)
    campaign = CampaignFactory()
    start_campaign(campaign=campaign, dispatch=False)
    ids = list(CampaignRecipient.objects.order_by("pk").values_list("pk", flat=True))
    send_recipient_batch(campaign_id=campaign.pk, recipient_ids=ids[:2])
    pause_campaign(campaign=campaign)
    assert send_recipient_batch(campaign_id=campaign.pk, recipient_ids=ids) == 0
    assert len(mail.outbox) == 2
    send(resume_campaign, campaign=campaign)  # eager: the rest goes now
    assert len(mail.outbox) == 6
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENT


def test_cancel_mid_send_stops_the_rest(send):
    CustomerFactory.create_batch(5)
    campaign = CampaignFactory()
    start_campaign(campaign=campaign, dispatch=False)
    ids = list(CampaignRecipient.objects.order_by("pk").values_list("pk", flat=True))
    send_recipient_batch(campaign_id=campaign.pk, recipient_ids=ids[:2])
    cancel_campaign(campaign=campaign)
    assert send_recipient_batch(campaign_id=campaign.pk, recipient_ids=ids) == 0
    assert len(mail.outbox) == 2
    assert campaign_counts(campaign)["pending"] == 3
    with pytest.raises(InvalidState):
        resume_campaign(campaign=campaign)
    with pytest.raises(InvalidState):
        send(campaign=campaign)


def test_customer_who_unsubscribed_after_the_freeze_is_not_mailed():
    a, b = CustomerFactory(), CustomerFactory()
    campaign = CampaignFactory()
    start_campaign(campaign=campaign, dispatch=False)
    Suppression.objects.create(email=b.email, reason="unsubscribed")
    send_recipient_batch(
        campaign_id=campaign.pk, recipient_ids=list(CampaignRecipient.objects.values_list("pk", flat=True))
    )
    assert mails_per_address() == {a.email: 1}
    assert CampaignRecipient.objects.get(customer=b).state == State.SUPPRESSED


def test_a_refused_address_is_marked_failed_and_not_retried(monkeypatch, send):
    import smtplib

    from django.core.mail.backends.locmem import EmailBackend

    CustomerFactory(email="refused@example.jp")
    ok = CustomerFactory()
    original = EmailBackend.send_messages

    def refuse(self, messages):
        if messages[0].to == ["refused@example.jp"]:
            raise smtplib.SMTPRecipientsRefused({"refused@example.jp": (550, b"no such user")})
        return original(self, messages)

    monkeypatch.setattr(EmailBackend, "send_messages", refuse)
    campaign = CampaignFactory()
    send(campaign=campaign)
    assert mails_per_address() == {ok.email: 1}
    refused = CampaignRecipient.objects.get(email="refused@example.jp")
    assert refused.state == State.FAILED and refused.sent_at is None and "550" in refused.error
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENT and campaign_counts(campaign)["failed"] == 1


def test_a_lost_connection_leaves_the_row_pending_for_the_retry(monkeypatch):
    from django.core.mail.backends.locmem import EmailBackend

    CustomerFactory.create_batch(2)
    campaign = CampaignFactory()
    start_campaign(campaign=campaign, dispatch=False)
    ids = list(CampaignRecipient.objects.order_by("pk").values_list("pk", flat=True))

    def drop(self, messages):
        raise ConnectionResetError("server went away")

    with monkeypatch.context() as m:
        m.setattr(EmailBackend, "send_messages", drop)
        with pytest.raises(ConnectionResetError):
            send_recipient_batch(campaign_id=campaign.pk, recipient_ids=ids)
    assert set(CampaignRecipient.objects.values_list("state", flat=True)) == {State.PENDING}
    assert send_recipient_batch(campaign_id=campaign.pk, recipient_ids=ids) == 2
    assert len(mail.outbox) == 2


def test_template_errors_block_sending_and_write_nothing(send):
    CustomerFactory()
    campaign = CampaignFactory()
    Campaign.objects.filter(pk=campaign.pk).update(body_text="{{ name }} {% if %}")
    campaign.refresh_from_db()
    with pytest.raises(ValidationError) as exc:
        send(campaign=campaign)
    assert "body_text" in exc.value.message_dict
    assert CampaignRecipient.objects.count() == 0 and mail.outbox == []
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DRAFT


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("subject", "{{ name }}様"),
        ("body_text", "{{ customer.password }}"),
        ("body_html", "{% include 'x.html' %}"),
        ("body_html", "{% debug %}"),
        ("body_text", "{% load static %}"),
        ("body_text", "{% for p in products %}{{ q.name }}{% endfor %}"),
        ("from_email", "not an address"),
        ("holdout_percent", 95),
        ("featured_skus", "SKU-1"),
    ],
)
def test_create_campaign_refuses_bad_fields(field, value):
    fields = {
        "name": "x", "segment": SegmentFactory(), "subject": "s", "from_email": "a@b.jp",
        "body_text": "t {{ unsubscribe_url }}", field: value,
    }  # fmt: skip
    with pytest.raises(ValidationError) as exc:
        create_campaign(**fields)
    assert field in exc.value.message_dict
    assert Campaign.objects.count() == 0


def test_products_and_loops_render(send):
    from tests.crm.factories import ProductFactory

    ProductFactory(sku="COAT-9", name="ダウンコート", price=19800)
    CustomerFactory()
    campaign = create_campaign(
        name="x", segment=SegmentFactory(), subject="s", from_email="a@b.jp", featured_skus=["COAT-9", "GONE"],
        body_text="{% for p in products %}{{ forloop.counter }}. {{ p.name }} ¥{{ p.price }}\n{% endfor %}"
        "{{ unsubscribe_url }}",
    )  # fmt: skip
    send(campaign=campaign)
    assert "1. ダウンコート ¥19800" in mail.outbox[0].body


def test_test_send_goes_to_staff_only_marked_test():
    staff = UserFactory(email="mk@tsunagu.example")
    campaign = CampaignFactory()
    assert send_test_mail(campaign=campaign, to=[staff.email]) == 1
    assert mail.outbox[0].subject.startswith(("[TEST]", "[テスト]")) and "見本" in mail.outbox[0].subject
    assert CampaignRecipient.objects.count() == 0


def test_send_campaign_command_sends_here_with_progress(capsys):
    CustomerFactory.create_batch(3)
    campaign = CampaignFactory()
    call_command("send_campaign", campaign.public_id, "--here")
    assert len(mail.outbox) == 3
    assert "sent 3" in capsys.readouterr().out
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENT
