"""LINE steps of lifecycle journeys, against the fake LINE API over loopback: sent once to the customer's
reachable LINE user with the step's retry key; suppressed when nobody is reachable; quiet hours, the
weekly cap and the preferences as for mails; rate limits leave the step for the next run; a refusal
fails it; the builder and the report."""

import datetime as dt

import pytest
from django.core import mail
from django.core.exceptions import ValidationError

from campaigns.models import CampaignRecipient, Journey, JourneyEnrollment, JourneyMessage, MailPreference
from campaigns.selectors import journey_report
from campaigns.services.journeys import run_journey, save_journey, update_mail_preferences
from channels_hub.line.client import retry_key
from crm.models import Customer
from tests.channels_hub.line_support import user_id
from tests.crm.factories import UserFactory
from tests.mfa import login_as

from .coupon_support import make_offer
from .factories import CampaignFactory, CustomerFactory
from .journey_support import MAIL, NOON, at, make_journey
from .test_line import line_customer

pytestmark = pytest.mark.django_db
LINE_STEP = {"kind": "line", "line_text": "{{ customer.family_name }}様 ご登録ありがとうございます"}


def joined(n: int, account, *, days_ago=1, **fields) -> Customer:
    """A customer who joined after the journey started, linked to LINE user n (following `account`
    unless told otherwise; account None: linked, no follow seen)."""
    customer = line_customer(n, account=account, **fields)
    Customer.objects.filter(pk=customer.pk).update(created_at=NOON - dt.timedelta(days=days_ago))
    customer.refresh_from_db()
    return customer


def line_journey(account, steps=None, **fields):
    return make_journey(steps=steps or [LINE_STEP], line_account=account, **fields)


def test_a_line_step_goes_once_to_the_reachable_user_with_the_right_text_and_retry_key(line_account, fake_line):
    journey = line_journey(line_account)
    customer = joined(1, line_account, family_name="佐藤")
    assert run_journey(journey=journey, now=NOON)["steps"] == 1
    assert fake_line.delivered_to(user_id(1)) == ["佐藤様 ご登録ありがとうございます"]
    enrollment = JourneyEnrollment.objects.get()
    key = retry_key(journey.public_id, "1", str(enrollment.pk))
    assert [r["retry_key"] for r in fake_line.api_requests("/push")] == [key]
    message = JourneyMessage.objects.get()
    assert (message.channel, message.state, message.line_user_id, message.customer) == (
        "line", "sent", user_id(1), customer,
    )  # fmt: skip
    assert message.sent_at == NOON and message.email == "" and mail.outbox == []
    assert run_journey(journey=journey, now=at(hours=1))["steps"] == 0  # the re-run sends nothing more
    assert run_journey(journey=journey, now=at(days=2))["steps"] == 0
    assert fake_line.delivery_counts() == {user_id(1): 1} and len(fake_line.api_requests("/push")) == 1
    assert enrollment.__class__.objects.get().state == JourneyEnrollment.State.COMPLETED


def test_a_line_step_prints_the_coupon_of_an_earlier_step(line_account, fake_line):
    from campaigns.models import Coupon

    offer = make_offer(valid_until=NOON + dt.timedelta(days=60), valid_from=NOON - dt.timedelta(days=60))
    journey = line_journey(line_account, [{"kind": "coupon", "offer": offer},
                                          {"kind": "line", "line_text": "クーポン {{ coupon.printed }}"}])  # fmt: skip
    joined(1, line_account)
    run_journey(journey=journey, now=NOON)
    coupon = Coupon.objects.get()
    assert fake_line.delivered_to(user_id(1)) == [f"クーポン {coupon.code[:4]}-{coupon.code[4:8]}-{coupon.code[8:]}"]


def test_a_customer_without_a_linked_line_user_is_suppressed_no_line(line_account, fake_line):
    journey = line_journey(line_account)
    customer = CustomerFactory()
    Customer.objects.filter(pk=customer.pk).update(created_at=NOON - dt.timedelta(days=1))
    joined(2, None)  # linked to LINE, but never seen following the account
    run_journey(journey=journey, now=NOON)
    assert not fake_line.api_requests("/push")
    assert sorted(JourneyMessage.objects.values_list("channel", "state", "suppressed_reason")) == [
        ("line", "suppressed", "no_line"), ("line", "suppressed", "no_line"),
    ]  # fmt: skip
    assert set(JourneyEnrollment.objects.values_list("state", flat=True)) == {"completed"}


def test_a_follower_who_blocked_the_account_or_opted_out_is_suppressed(line_account, fake_line):
    journey = line_journey(line_account)
    joined(1, line_account, follows=False)
    joined(2, line_account, opted_out=True)
    joined(3, line_account)
    run_journey(journey=journey, now=NOON)
    assert fake_line.delivery_counts() == {user_id(3): 1}
    assert sorted(JourneyMessage.objects.values_list("state", "suppressed_reason")) == [
        ("sent", ""), ("suppressed", "no_line"), ("suppressed", "no_line"),
    ]  # fmt: skip


