"""Contact pressure on one-off campaigns (campaigns/services/pressure.py): quiet hours, the weekly cap
shared with journeys (mail and LINE together), the customer's own maximum and topics."""

import datetime as dt

import pytest
from django.core import mail
from django.utils import timezone

from campaigns.models import Campaign, CampaignRecipient, MailPreference
from campaigns.services import start_campaign
from campaigns.services.pressure import in_quiet_hours
from campaigns.tasks import requeue_stalled_sends
from tests.crm.factories import UserFactory
from tests.mfa import login_as

from .factories import CampaignFactory, CustomerFactory

pytestmark = pytest.mark.django_db
State = CampaignRecipient.State
ALL_TOPICS = ["news", "offers", "reminders"]


@pytest.fixture
def send(django_capture_on_commit_callbacks):
    def run(campaign):
        with django_capture_on_commit_callbacks(execute=True):
            return start_campaign(campaign=campaign)

    return run


def quiet_from_now() -> tuple[int, int]:
    """Quiet hours that began this hour (Asia/Tokyo) and last two hours: now is in them."""
    hour = timezone.localtime(timezone.now()).hour
    return hour, (hour + 2) % 24


def sent_before(customer, *, days: float, channel="email"):
    CampaignRecipient.objects.create(
        campaign=CampaignFactory(), customer=customer, channel=channel, email=customer.email, state=State.SENT,
        line_user_id="U" + "0" * 32 if channel == "line" else "", sent_at=timezone.now() - dt.timedelta(days=days),
    )  # fmt: skip


def test_a_campaign_started_in_the_quiet_hours_waits_and_goes_out_after_them(
    send, settings, django_capture_on_commit_callbacks
):
    settings.CAMPAIGNS_QUIET_HOURS = quiet_from_now()
    CustomerFactory(email="night@example.jp")
    campaign = send(CampaignFactory())

    assert mail.outbox == []
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENDING
    assert CampaignRecipient.objects.get(campaign=campaign).state == State.PENDING
    assert requeue_stalled_sends() == 0  # the safety net stays quiet too

    settings.CAMPAIGNS_QUIET_HOURS = quiet_from_now()[::-1]  # the morning: now lies outside them
    assert in_quiet_hours(timezone.now()) is None
    Campaign.objects.filter(pk=campaign.pk).update(started_at=timezone.now() - dt.timedelta(hours=9))
    with django_capture_on_commit_callbacks(execute=True):
        assert requeue_stalled_sends() == 1

    assert [m.to for m in mail.outbox] == [["night@example.jp"]]
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENT


def test_quiet_hours_end_at_their_end_hour_in_tokyo(settings):
    settings.CAMPAIGNS_QUIET_HOURS = (21, 8)
    assert in_quiet_hours(dt.datetime(2026, 12, 5, 11, 59, tzinfo=dt.UTC)) is None  # 20:59 JST
    assert in_quiet_hours(dt.datetime(2026, 12, 5, 12, 0, tzinfo=dt.UTC)) == dt.datetime(
        2026, 12, 5, 23, 0, tzinfo=dt.UTC
    )  # 21:00 JST → 08:00 JST the next morning
    assert in_quiet_hours(dt.datetime(2026, 12, 5, 22, 59, tzinfo=dt.UTC)) is not None  # 07:59 JST
    assert in_quiet_hours(dt.datetime(2026, 12, 5, 23, 0, tzinfo=dt.UTC)) is None  # 08:00 JST


def test_the_weekly_cap_and_the_preference_centre_hold_back_campaign_mails(send, settings):
    settings.CAMPAIGNS_WEEKLY_CAP = 2
    busy = CustomerFactory(email="busy@example.jp")
    sent_before(busy, days=1)
    sent_before(busy, days=3, channel="line")  # a LINE message counts as much as a mail
    weekly_one = CustomerFactory(email="one@example.jp")
    MailPreference.objects.create(customer=weekly_one, topics=ALL_TOPICS, max_per_week=1)
    sent_before(weekly_one, days=6)
    no_news = CustomerFactory(email="offers-only@example.jp")
    MailPreference.objects.create(customer=no_news, topics=["offers"])
    last_week = CustomerFactory(email="lastweek@example.jp")
    sent_before(last_week, days=8)
    sent_before(last_week, days=9)
    CustomerFactory(email="fresh@example.jp")

    campaign = send(CampaignFactory())

    assert sorted(m.to[0] for m in mail.outbox) == ["fresh@example.jp", "lastweek@example.jp"]
    reasons = dict(
        CampaignRecipient.objects.filter(campaign=campaign, state=State.SUPPRESSED).values_list(
            "email", "suppressed_reason"
        )
    )
    assert reasons == {
        "busy@example.jp": "weekly_cap", "one@example.jp": "weekly_cap", "offers-only@example.jp": "preferences",
    }  # fmt: skip
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENT


def test_no_cap_when_it_is_zero(send, settings):
    settings.CAMPAIGNS_WEEKLY_CAP = 0
    customer = CustomerFactory(email="many@example.jp")
    for days in range(5):
        sent_before(customer, days=days + 0.5)
    send(CampaignFactory())
    assert [m.to for m in mail.outbox] == [["many@example.jp"]]


@pytest.mark.parametrize("language, text", [("en", "Quiet hours: nothing is sent until"), ("ja", "配信を控える時間帯")])
def test_the_campaign_page_says_when_sending_waits_for_the_quiet_hours(client, send, settings, language, text):
    settings.CAMPAIGNS_QUIET_HOURS = quiet_from_now()
    CustomerFactory()
    campaign = send(CampaignFactory())
    login_as(client, UserFactory(role="marketer", language=language))
    page = client.get(f"/campaigns/{campaign.public_id}/", HTTP_ACCEPT_LANGUAGE=language)
    assert page.status_code == 200
    assert text in page.content.decode()


def test_send_campaign_here_in_the_quiet_hours_stops_and_says_until_when(settings):
    import io

    from django.core.management import call_command

    settings.CAMPAIGNS_QUIET_HOURS = quiet_from_now()
    CustomerFactory(email="night@example.jp")
    campaign = CampaignFactory()
    out = io.StringIO()
    call_command("send_campaign", campaign.public_id, "--here", stdout=out)  # returns: it does not spin
    assert mail.outbox == []
    assert "Quiet hours until" in out.getvalue() and "pending 1" in out.getvalue()
