"""LINE campaigns against the fake LINE API over loopback: who gets a LINE message, multicast and push
in batches, rate limits with retries, exactly once per recipient, opt-outs and the report."""

from collections import Counter

import pytest
from django.core import mail
from django.utils import timezone

from campaigns.models import Campaign, CampaignRecipient, MailEvent
from campaigns.selectors import campaign_attribution, campaign_counts
from campaigns.services import create_campaign, start_campaign
from campaigns.services.line_sending import LineTemporaryError, send_line_batch
from campaigns.services.tracking import unsubscribe_recipient
from campaigns.tasks import send_batch
from channels_hub.line.models import LineFollower
from tests.channels_hub.line_support import user_id
from tests.crm.factories import IdentityFactory

from .factories import CampaignFactory, CustomerFactory, SegmentFactory, make_order

pytestmark = pytest.mark.django_db
State = CampaignRecipient.State
EVERYONE = {"field": "prefecture", "op": "eq", "value": "東京都"}


def line_customer(n: int, *, follows=True, opted_out=False, account=None, **fields):
    customer = CustomerFactory(**fields)
    IdentityFactory(customer=customer, channel="line", external_id=user_id(n))
    if account is not None:
        LineFollower.objects.create(
            account=account, line_user_id=user_id(n), follows=follows, follow_changed_at=timezone.now(),
            opted_out_at=timezone.now() if opted_out else None,
        )  # fmt: skip
    return customer


def line_campaign(account, **fields):
    defaults = {"segment": SegmentFactory(rules=EVERYONE), "channel": "line", "line_account": account,
                "line_text": "冬のセール開催中 https://shop.example/sale"}  # fmt: skip
    return CampaignFactory(**(defaults | fields))


def start(campaign):
    return start_campaign(campaign=campaign, dispatch=False)


def pending_ids(campaign) -> list[int]:
    return list(campaign.recipients.filter(state=State.PENDING).order_by("pk").values_list("pk", flat=True))


def test_line_recipients_are_linked_customers_who_follow_and_have_not_opted_out(line_account):
    reachable = line_customer(1, account=line_account)
    line_customer(2, account=line_account, follows=False)  # blocked the account
    line_customer(3, account=line_account, opted_out=True)
    line_customer(4)  # linked, but no follow seen
    CustomerFactory()  # no LINE at all
    campaign = start(line_campaign(line_account))
    rows = {r.customer_id: r for r in campaign.recipients.all()}
    assert rows[reachable.pk].state == State.PENDING and rows[reachable.pk].line_user_id == user_id(1)
    assert sorted(r.suppressed_reason for r in rows.values() if r.state == State.SUPPRESSED) == ["no_line"] * 4


def test_line_falling_back_to_email_mails_the_others_once(line_account, django_capture_on_commit_callbacks):
    line_customer(1, account=line_account, email="line-user@example.jp")
    line_customer(2, account=line_account, follows=False, email="blocked@example.jp")
    CustomerFactory(email="mail-only@example.jp")
    CustomerFactory(email="no-consent@example.jp", email_opt_in=False)
    campaign = line_campaign(line_account, channel="line_email")
    with django_capture_on_commit_callbacks(execute=True):
        start_campaign(campaign=campaign)
    assert Counter(m.to[0] for m in mail.outbox) == {"blocked@example.jp": 1, "mail-only@example.jp": 1}
    campaign.refresh_from_db()
    assert campaign.status == "sent"
    counts = campaign_counts(campaign)["by_channel"]
    assert counts["line"]["sent"] == 1 and counts["email"]["sent"] == 2 and counts["email"]["suppressed"] == 1


def test_the_same_message_goes_by_multicast_in_batches(line_account, fake_line, settings):
    settings.CAMPAIGNS_LINE_MULTICAST_SIZE = 3
    customers = [line_customer(n, account=line_account) for n in range(1, 8)]
    campaign = start(line_campaign(line_account))
    assert send_line_batch(campaign_id=campaign.pk, recipient_ids=pending_ids(campaign)) == 7
    assert [len(r["body"]) > 0 for r in fake_line.api_requests("/multicast")] == [True, True]
    assert len(fake_line.api_requests("/push")) == 1  # the seventh alone
    assert fake_line.delivery_counts() == {user_id(n): 1 for n in range(1, 8)}
    assert fake_line.delivered_to(user_id(1)) == ["冬のセール開催中 https://shop.example/sale"]
    campaign.refresh_from_db()
    assert campaign.status == "sent" and campaign_counts(campaign)["sent"] == len(customers)