def test_the_preferences_leave_out_a_line_step_as_they_do_a_mail(line_account, fake_line):
    journey = line_journey(line_account)
    customer = joined(1, line_account)
    update_mail_preferences(customer=customer, topics=[MailPreference.Topic.NEWS], max_per_week=None)
    run_journey(journey=journey, now=NOON)
    assert not fake_line.delivered
    assert JourneyMessage.objects.get().suppressed_reason == "preferences"


def test_the_hold_out_gets_no_line_message_but_is_recorded(line_account, fake_line, settings):
    settings.CAMPAIGNS_QUIET_HOURS = (21, 8)
    journey = line_journey(line_account, holdout_percent=50)
    for n in range(1, 5):
        joined(n, line_account)
    night = dt.datetime(2026, 6, 9, 14, 0, tzinfo=dt.UTC)  # 23:00 in Tokyo: entered, the step waits
    run_journey(journey=journey, now=night)
    # Which customers the draw holds out depends on their ids; two of each, whatever the database.
    enrollments = list(JourneyEnrollment.objects.order_by("customer_id"))
    JourneyEnrollment.objects.filter(pk__in=[e.pk for e in enrollments[:2]]).update(holdout=True)
    JourneyEnrollment.objects.filter(pk__in=[e.pk for e in enrollments[2:]]).update(holdout=False)
    run_journey(journey=journey, now=NOON)
    assert fake_line.delivery_counts() == {user_id(3): 1, user_id(4): 1}
    assert sorted(JourneyMessage.objects.values_list("line_user_id", "state", "message_id")) == [
        (user_id(1), "holdout", ""), (user_id(2), "holdout", ""),
        (user_id(3), "sent", retry_key(journey.public_id, "1", str(enrollments[2].pk))),
        (user_id(4), "sent", retry_key(journey.public_id, "1", str(enrollments[3].pk))),
    ]  # fmt: skip


def test_no_line_message_in_quiet_hours_it_waits_for_the_morning(line_account, fake_line, settings):
    settings.CAMPAIGNS_QUIET_HOURS = (21, 8)
    journey = line_journey(line_account)
    joined(1, line_account)
    night = dt.datetime(2026, 6, 10, 13, 30, tzinfo=dt.UTC)  # 22:30 in Tokyo
    run_journey(journey=journey, now=night)
    assert not fake_line.api_requests("/push") and not JourneyMessage.objects.exists()
    assert JourneyEnrollment.objects.get().next_at == dt.datetime(2026, 6, 10, 23, 0, tzinfo=dt.UTC)  # 08:00
    run_journey(journey=journey, now=dt.datetime(2026, 6, 10, 22, 0, tzinfo=dt.UTC))  # 07:00
    assert not fake_line.delivered
    run_journey(journey=journey, now=dt.datetime(2026, 6, 10, 23, 5, tzinfo=dt.UTC))
    assert fake_line.delivery_counts() == {user_id(1): 1}


def test_the_weekly_cap_defers_a_line_step(line_account, fake_line, settings):
    settings.CAMPAIGNS_WEEKLY_CAP = 2
    journey = line_journey(line_account)
    customer = joined(1, line_account)
    for _ in range(2):
        CampaignRecipient.objects.create(
            campaign=CampaignFactory(), customer=customer, email=customer.email, state="sent",
            sent_at=NOON - dt.timedelta(days=2),
        )  # fmt: skip
    run_journey(journey=journey, now=NOON)
    assert not fake_line.api_requests("/push")
    assert JourneyEnrollment.objects.get().next_at == at(days=1)  # tomorrow
    run_journey(journey=journey, now=at(days=5, hours=1))  # the campaign mails are a week old
    assert fake_line.delivery_counts() == {user_id(1): 1}


def test_a_line_message_counts_toward_the_weekly_cap_of_the_next_mail(line_account, fake_line, settings):
    settings.CAMPAIGNS_WEEKLY_CAP = 1
    journey = line_journey(line_account, [LINE_STEP, MAIL])
    joined(1, line_account, email_opt_in=True)
    run_journey(journey=journey, now=NOON)
    assert fake_line.delivery_counts() == {user_id(1): 1}
    assert mail.outbox == []  # the LINE message used the week's one
    assert JourneyEnrollment.objects.get().position == 2
    run_journey(journey=journey, now=at(days=7, hours=1))
    assert len(mail.outbox) == 1


