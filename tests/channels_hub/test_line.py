"""The LINE channel against the fake LINE API over loopback: webhook signature and replays, messages
into the hub, consent, postbacks, the account-link flow end to end, agents' replies."""

import datetime as dt
import json
from io import StringIO
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.management import call_command
from django.utils import timezone

from channels_hub.line.client import connector_for, retry_key
from channels_hub.line.fake import sign
from channels_hub.line.models import LineAccount, LineDelivery, LineFollower, LineLinkRequest, LineWebhookEvent
from channels_hub.models import Lead, Message, Ticket
from channels_hub.services import reply_to_ticket
from channels_hub.services.outbound import deliver_reply
from crm.exceptions import DomainError
from crm.models import ChannelIdentity
from crm.registry import customer_timeline
from tests.crm.factories import CustomerFactory, IdentityFactory, UserFactory

from .line_support import SECRET, TOKEN, user_id

pytestmark = pytest.mark.django_db
ALICE = user_id(1)
BOB = user_id(2)


def _post(client, body: bytes, signature: str | None, name: str = "shop"):
    headers = {} if signature is None else {"HTTP_X_LINE_SIGNATURE": signature}
    return client.post(f"/hooks/line/{name}/", body, content_type="application/json", **headers)


def _event(kind="message", user=ALICE, event_id="01HZX0000000000000000000AA", **extra):
    event = {"type": kind, "mode": "active", "timestamp": int(timezone.now().timestamp() * 1000),
             "source": {"type": "user", "userId": user}, "webhookEventId": event_id,
             "deliveryContext": {"isRedelivery": False}, "replyToken": "r" * 32, **extra}  # fmt: skip
    return event


def _body(*events) -> bytes:
    return json.dumps({"destination": "Ubot", "events": list(events)}).encode()


# --- Webhook: signature, validation, replays ----------------------------------------------------------
@pytest.mark.parametrize(
    "signed",
    [
        pytest.param(lambda body: None, id="missing"),
        pytest.param(lambda body: "", id="empty"),
        pytest.param(lambda body: "not-base64", id="garbage"),
        pytest.param(lambda body: sign(b"another body", SECRET), id="another-body"),
        pytest.param(lambda body: sign(body, "another-secret"), id="another-secret"),
    ],
)
def test_a_webhook_with_a_bad_signature_is_refused_and_writes_nothing(line_account, client, signed):
    body = _body(_event(message={"type": "text", "id": "1", "text": "hi"}))
    signature = signed(body)
    response = _post(client, body, signature)
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_signature"
    assert not LineWebhookEvent.objects.exists() and not Message.objects.exists()


def test_an_unknown_or_inactive_account_answers_404(line_account, client):
    body = _body()
    assert _post(client, body, sign(body, SECRET), name="nope").status_code == 404
    LineAccount.objects.filter(pk=line_account.pk).update(active=False)
    connector_for.__globals__["_connectors"].invalidate()
    assert _post(client, body, sign(body, SECRET)).status_code == 404


def test_the_verify_button_of_the_console_gets_200(line_account, client):
    body = _body()  # LINE's "Verify" sends a signed body without events
    response = _post(client, body, sign(body, SECRET))
    assert response.status_code == 200 and not LineWebhookEvent.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"not json", "body"),
        (b'{"events": {}}', "events"),
        (_body({"type": "message", "timestamp": 1}), "events.0.webhookEventId"),
        (_body({"type": "message", "webhookEventId": "x" * 65, "timestamp": 1}), "events.0.webhookEventId"),
        (_body({"webhookEventId": "e1", "timestamp": 1}), "events.0.type"),
        (_body({"type": "follow", "webhookEventId": "e1", "timestamp": "yesterday"}), "events.0.timestamp"),
        (_body({"type": "follow", "webhookEventId": "e1", "timestamp": 1, "source": {"userId": "U" * 80}}),
         "events.0.source.userId"),
    ],
)  # fmt: skip
def test_a_signed_but_malformed_body_is_400_naming_the_field(line_account, client, body, field):
    response = _post(client, body, sign(body, SECRET))
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not LineWebhookEvent.objects.exists()


def test_a_body_over_1_mb_is_refused(line_account, client):
    body = b'{"events": [], "pad": "' + b"x" * 1_000_001 + b'"}'
    assert _post(client, body, sign(body, SECRET)).status_code == 413