def test_a_personalised_message_goes_by_push_to_each(line_account, fake_line):
    line_customer(1, account=line_account, family_name="佐藤")
    line_customer(2, account=line_account, family_name="鈴木")
    campaign = start(line_campaign(line_account, line_text="{{ customer.family_name }}様 セールです"))
    send_line_batch(campaign_id=campaign.pk, recipient_ids=pending_ids(campaign))
    assert fake_line.delivered_to(user_id(1)) == ["佐藤様 セールです"]
    assert fake_line.delivered_to(user_id(2)) == ["鈴木様 セールです"]
    assert len(fake_line.api_requests("/push")) == 2 and not fake_line.api_requests("/multicast")


def test_the_text_body_is_used_when_no_line_message_is_written(line_account, fake_line):
    line_customer(1, account=line_account, family_name="佐藤", given_name="一郎")
    campaign = start(line_campaign(line_account, line_text=""))
    send_line_batch(campaign_id=campaign.pk, recipient_ids=pending_ids(campaign))
    assert fake_line.delivered_to(user_id(1))[0].startswith("佐藤 一郎様\nセール: https://shop.example/sale")


def test_rate_limited_requests_are_retried_and_each_recipient_gets_one(line_account, fake_line, settings):
    settings.CAMPAIGNS_LINE_MULTICAST_SIZE = 2
    for n in range(1, 5):
        line_customer(n, account=line_account)
    campaign = start(line_campaign(line_account))
    fake_line.fail_next(429, count=2, retry_after=0)
    assert send_line_batch(campaign_id=campaign.pk, recipient_ids=pending_ids(campaign)) == 4
    statuses = [r["status"] for r in fake_line.api_requests("/multicast")]
    assert statuses == [429, 429, 200, 200]
    assert fake_line.delivery_counts() == {user_id(n): 1 for n in range(1, 5)}
    assert set(campaign.recipients.values_list("attempts", flat=True)) == {1}


def test_requests_are_paced_by_the_campaign_throttle(line_account, fake_line, settings):
    import time

    settings.CAMPAIGNS_LINE_MULTICAST_SIZE = 2
    for n in range(1, 7):
        line_customer(n, account=line_account)
    campaign = start(line_campaign(line_account, throttle=10))  # 10 messages per second: 2 every 0.2 s
    began = time.monotonic()
    send_line_batch(campaign_id=campaign.pk, recipient_ids=pending_ids(campaign))
    assert time.monotonic() - began >= 0.4  # three requests of two, the 2nd and 3rd waited 0.2 s each


def test_a_lasting_outage_leaves_the_batch_pending_for_the_retry(line_account, fake_line, monkeypatch):
    monkeypatch.setattr("campaigns.services.line_sending.time.sleep", lambda seconds: None)
    line_customer(1, account=line_account)
    line_customer(2, account=line_account)
    campaign = start(line_campaign(line_account))
    fake_line.fail_next(500, count=4)
    with pytest.raises(LineTemporaryError):
        send_line_batch(campaign_id=campaign.pk, recipient_ids=pending_ids(campaign))
    assert campaign.recipients.filter(state=State.PENDING).count() == 2 and not fake_line.delivered
    assert send_line_batch(campaign_id=campaign.pk, recipient_ids=pending_ids(campaign)) == 2
    assert fake_line.delivery_counts() == {user_id(1): 1, user_id(2): 1}


def test_a_request_line_accepted_but_whose_commit_was_lost_is_not_delivered_twice(line_account, fake_line):
    for n in range(1, 4):
        line_customer(n, account=line_account)
    campaign = start(line_campaign(line_account))
    ids = pending_ids(campaign)
    send_line_batch(campaign_id=campaign.pk, recipient_ids=ids)
    # The worker died after LINE accepted the request and before its transaction committed:
    CampaignRecipient.objects.filter(pk__in=ids).update(state=State.PENDING, sent_at=None, attempts=0)
    Campaign.objects.filter(pk=campaign.pk).update(status="sending")
    assert send_line_batch(campaign_id=campaign.pk, recipient_ids=ids) == 3  # marked sent again...
    assert [r["status"] for r in fake_line.api_requests("/multicast")] == [200, 409]  # ...LINE refused a second
    assert fake_line.delivery_counts() == {user_id(n): 1 for n in range(1, 4)}