def test_a_rate_limit_leaves_the_step_for_the_next_run_which_sends_it_once(line_account, fake_line):
    journey = line_journey(line_account)
    joined(1, line_account)
    joined(2, line_account)
    fake_line.fail_next(429, retry_after=0)
    assert run_journey(journey=journey, now=NOON)["steps"] == 0
    assert [r["status"] for r in fake_line.api_requests("/push")] == [429]  # the run asked LINE no more
    assert not JourneyMessage.objects.exists() and not fake_line.delivered
    assert set(JourneyEnrollment.objects.values_list("state", "position")) == {("active", 1)}
    assert run_journey(journey=journey, now=NOON + dt.timedelta(minutes=10))["steps"] == 2
    assert fake_line.delivery_counts() == {user_id(1): 1, user_id(2): 1}
    assert run_journey(journey=journey, now=at(hours=1))["steps"] == 0
    assert fake_line.delivery_counts() == {user_id(1): 1, user_id(2): 1}
    assert set(JourneyMessage.objects.values_list("state", flat=True)) == {"sent"}


def test_an_outage_or_an_exhausted_quota_leaves_the_step_and_the_mails_go_on(line_account, fake_line):
    line_only = line_journey(line_account, name="LINE")
    mails = make_journey(name="メール")
    joined(1, line_account, email_opt_in=True)
    fake_line.fail_next(429, message="You have reached your monthly limit.")
    run_journey(journey=line_only, now=NOON)
    run_journey(journey=mails, now=NOON)
    assert len(mail.outbox) == 1 and not fake_line.delivered
    assert JourneyEnrollment.objects.get(journey=line_only).position == 1
    fake_line.fail_next(500)
    run_journey(journey=line_only, now=at(hours=1))
    assert JourneyEnrollment.objects.get(journey=line_only).position == 1
    run_journey(journey=line_only, now=at(hours=2))
    assert fake_line.delivery_counts() == {user_id(1): 1}


def test_line_refusing_the_message_records_it_failed(line_account, fake_line):
    journey = line_journey(line_account)
    joined(1, line_account)
    fake_line.fail_next(400, message="The request body has 1 error(s)")
    assert run_journey(journey=journey, now=NOON)["steps"] == 1
    message = JourneyMessage.objects.get()
    assert message.state == "failed" and "400" in message.error and message.sent_at is None
    assert JourneyEnrollment.objects.get().state == "completed"
    run_journey(journey=journey, now=at(hours=1))
    assert len(fake_line.api_requests("/push")) == 1


def test_a_message_line_accepted_but_whose_commit_was_lost_is_not_delivered_twice(line_account, fake_line):
    journey = line_journey(line_account)
    joined(1, line_account)
    run_journey(journey=journey, now=NOON)
    # The worker died after LINE took the message and before its transaction committed:
    JourneyMessage.objects.all().delete()
    JourneyEnrollment.objects.update(state="active", position=1, finished_at=None)
    assert run_journey(journey=journey, now=at(hours=1))["steps"] == 1
    assert [r["status"] for r in fake_line.api_requests("/push")] == [200, 409]
    assert len({r["retry_key"] for r in fake_line.api_requests("/push")}) == 1
    assert fake_line.delivery_counts() == {user_id(1): 1}
    assert JourneyMessage.objects.get().state == "sent"


def test_an_inactive_line_account_fails_the_step_with_a_clear_error(line_account, fake_line):
    journey = line_journey(line_account)
    joined(1, line_account)
    line_account.active = False
    line_account.save()
    run_journey(journey=journey, now=NOON)
    message = JourneyMessage.objects.get()
    assert message.state == "failed" and message.error == "LINE account missing or inactive"
    assert not fake_line.api_requests("/push")


def test_the_unsubscribe_link_of_a_journey_line_message_opts_out_of_line_only(line_account, fake_line, client):
    from channels_hub.line.models import LineFollower

    journey = line_journey(line_account, [{"kind": "line", "line_text": "停止: {{ unsubscribe_url }}"}])
    customer = joined(1, line_account, email_opt_in=True)
    run_journey(journey=journey, now=NOON)
    path = fake_line.delivered_to(user_id(1))[0].split("停止: ")[1].replace("http://127.0.0.1:8000", "")
    assert "LINE" in client.post(path).content.decode()
    customer.refresh_from_db()
    assert customer.email_opt_in
    assert LineFollower.objects.get(line_user_id=user_id(1)).opted_out_at is not None


# --- Building ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("steps", "field"),
    [
        ([{"kind": "line"}], "steps.0.line_text"),
        ([{"kind": "line", "line_text": "   "}], "steps.0.line_text"),
        ([{"kind": "line", "line_text": "{{ secret }}"}], "steps.0.line_text"),
        ([{"kind": "line", "line_text": "{% if %}"}], "steps.0.line_text"),
        ([{"kind": "line", "line_text": "x" * 5001}], "steps.0.line_text"),
        ([MAIL, {"kind": "line", "line_text": "{{ customer.family_name }}" * 101}], "steps.1.line_text"),
    ],
)  # fmt: skip
def test_a_bad_line_step_names_its_field_and_is_not_saved(line_account, steps, field):
    journey = Journey(name="x", trigger="customer_created", from_email="Shop <news@shop.example>",
                      line_account=line_account)  # fmt: skip
    with pytest.raises(ValidationError) as error:
        save_journey(journey=journey, steps=steps)
    assert field in error.value.message_dict
    assert not Journey.objects.exists()