def test_a_text_message_opens_a_ticket_under_a_lead_named_from_the_line_profile(line_account, fake_line):
    fake_line.profiles[ALICE] = "ありす"
    result = fake_line.say(ALICE, "コートの在庫はありますか")
    assert result["status"] == 200
    message = Message.objects.get()
    assert message.channel == "line" and message.body == "コートの在庫はありますか"
    assert message.ticket.lead.name == "ありす" and message.ticket.lead.external_id == ALICE
    event = LineWebhookEvent.objects.get()
    assert event.state == "processed" and event.message == message
    assert "text" not in json.dumps(event.payload)  # the body lives in the hub only
    assert fake_line.api_requests("/v2/bot/profile/")  # asked LINE once for the name


def test_a_redelivered_event_is_stored_once(line_account, fake_line, client, django_capture_on_commit_callbacks):
    event = _event(message={"type": "text", "id": "325708", "text": "hello"})
    body = _body(event)
    with django_capture_on_commit_callbacks(execute=True):
        assert _post(client, body, sign(body, SECRET)).status_code == 200
    event["deliveryContext"]["isRedelivery"] = True  # LINE retries a delivery it thinks failed
    again = _body(event)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert _post(client, again, sign(again, SECRET)).status_code == 200
    assert callbacks == []  # nothing queued for a replay
    assert LineWebhookEvent.objects.count() == 1 and Message.objects.count() == 1


def test_the_webhook_answers_before_processing(line_account, fake_line, client, django_capture_on_commit_callbacks):
    body = _body(_event(message={"type": "text", "id": "9", "text": "hi"}))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert _post(client, body, sign(body, SECRET)).status_code == 200
    assert len(callbacks) == 1 and not Message.objects.exists()  # the work is queued for after the commit
    assert LineWebhookEvent.objects.get().state == "pending"


def test_stickers_and_images_are_kept_as_messages(line_account, fake_line):
    fake_line.sticker(ALICE, package_id="446", sticker_id="1988")
    fake_line.image(ALICE)
    sticker, image = Message.objects.order_by("pk")
    assert sticker.attachments[0]["type"] == "line/sticker" and sticker.attachments[0]["sticker_id"] == "1988"
    assert image.attachments[0]["type"] == "line/image" and image.attachments[0]["line_message_id"]
    assert sticker.ticket_id == image.ticket_id  # threaded into one ticket


def test_a_message_from_a_linked_line_user_is_in_the_customers_timeline(line_account, fake_line):
    customer = CustomerFactory()
    IdentityFactory(customer=customer, channel="line", external_id=ALICE)
    fake_line.say(ALICE, "返品したい")
    ticket = Ticket.objects.get()
    assert ticket.customer == customer and ticket.lead is None
    assert any(e.kind == "message" and e.channel == "line" for e in customer_timeline(customer=customer))


def test_follow_and_unfollow_are_the_consent_and_a_late_event_does_not_undo_a_newer_one(line_account, fake_line):
    fake_line.follow(ALICE, "ありす")
    follower = LineFollower.objects.get(line_user_id=ALICE)
    assert follower.follows and follower.display_name == "ありす"
    fake_line.unfollow(ALICE)
    follower.refresh_from_db()
    assert not follower.follows
    old = fake_line._base_event("follow", ALICE)
    old["timestamp"] -= 60_000  # a follow from before the block, delivered late
    fake_line.send_event(old)
    follower.refresh_from_db()
    assert not follower.follows


def test_a_postback_is_kept(line_account, fake_line):
    fake_line.postback(ALICE, "action=coupon&id=42")
    event = LineWebhookEvent.objects.get(kind="postback")
    assert event.state == "processed" and event.payload["postback"]["data"] == "action=coupon&id=42"


def test_hostile_line_text_is_escaped_on_the_ticket_page(line_account, fake_line, client):
    fake_line.profiles[ALICE] = "<img src=x onerror=alert(2)>"
    fake_line.say(ALICE, "<script>alert(1)</script>")
    client.force_login(UserFactory(role="agent"))
    page = client.get(f"/hub/tickets/{Ticket.objects.get().public_id}/").content.decode()
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img src=x" not in page