def test_a_batch_run_twice_messages_nobody_twice(line_account, fake_line):
    line_customer(1, account=line_account)
    campaign = start(line_campaign(line_account))
    ids = pending_ids(campaign)
    assert send_line_batch(campaign_id=campaign.pk, recipient_ids=ids) == 1
    assert send_line_batch(campaign_id=campaign.pk, recipient_ids=ids) == 0
    assert fake_line.delivery_counts() == {user_id(1): 1}


def test_line_refusing_a_request_fails_those_recipients(line_account, fake_line):
    line_customer(1, account=line_account)
    campaign = start(line_campaign(line_account))
    fake_line.fail_next(400, message="The request body has 1 error(s)")
    assert send_line_batch(campaign_id=campaign.pk, recipient_ids=pending_ids(campaign)) == 0
    row = campaign.recipients.get()
    assert row.state == State.FAILED and "400" in row.error
    campaign.refresh_from_db()
    assert campaign.status == "sent" and campaign_counts(campaign)["by_channel"]["line"]["failed"] == 1


def test_an_exhausted_monthly_quota_pauses_the_campaign(line_account, fake_line):
    line_customer(1, account=line_account)
    campaign = start(line_campaign(line_account))
    fake_line.fail_next(429, message="You have reached your monthly limit.")
    assert send_line_batch(campaign_id=campaign.pk, recipient_ids=pending_ids(campaign)) == 0
    campaign.refresh_from_db()
    assert campaign.status == "paused" and campaign.recipients.get().state == State.PENDING


def test_someone_who_blocked_the_account_after_the_freeze_is_not_messaged(line_account, fake_line):
    line_customer(1, account=line_account)
    line_customer(2, account=line_account)
    campaign = start(line_campaign(line_account))
    fake_line.unfollow(user_id(2))
    send_line_batch(campaign_id=campaign.pk, recipient_ids=pending_ids(campaign))
    assert fake_line.delivery_counts() == {user_id(1): 1}
    assert campaign.recipients.get(line_user_id=user_id(2)).suppressed_reason == "opted_out_before_send"


def test_blocking_after_the_message_counts_as_an_opt_out_in_the_report(line_account, fake_line, api):
    line_customer(1, account=line_account)
    line_customer(2, account=line_account)
    campaign = start(line_campaign(line_account))
    send_line_batch(campaign_id=campaign.pk, recipient_ids=pending_ids(campaign))
    fake_line.unfollow(user_id(1))
    fake_line.unfollow(user_id(1))  # once more: counted once
    body = api("campaigns:read").get(f"/api/v1/campaigns/{campaign.public_id}/").json()
    assert body["channel"] == "line" and body["counts"]["sent"] == 2 and body["counts"]["unsubscribed"] == 1
    assert body["by_channel"]["line"] == {"recipients": 2, "sent": 2, "failed": 0, "suppressed": 0, "holdout": 0,
                                          "unsubscribed": 1}  # fmt: skip
    assert MailEvent.objects.filter(kind="unsubscribe").count() == 1


def test_the_unsubscribe_link_of_a_line_message_opts_out_of_line_only(line_account, fake_line):
    customer = line_customer(1, account=line_account)
    campaign = start(line_campaign(line_account, line_text="セール {{ unsubscribe_url }}"))
    send_line_batch(campaign_id=campaign.pk, recipient_ids=pending_ids(campaign))
    unsubscribe_recipient(recipient=campaign.recipients.get())
    customer.refresh_from_db()
    assert customer.email_opt_in  # their email consent is theirs to keep
    assert LineFollower.objects.get(line_user_id=user_id(1)).opted_out_at is not None
    second = start(line_campaign(line_account))
    assert second.recipients.get().suppressed_reason == "no_line"


def test_the_unsubscribe_page_of_a_line_recipient_speaks_of_line(line_account, fake_line, client):
    line_customer(1, account=line_account)
    campaign = start(line_campaign(line_account, line_text="停止: {{ unsubscribe_url }}"))
    send_line_batch(campaign_id=campaign.pk, recipient_ids=pending_ids(campaign))
    url = fake_line.delivered_to(user_id(1))[0].split("停止: ")[1]
    path = url.replace("http://127.0.0.1:8000", "")
    assert "LINE" in client.get(path).content.decode()
    assert "LINE" in client.post(path).content.decode()