def test_a_line_step_needs_the_journeys_active_line_account(line_account):
    journey = Journey(name="x", trigger="customer_created", from_email="Shop <news@shop.example>")
    with pytest.raises(ValidationError) as error:
        save_journey(journey=journey, steps=[LINE_STEP])
    assert set(error.value.message_dict) == {"line_account"}
    line_account.active = False
    line_account.save()
    journey.line_account = line_account
    with pytest.raises(ValidationError) as error:
        save_journey(journey=journey, steps=[LINE_STEP])
    assert "line_account" in error.value.message_dict
    assert not Journey.objects.exists()


def test_the_database_refuses_a_line_step_without_text(line_account):
    from django.db import IntegrityError, transaction

    from campaigns.models import JourneyStep

    journey = line_journey(line_account)
    with pytest.raises(IntegrityError), transaction.atomic():
        JourneyStep.objects.create(journey=journey, position=2, kind="line", line_text="")


@pytest.fixture
def marketer(client):
    user = UserFactory(role="marketer", email="mk@tsunagu.example")
    login_as(client, user)
    return user


def test_the_builder_offers_a_line_step_only_when_an_active_line_account_exists(client, marketer):
    page = client.get("/campaigns/journeys/new/").content.decode()
    assert 'value="line"' not in page


@pytest.mark.parametrize(
    ("language", "words"),
    [("ja", ["LINE メッセージを送る", "LINE アカウント", "チャネル別のメッセージ"]),
     ("en", ["Send LINE message", "LINE account", "Messages by channel"])],
)  # fmt: skip
def test_the_builder_creates_a_journey_with_a_line_step(client, line_account, fake_line, language, words):
    login_as(client, UserFactory(role="marketer", language=language))
    page = client.get("/campaigns/journeys/new/").content.decode()
    assert 'value="line"' in page and all(w in page for w in words[:2])
    response = client.post("/campaigns/journeys/new/", {
        "name": "LINE ようこそ", "trigger": "customer_created", "from_email": "Shop <news@shop.example>",
        "line_account": str(line_account.pk), "holdout_percent": "0",
        "steps-TOTAL_FORMS": "2", "steps-INITIAL_FORMS": "0",
        "steps-0-kind": "line", "steps-0-line_text": "{{ customer.family_name }}様 ようこそ",
        "steps-1-kind": "",
    })  # fmt: skip
    journey = Journey.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/campaigns/journeys/{journey.public_id}/"
    assert journey.line_account == line_account
    assert list(journey.steps.values_list("kind", "line_text")) == [("line", "{{ customer.family_name }}様 ようこそ")]
    edit = client.get(f"/campaigns/journeys/{journey.public_id}/edit/").content.decode()
    assert "{{ customer.family_name }}様 ようこそ" in edit
    client.post(f"/campaigns/journeys/{journey.public_id}/action/", {"action": "activate"})
    journey.refresh_from_db()
    joined(1, line_account)
    run_journey(journey=journey, now=NOON)
    detail = client.get(f"/campaigns/journeys/{journey.public_id}/").content.decode()
    assert words[0] in detail and words[2] in detail and "Shop LINE" in detail


def test_the_builder_names_the_missing_line_account_and_text(client, line_account, marketer):
    response = client.post("/campaigns/journeys/new/", {
        "name": "x", "trigger": "customer_created", "from_email": "Shop <news@shop.example>", "holdout_percent": "0",
        "steps-TOTAL_FORMS": "1", "steps-INITIAL_FORMS": "0", "steps-0-kind": "line", "steps-0-line_text": "",
    })  # fmt: skip
    assert response.status_code == 200
    form, formset = response.context["form"], response.context["formset"]
    assert "line_account" in form.errors and "line_text" in formset.forms[0].errors
    assert not Journey.objects.exists()


def test_the_report_shows_line_messages_beside_mails(line_account, fake_line):
    journey = line_journey(line_account, [MAIL, LINE_STEP])
    joined(1, line_account, email_opt_in=True)
    joined(2, None, email_opt_in=True)
    run_journey(journey=journey, now=NOON)
    rows = {row["channel"]: row["counts"] for row in journey_report(journey)["messages_by_channel"]}
    assert rows == {"email": {"sent": 2}, "line": {"sent": 1, "suppressed": 1}}