# --- Account linking ---------------------------------------------------------------------------------
def _link_url(fake_line) -> str:
    text = fake_line.delivered_to(ALICE)[-1]
    return next(word for word in text.split() if "/line/shop/link/" in word)


def test_the_link_flow_from_keyword_to_identity(line_account, fake_line, client):
    member = CustomerFactory(member_number="123456789012", birth_date=dt.date(1985, 3, 3))
    fake_line.follow(ALICE, "ありす")
    fake_line.say(ALICE, "質問です")  # an unknown LINE user's ticket is a lead's for now
    fake_line.say(ALICE, "会員連携")
    assert not Message.objects.filter(body="会員連携").exists()  # a command, not a ticket message
    url = urlsplit(_link_url(fake_line))
    page = f"{url.path}?{url.query}"
    assert client.get(page).status_code == 200

    wrong = client.post(page, {"member_number": "123456789012", "birth_date": "1985-03-04"})
    assert wrong.status_code == 422
    assert not ChannelIdentity.objects.filter(channel="line").exists()

    right = client.post(page, {"member_number": "123456789012", "birth_date": "1985-03-03"})
    assert right.status_code == 302
    dialog = urlsplit(right["Location"])
    assert right["Location"].startswith(fake_line.base_url + "/dialog/bot/accountLink?")
    assert parse_qs(dialog.query)["linkToken"] == parse_qs(url.query)["linkToken"]
    # Proven, but not linked until LINE confirms the person is the LINE user the token was made for.
    assert not ChannelIdentity.objects.filter(channel="line").exists()
    request = LineLinkRequest.objects.get()
    assert request.status == "proven" and "1985" not in request.proof_encrypted

    # The browser at LINE's dialog: LINE checks the token and sends the accountLink event.
    query = parse_qs(dialog.query)
    assert fake_line.account_link(query["linkToken"][0], query["nonce"][0])["status"] == 200
    identity = ChannelIdentity.objects.get(channel="line")
    assert identity.customer == member and identity.external_id == ALICE
    request.refresh_from_db()
    assert request.status == "linked" and request.proof_encrypted == ""
    assert Lead.objects.get(external_id=ALICE).customer == member  # the earlier ticket moved to the member
    assert Ticket.objects.get().customer == member
    assert "connected" in fake_line.delivered_to(ALICE)[-1] or "連携" in fake_line.delivered_to(ALICE)[-1]
    assert client.get(page).status_code == 410  # the token is used up

    fake_line.say(ALICE, "ポイントは？")
    assert Message.objects.get(body="ポイントは？").ticket.customer == member


def test_a_link_token_forwarded_to_another_line_user_links_nothing(line_account, fake_line, client):
    CustomerFactory(member_number="123456789012", birth_date=dt.date(1985, 3, 3))
    fake_line.say(ALICE, "会員連携")
    url = urlsplit(_link_url(fake_line))
    right = client.post(f"{url.path}?{url.query}", {"member_number": "123456789012", "birth_date": "1985-03-03"})
    nonce = parse_qs(urlsplit(right["Location"]).query)["nonce"][0]
    event = fake_line._base_event("accountLink", BOB)  # LINE says: the user who came is Bob
    event["link"] = {"result": "ok", "nonce": nonce}
    fake_line.send_event(event)
    assert not ChannelIdentity.objects.filter(channel="line").exists()
    assert LineLinkRequest.objects.get().status == "failed"


def test_a_failed_account_link_event_links_nothing(line_account, fake_line, client):
    CustomerFactory(member_number="123456789012", birth_date=dt.date(1985, 3, 3))
    fake_line.say(ALICE, "会員連携")
    url = urlsplit(_link_url(fake_line))
    right = client.post(f"{url.path}?{url.query}", {"member_number": "123456789012", "birth_date": "1985-03-03"})
    query = parse_qs(urlsplit(right["Location"]).query)
    fake_line.link_tokens[query["linkToken"][0]]["used"] = True  # LINE refuses the token
    fake_line.account_link(query["linkToken"][0], query["nonce"][0])
    assert not ChannelIdentity.objects.filter(channel="line").exists()
    assert LineLinkRequest.objects.get().status == "failed"


