"""LINE's part of a person's export and erasure (APPI): the LINE accounts they wrote from and the
consent each official account recorded (follow, block, opt-out), their display names, their
account-link requests and the postbacks they sent. Their messages are the hub's (channels_hub's own
source exports and erases them). Channel secrets and access tokens belong to the shop, not to anyone.

Runs before crm's part (which erases the person's channel identities), since the LINE user ids are
found through them."""

from django.db.models import Q
from django.utils import timezone

from crm import registry
from crm.models import Channel, ChannelIdentity

from .models import LineDelivery, LineFollower, LineLinkRequest, LineWebhookEvent

ERASED = "erased"


def _line_user_ids(person) -> list[str]:
    ids = set(
        ChannelIdentity.objects.filter(customer_id__in=person.customer_ids, channel=Channel.LINE).values_list(
            "external_id", flat=True
        )
    )
    ids |= set(
        LineLinkRequest.objects.filter(customer_id__in=person.customer_ids).values_list("line_user_id", flat=True)
    )
    return sorted(i for i in ids if i and i != ERASED)


def export_line(person) -> dict:
    users = _line_user_ids(person)
    followers = LineFollower.objects.filter(line_user_id__in=users).select_related("account").order_by("pk")
    links = (
        LineLinkRequest.objects.filter(Q(customer_id__in=person.customer_ids) | Q(line_user_id__in=users))
        .select_related("account")
        .order_by("pk")
    )
    postbacks = (
        LineWebhookEvent.objects.filter(line_user_id__in=users, kind="postback")
        .select_related("account")
        .order_by("occurred_at")
    )
    return {
        "line": {
            "accounts": [
                {"official_account": f.account.name, "line_user_id": f.line_user_id, "display_name": f.display_name,
                 "follows": f.follows, "follow_changed_at": f.follow_changed_at, "opted_out_at": f.opted_out_at}
                for f in followers
            ],
            "account_links": [
                {"official_account": r.account.name, "line_user_id": r.line_user_id, "status": r.status,
                 "created_at": r.created_at, "completed_at": r.completed_at}
                for r in links
            ],
            "postbacks": [
                {"official_account": e.account.name, "at": e.occurred_at, "data": (e.payload.get("postback") or {})}
                for e in postbacks
            ],
        }
    }  # fmt: skip


def erase_line(person) -> dict:
    users = _line_user_ids(person)
    followers = 0
    for pk in LineFollower.objects.filter(line_user_id__in=users).values_list("pk", flat=True):
        # (account, line_user_id) is unique: a key no LINE user has; no more messages to them.
        followers += LineFollower.objects.filter(pk=pk).update(
            line_user_id=f"{ERASED}:{pk}", display_name="", follows=False, opted_out_at=timezone.now()
        )
    events = LineWebhookEvent.objects.filter(line_user_id__in=users).update(line_user_id="", payload={}, reply_token="")
    links = LineLinkRequest.objects.filter(Q(customer_id__in=person.customer_ids) | Q(line_user_id__in=users)).update(
        line_user_id=ERASED, proof_encrypted=""
    )
    deliveries = LineDelivery.objects.filter(line_user_id__in=users).update(line_user_id=ERASED)
    return {"line_accounts": followers, "line_events": events, "line_links": links, "line_deliveries": deliveries}


def register() -> None:
    registry.register_personal_data(
        registry.PersonalDataSource(
            key="channels_hub.line",
            export=export_line,
            erase=erase_line,
            anonymises={
                "channels_hub.LineFollower": ("line_user_id", "display_name", "follows", "opted_out_at"),
                "channels_hub.LineWebhookEvent": ("line_user_id", "payload", "reply_token"),
                "channels_hub.LineLinkRequest": ("customer", "line_user_id", "proof_encrypted"),
                "channels_hub.LineDelivery": ("line_user_id",),
            },
            position=5,
        )
    )
    registry.register_not_personal_data(
        "channels_hub.LineAccount", reason="The shop's LINE official accounts and their credentials."
    )