def test_purchases_after_a_line_message_are_attributed(line_account, fake_line):
    customer = line_customer(1, account=line_account)
    campaign = start(line_campaign(line_account))
    send_line_batch(campaign_id=campaign.pk, recipient_ids=pending_ids(campaign))
    make_order(customer, channel="store", total=9000, days_ago=0)
    campaign.refresh_from_db()
    assert campaign_attribution(campaign)["mailed"]["orders"] == 1


def test_the_batch_task_sends_each_channel_its_own_way(line_account, fake_line):
    line_customer(1, account=line_account, email="line@example.jp")
    CustomerFactory(email="mail@example.jp")
    campaign = start(line_campaign(line_account, channel="line_email"))
    assert send_batch(campaign.pk, pending_ids(campaign)) == 2
    assert [m.to for m in mail.outbox] == [["mail@example.jp"]]
    assert fake_line.delivery_counts() == {user_id(1): 1}


def test_the_timeline_says_which_channel_the_campaign_came_by(line_account, fake_line):
    from crm.registry import customer_timeline

    customer = line_customer(1, account=line_account)
    campaign = start(line_campaign(line_account))
    send_line_batch(campaign_id=campaign.pk, recipient_ids=pending_ids(campaign))
    entry = next(e for e in customer_timeline(customer=customer) if e.kind == "campaign_mail")
    assert entry.channel == "line"


# --- Creating LINE campaigns --------------------------------------------------------------------------
def _body(segment, **extra):
    return {"name": "LINE セール", "segment": segment.public_id, "subject": "セール",
            "from_email": "Shop <news@shop.example>", "body_text": "セールです", **extra}  # fmt: skip


def test_a_line_campaign_is_created_through_the_api(line_account, api):
    client = api("campaigns:write", "campaigns:read")
    response = client.post("/api/v1/campaigns/", _body(SegmentFactory(), channel="line_email", line_account="shop",
                                                       line_text="LINE限定セール"), format="json")  # fmt: skip
    assert response.status_code == 201 and set(response.json()) == {"id", "status"}
    campaign = Campaign.objects.get()
    assert campaign.channel == "line_email" and campaign.line_account == line_account
    assert client.get(f"/api/v1/campaigns/{campaign.public_id}/").json()["channel"] == "line_email"


def test_an_email_campaign_through_the_api_is_unchanged(api):
    response = api("campaigns:write").post("/api/v1/campaigns/", _body(SegmentFactory()), format="json")
    assert response.status_code == 201
    assert Campaign.objects.get().channel == "email"


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"channel": "fax"}, "channel"),
        ({"channel": "line"}, "line_account"),
        ({"channel": "line", "line_account": "nope"}, "line_account"),
        ({"channel": "line", "line_account": "shop", "line_text": "{{ secret }}"}, "line_text"),
        ({"channel": "line", "line_account": "shop", "line_text": "x" * 5001}, "line_text"),
    ],
)
def test_a_bad_line_campaign_is_400_naming_the_field(line_account, api, extra, field):
    response = api("campaigns:write").post("/api/v1/campaigns/", _body(SegmentFactory(), **extra), format="json")
    assert response.status_code == 400 and field in response.json()["errors"]
    assert not Campaign.objects.exists()


def test_an_inactive_line_account_is_refused(line_account):
    from django.core.exceptions import ValidationError

    line_account.active = False
    line_account.save()
    with pytest.raises(ValidationError) as error:
        create_campaign(name="x", segment=SegmentFactory(), subject="s", from_email="Shop <n@shop.example>",
                        body_text="b", channel="line", line_account=line_account)  # fmt: skip
    assert "line_account" in error.value.message_dict


def test_the_staff_form_creates_a_line_campaign(line_account, client):
    from tests.crm.factories import UserFactory

    client.force_login(UserFactory(role="marketer"))
    segment = SegmentFactory()
    response = client.post("/campaigns/new/", {
        "name": "LINE", "segment": segment.pk, "channel": "line", "line_account": line_account.pk,
        "subject": "s", "from_email": "Shop <n@shop.example>", "body_text": "b", "line_text": "LINEだけ",
        "holdout_percent": 0,
    })  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Campaign.objects.get().line_text == "LINEだけ"


def test_the_preview_shows_the_line_message_escaped(line_account, client):
    from tests.crm.factories import UserFactory

    campaign = line_campaign(line_account, line_text="{{ customer.family_name }}様 <b>LINE限定</b>")
    client.force_login(UserFactory(role="marketer"))
    page = client.get(f"/campaigns/{campaign.public_id}/preview/").content.decode()
    assert "見本様 &lt;b&gt;LINE限定&lt;/b&gt;" in page