@pytest.mark.parametrize("token", ["", "unknown", "expired"])
def test_the_link_page_refuses_unknown_and_expired_tokens(line_account, fake_line, client, token):
    if token == "expired":
        fake_line.say(ALICE, "会員連携")
        LineLinkRequest.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
        token = LineLinkRequest.objects.get().link_token
    assert client.get(f"/line/shop/link/?linkToken={token}").status_code == 410
    assert client.post(f"/line/shop/link/?linkToken={token}", {"member_number": "1"}).status_code == 410


def test_the_link_page_validates_its_form_and_writes_nothing(line_account, fake_line, client):
    fake_line.say(ALICE, "会員連携")
    page = urlsplit(_link_url(fake_line))
    page = f"{page.path}?{page.query}"
    response = client.post(page, {"member_number": "", "birth_date": "not a date"})
    assert response.status_code == 400
    assert "member_number" in response.context["form"].errors and "birth_date" in response.context["form"].errors
    assert client.post(page, {"member_number": "123"}).status_code == 400  # neither birth date nor phone
    assert LineLinkRequest.objects.get().status == "issued"


def test_the_link_page_passes_on_the_crm_lockout(line_account, fake_line, client, monkeypatch):
    class TooManyAttempts(DomainError):
        code, status = "too_many_attempts", 429

    def locked(**kwargs):
        raise TooManyAttempts("Too many attempts.")

    monkeypatch.setattr("channels_hub.line.services.linking.link_channel_account", locked)
    fake_line.say(ALICE, "会員連携")
    page = urlsplit(_link_url(fake_line))
    response = client.post(f"{page.path}?{page.query}", {"member_number": "123456789012", "phone": "09012345678"})
    assert response.status_code == 429 and "Too many attempts." in response.content.decode()


def test_a_page_token_is_used_up_after_five_wrong_proofs(line_account, fake_line, client):
    CustomerFactory(member_number="123456789012", birth_date=dt.date(1985, 3, 3))
    fake_line.say(ALICE, "会員連携")
    page = urlsplit(_link_url(fake_line))
    page = f"{page.path}?{page.query}"
    for _ in range(5):
        client.post(page, {"member_number": "123456789012", "birth_date": "2000-01-01"})
    assert client.post(page, {"member_number": "123456789012", "birth_date": "1985-03-03"}).status_code == 410


def test_an_already_linked_user_is_told_so(line_account, fake_line):
    IdentityFactory(channel="line", external_id=ALICE)
    fake_line.say(ALICE, "会員連携")
    assert not LineLinkRequest.objects.exists()
    assert fake_line.api_requests("/v2/bot/message/reply")


# --- Replies from the ticket page --------------------------------------------------------------------
def test_a_reply_within_the_reply_token_window_uses_the_reply_api(
    line_account, fake_line, django_capture_on_commit_callbacks
):
    fake_line.say(ALICE, "こんにちは")
    ticket = Ticket.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        message = reply_to_ticket(ticket=ticket, user=UserFactory(role="agent"), body="いらっしゃいませ")
    message.refresh_from_db()
    assert message.delivery_status == "sent"
    assert message.line_delivery.method == "reply"
    assert fake_line.delivered_to(ALICE) == ["いらっしゃいませ"]


def test_a_later_reply_goes_by_push_and_a_push_retry_is_delivered_once(line_account, fake_line, settings):
    settings.HUB_WEBHOOK_MAX_ATTEMPTS = 3
    fake_line.say(ALICE, "こんにちは")
    LineWebhookEvent.objects.update(received_at=timezone.now() - dt.timedelta(minutes=5))  # token too old
    message = reply_to_ticket(ticket=Ticket.objects.get(), user=UserFactory(role="agent"), body="お待たせしました")
    fake_line.fail_next(500)
    assert deliver_reply(message_id=message.pk) == "retry"
    message.refresh_from_db()
    assert message.delivery_status == "pending" and "500" in message.delivery_error
    assert deliver_reply(message_id=message.pk) == "sent"
    assert deliver_reply(message_id=message.pk) == "skip"
    delivery = LineDelivery.objects.get(message=message)
    assert delivery.method == "push"
    pushes = fake_line.api_requests("/v2/bot/message/push")
    assert {p["retry_key"] for p in pushes} == {str(delivery.retry_key)}  # the same key on every attempt
    assert fake_line.delivered_to(ALICE) == ["お待たせしました"]


def test_a_reply_to_a_customer_reached_only_through_their_line_identity(line_account, fake_line):
    customer = CustomerFactory()
    IdentityFactory(customer=customer, channel="line", external_id=ALICE)
    fake_line.follow(ALICE)
    from channels_hub.services import log_call

    ticket = log_call(customer=customer, user=UserFactory(role="agent"), body="電話あり").ticket
    message = reply_to_ticket(ticket=ticket, user=UserFactory(role="agent"), body="LINEでご連絡します", channel="line")
    assert deliver_reply(message_id=message.pk) == "sent"
    assert fake_line.delivered_to(ALICE) == ["LINEでご連絡します"]


def test_a_reply_nobody_can_receive_on_line_fails_visibly(line_account, fake_line, client):
    customer = CustomerFactory()
    from channels_hub.services import log_call

    ticket = log_call(customer=customer, user=UserFactory(role="agent"), body="電話あり").ticket
    message = reply_to_ticket(ticket=ticket, user=UserFactory(role="agent"), body="x", channel="line")
    assert deliver_reply(message_id=message.pk) == "failed"
    message.refresh_from_db()
    assert message.delivery_status == "failed" and "no LINE account" in message.delivery_error
    client.force_login(UserFactory(role="agent"))
    page = client.get(f"/hub/tickets/{ticket.public_id}/").content.decode()
    assert "delivery-failed" in page


def test_line_refusing_a_push_fails_it_without_retrying(line_account, fake_line):
    fake_line.say(ALICE, "hi")
    LineWebhookEvent.objects.update(received_at=timezone.now() - dt.timedelta(minutes=5))
    message = reply_to_ticket(ticket=Ticket.objects.get(), user=UserFactory(role="agent"), body="x")
    fake_line.fail_next(400, message="The request body has 1 error(s)")
    assert deliver_reply(message_id=message.pk) == "failed"


def test_the_same_retry_key_is_delivered_once(line_account, fake_line):
    connector = connector_for("shop")
    key = retry_key("test", ALICE)
    first = connector.push(to=ALICE, texts=["一度だけ"], key=key)
    again = connector.push(to=ALICE, texts=["一度だけ"], key=key)
    assert not first.already_accepted and again.already_accepted
    assert fake_line.delivered_to(ALICE) == ["一度だけ"]


# --- Configuration --------------------------------------------------------------------------------------
def test_the_command_stores_the_secrets_encrypted_and_never_prints_them(fake_line):
    out = StringIO()
    call_command("line_account", name="store-a", channel_secret="s3cret-value-abcd", access_token="tok-value-wxyz",
                 api_base=fake_line.base_url, stdout=out)  # fmt: skip
    printed = out.getvalue()
    assert "s3cret" not in printed and "tok-value" not in printed and "/hooks/line/store-a/" in printed
    account = LineAccount.objects.get(name="store-a")
    assert "s3cret" not in account.channel_secret_encrypted and account.channel_secret == "s3cret-value-abcd"
    call_command("line_account", name="store-a", label="Store A", stdout=StringIO())  # secrets kept
    account.refresh_from_db()
    assert account.access_token == "tok-value-wxyz" and account.label == "Store A"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"name": "new"}, "channel_secret"),
        ({"name": "bad name!", "channel_secret": "s", "access_token": "t"}, "name"),
        ({"name": "x", "channel_secret": "s", "access_token": "t", "api_base": "ftp://x"}, "api_base"),
    ],
)
def test_the_command_refuses_bad_input(options, message):
    from django.core.management import CommandError

    with pytest.raises(CommandError, match=message):
        call_command("line_account", stdout=StringIO(), **options)
    assert not LineAccount.objects.exists()


def test_the_admin_never_shows_the_secrets_back(line_account, client):
    admin = UserFactory(role="admin", is_staff=True, is_superuser=True)
    client.force_login(admin)
    listing = client.get("/admin/channels_hub/lineaccount/").content.decode()
    change = client.get(f"/admin/channels_hub/lineaccount/{line_account.pk}/change/").content.decode()
    for page in (listing, change):
        assert SECRET not in page and TOKEN not in page
    assert "…6789" in listing  # the token's last four characters, to tell accounts apart
    response = client.post(f"/admin/channels_hub/lineaccount/{line_account.pk}/change/", {
        "label": "New label", "channel_secret": "", "access_token": "", "api_base": line_account.api_base,
        "link_keyword": "会員連携", "active": "on",
    })  # fmt: skip
    assert response.status_code == 302
    line_account.refresh_from_db()
    assert line_account.label == "New label" and line_account.channel_secret == SECRET


def test_an_event_whose_processing_was_lost_is_processed_by_the_safety_net(
    line_account, fake_line, client, django_capture_on_commit_callbacks
):
    from channels_hub.line.tasks import requeue_line_events

    body = _body(_event(message={"type": "text", "id": "77", "text": "届いてますか"}))
    with django_capture_on_commit_callbacks(execute=False):  # the queued task is lost
        assert _post(client, body, sign(body, SECRET)).status_code == 200
    assert requeue_line_events() == 0  # too recent: it may still be on its way
    LineWebhookEvent.objects.update(received_at=timezone.now() - dt.timedelta(minutes=6))
    assert requeue_line_events() == 1
    assert Message.objects.get().body == "届いてますか"
    assert requeue_line_events() == 0


def test_the_purge_erases_proofs_line_never_confirmed(line_account, fake_line, client):
    from channels_hub.line.services import purge_link_proofs

    CustomerFactory(member_number="123456789012", birth_date=dt.date(1985, 3, 3))
    fake_line.say(ALICE, "会員連携")
    url = urlsplit(_link_url(fake_line))
    client.post(f"{url.path}?{url.query}", {"member_number": "123456789012", "birth_date": "1985-03-03"})
    assert purge_link_proofs() == 0
    assert purge_link_proofs(now=timezone.now() + dt.timedelta(minutes=31)) == 1
    request = LineLinkRequest.objects.get()
    assert request.proof_encrypted == "" and request.status == "failed"


def test_an_agent_opens_an_image_a_line_user_sent(line_account, fake_line, client):
    from channels_hub.line.fake import PIXEL_PNG

    fake_line.image(ALICE)
    message = Message.objects.get()
    client.force_login(UserFactory(role="agent"))
    page = client.get(f"/hub/tickets/{message.ticket.public_id}/").content.decode()
    url = f"/hub/line/messages/{message.public_id}/image/"
    assert url in page
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "image/png" and response.content == PIXEL_PNG
    assert "sandbox" in response["Content-Security-Policy"]
    assert client.get("/hub/line/messages/msg_nope/image/").status_code == 404
    client.logout()
    assert client.get(url).status_code == 302  # staff only


def test_a_friend_from_before_the_account_was_connected_counts_as_following(line_account, fake_line):
    fake_line.profiles[ALICE] = "ありす"  # a friend; no follow event ever reached Tsunagu
    fake_line.say(ALICE, "こんにちは")
    follower = LineFollower.objects.get(line_user_id=ALICE)
    assert follower.follows and follower.display_name == "ありす"
    fake_line.say(BOB, "hi")  # not a friend: LINE shows no profile
    assert not LineFollower.objects.get(line_user_id=BOB).follows


def test_the_followers_command_records_the_accounts_friends(line_account, fake_line):
    for n in range(1, 4):
        fake_line.profiles[user_id(n)] = f"friend {n}"
    fake_line.unfollow(user_id(9))  # someone who blocked before
    out = StringIO()
    call_command("line_followers", name="shop", stdout=out)
    assert set(LineFollower.objects.filter(follows=True).values_list("line_user_id", flat=True)) == {
        user_id(1),
        user_id(2),
        user_id(3),
    }
    assert "3" in out.getvalue()
    call_command("line_followers", name="shop", stdout=StringIO())  # again: nothing changes
    assert LineFollower.objects.filter(follows=True).count() == 3


def test_a_message_the_user_unsends_is_no_longer_shown(line_account, fake_line):
    result = fake_line.say(ALICE, "間違えて送りました")
    message_id = result["event"]["message"]["id"]
    event = fake_line._base_event("unsend", BOB, reply=False)
    event["unsend"] = {"messageId": message_id}
    fake_line.send_event(event)  # someone else cannot unsend it
    assert Message.objects.get().body == "間違えて送りました"
    event = fake_line._base_event("unsend", ALICE, reply=False)
    event["unsend"] = {"messageId": message_id}
    fake_line.send_event(event)
    assert Message.objects.get().body != "間違えて送りました"
