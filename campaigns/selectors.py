"""Reads of the campaigns app: report counts, attribution of purchases, a customer's campaign mails."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Exists, F, Max, OuterRef, Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from crm.db_routers import reporting_db
from crm.models import Order, SalesChannel
from crm.registry import TimelineEntry

from . import conf
from .models import Campaign, CampaignRecipient, Segment

State = CampaignRecipient.State


def campaign_by_public_id(public_id: str) -> Campaign | None:
    return Campaign.objects.select_related("segment").filter(public_id=public_id).first()


def segment_by_public_id(public_id: str) -> Segment | None:
    return Segment.objects.filter(public_id=public_id).first()


_CHANNEL_COUNTS = {
    "recipients": Q(state__in=[State.PENDING, State.SENT, State.FAILED]),
    "sent": Q(state=State.SENT),
    "failed": Q(state=State.FAILED),
    "suppressed": Q(state=State.SUPPRESSED),
    "holdout": Q(state=State.HOLDOUT),
    "unsubscribed": Q(unsubscribed_at__isnull=False),
}


def campaign_counts(campaign: Campaign) -> dict:
    """The report's counts in one aggregate query."""
    agg = (
        CampaignRecipient.objects.using(reporting_db())
        .filter(campaign=campaign)
        .aggregate(
            total=Count("pk"),
            pending=Count("pk", filter=Q(state=State.PENDING)),
            sent=Count("pk", filter=Q(state=State.SENT)),
            failed=Count("pk", filter=Q(state=State.FAILED)),
            suppressed=Count("pk", filter=Q(state=State.SUPPRESSED)),
            holdout=Count("pk", filter=Q(state=State.HOLDOUT)),
            opened=Count("pk", filter=Q(opened_at__isnull=False)),
            clicked=Count("pk", filter=Q(clicked_at__isnull=False)),
            unsubscribed=Count("pk", filter=Q(unsubscribed_at__isnull=False)),
            bounced=Count("pk", filter=Q(bounced_at__isnull=False)),
            **{
                f"{channel}_{name}": Count("pk", filter=Q(channel=channel) & condition)
                for channel in CampaignRecipient.Channel.values
                for name, condition in _CHANNEL_COUNTS.items()
            },
        )
    )
    by_channel = {
        channel: {name: agg[f"{channel}_{name}"] for name in _CHANNEL_COUNTS}
        for channel in CampaignRecipient.Channel.values
    }
    return {
        "by_channel": by_channel,
        "audience": campaign.audience_size if campaign.audience_size is not None else 0,
        "recipients": agg["pending"] + agg["sent"] + agg["failed"],
        "pending": agg["pending"],
        "sent": agg["sent"],
        "delivered": agg["sent"] - agg["bounced"],
        "failed": agg["failed"],
        "suppressed": agg["suppressed"],
        "holdout": agg["holdout"],
        "opened": agg["opened"],
        "clicked": agg["clicked"],
        "unsubscribed": agg["unsubscribed"],
        "bounced": agg["bounced"],
    }


def _attributed_orders(campaign: Campaign, *, state: str, days: int) -> dict:
    """Orders of the group's customers from the send until `days` after it. Mailed customers count
    from their own send time; the hold-out group from the campaign's start."""
    start = F("sent_at") if state == State.SENT else None
    window = timedelta(days=days)
    group = CampaignRecipient.objects.filter(campaign=campaign, state=state, customer=OuterRef("customer"))
    if start is not None:
        group = group.filter(sent_at__lte=OuterRef("ordered_at"), sent_at__gt=OuterRef("ordered_at") - window)
        orders = Order.objects.filter(ordered_at__gte=campaign.started_at)
    else:
        orders = Order.objects.filter(ordered_at__gte=campaign.started_at, ordered_at__lt=campaign.started_at + window)
    agg = (
        orders.using(reporting_db())
        .filter(Exists(group))
        .aggregate(
            orders=Count("pk"),
            revenue=Coalesce(Sum("total"), 0),
            store_orders=Count("pk", filter=Q(channel=SalesChannel.STORE)),
            ec_orders=Count("pk", filter=~Q(channel=SalesChannel.STORE)),
            buyers=Count("customer", distinct=True),
        )
    )
    return agg


def campaign_attribution(campaign: Campaign, *, days: int | None = None) -> dict:
    """Purchases by recipients within N days after the send, split store vs EC/app, with the same
    figures for the hold-out group so that lift can be read off."""
    days = days or conf.attribution_days()
    empty = {"orders": 0, "revenue": 0, "store_orders": 0, "ec_orders": 0, "buyers": 0}
    if campaign.started_at is None:
        return {"days": days, "mailed": empty, "holdout": dict(empty)}
    return {
        "days": days,
        "mailed": _attributed_orders(campaign, state=State.SENT, days=days),
        "holdout": _attributed_orders(campaign, state=State.HOLDOUT, days=days),
    }


def lift(counts: dict, attribution: dict) -> dict:
    """Conversion (buyers per customer) of the mailed group and of the hold-out group."""
    mailed_rate = attribution["mailed"]["buyers"] / counts["sent"] if counts["sent"] else None
    holdout_rate = attribution["holdout"]["buyers"] / counts["holdout"] if counts["holdout"] else None
    difference = None
    if mailed_rate is not None and holdout_rate is not None:
        difference = mailed_rate - holdout_rate
    return {"mailed_rate": mailed_rate, "holdout_rate": holdout_rate, "difference": difference}


def campaigns_with_progress() -> QuerySet[Campaign]:
    return Campaign.objects.select_related("segment").annotate(
        sent_count=Count("recipients", filter=Q(recipients__state=State.SENT)),
        pending_count=Count("recipients", filter=Q(recipients__state=State.PENDING)),
    )


def stalled_campaign_ids(*, stalled_after: timedelta, now: datetime | None = None) -> list[int]:
    now = now or timezone.now()
    limit = now - stalled_after
    pending = CampaignRecipient.objects.filter(campaign=OuterRef("pk"), state=State.PENDING)
    return list(
        Campaign.objects.filter(status=Campaign.Status.SENDING, started_at__lt=limit)
        .filter(Exists(pending))
        .annotate(last_sent=Max("recipients__sent_at"))
        .filter(Q(last_sent__isnull=True) | Q(last_sent__lt=limit))
        .values_list("pk", flat=True)
    )


@dataclass(frozen=True)
class CustomerMailSummary:
    received: int
    opened: int
    clicked: int
    recent: list


def customer_mail_summary(*, customer, limit: int = 10) -> CustomerMailSummary:
    """For the 360 panel: two queries."""
    mails = CampaignRecipient.objects.filter(customer=customer, state=State.SENT)
    agg = mails.aggregate(
        received=Count("pk"),
        opened=Count("pk", filter=Q(opened_at__isnull=False)),
        clicked=Count("pk", filter=Q(clicked_at__isnull=False)),
    )
    recent = list(mails.select_related("campaign").order_by("-sent_at")[:limit])
    return CustomerMailSummary(agg["received"], agg["opened"], agg["clicked"], recent)


def campaign_mail_timeline(*, customer, limit: int, before=None) -> list[TimelineEntry]:
    mails = CampaignRecipient.objects.filter(customer=customer, state=State.SENT).select_related("campaign")
    if before is not None:
        mails = mails.filter(sent_at__lt=before)
    return [
        TimelineEntry(
            at=m.sent_at, kind="campaign_mail", id=m.campaign.public_id, channel=m.channel,
            title=m.subject or m.campaign.name,
            detail={"campaign": m.campaign.public_id, "opened": m.opened_at is not None,
                    "clicked": m.clicked_at is not None},
        )
        for m in mails.order_by("-sent_at")[:limit]
    ]  # fmt: skip


def customers_by_public_ids(public_ids: list[str]):
    """The segment builder's sample, in the order given."""
    from crm.models import Customer

    found = {c.public_id: c for c in Customer.objects.select_related("home_store").filter(public_id__in=public_ids)}
    return [found[p] for p in public_ids if p in found]


# --- Offers and coupons -------------------------------------------------------------------------
def offer_by_public_id(public_id: str):
    from .models import Offer

    return Offer.objects.filter(public_id=public_id).first()


def offer_report(offer) -> dict:
    """Codes issued and used, and redemptions (not given back) by sales channel and by store."""
    from django.db.models import Count, Sum

    from .models import Coupon, CouponRedemption

    codes = Coupon.objects.filter(offer=offer).aggregate(issued=Count("pk"), used=Sum("uses"))
    kept = CouponRedemption.objects.filter(offer=offer, released_at__isnull=True)
    by_channel = {
        row["channel"]: {"redemptions": row["n"], "discount": row["d"] or 0}
        for row in kept.values("channel").annotate(n=Count("pk"), d=Sum("discount")).order_by("channel")
    }
    by_store = {
        row["store__code"] or "": {"redemptions": row["n"], "discount": row["d"] or 0}
        for row in kept.values("store__code").annotate(n=Count("pk"), d=Sum("discount")).order_by("store__code")
    }
    return {
        "counts": {
            "codes": codes["issued"] or 0,
            "redemptions": sum(v["redemptions"] for v in by_channel.values()),
            "discount": sum(v["discount"] for v in by_channel.values()),
            "given_back": CouponRedemption.objects.filter(offer=offer, released_at__isnull=False).count(),
        },
        "by_channel": by_channel,
        "by_store": by_store,
    }


# --- Journeys -----------------------------------------------------------------------------------
def journey_report(journey, *, days: int | None = None) -> dict:
    """Who entered and where they are; each step's messages, and the mails and LINE messages by channel
    and state; purchases after entering (mailed vs hold-out,
    by sales channel) and the journey's coupons redeemed, by channel and store."""
    from datetime import timedelta

    from django.db.models import Count, Exists, OuterRef, Sum

    from crm.models import Order

    from . import conf
    from .models import CouponRedemption, JourneyEnrollment, JourneyMessage

    days = days or conf.attribution_days()
    enrollments = JourneyEnrollment.objects.filter(journey=journey)
    states = dict(enrollments.values_list("state").annotate(n=Count("pk")).values_list("state", "n"))
    per_step, per_channel = {}, {}
    for step_id, channel, state, n in (
        JourneyMessage.objects.filter(step__journey=journey)
        .values_list("step_id", "channel", "state")
        .annotate(n=Count("pk"))
    ):
        per_step.setdefault(step_id, {})[state] = n
        counts = per_channel.setdefault(channel, {})
        counts[state] = counts.get(state, 0) + n
    # Mails and LINE messages side by side: a channel the journey has steps of is shown even before any message.
    kinds = set(journey.steps.values_list("kind", flat=True))
    messages_by_channel = [
        {"channel": channel, "label": label, "counts": per_channel.get(channel, {})}
        for channel, label in JourneyMessage.Channel.choices
        if channel in kinds or channel in per_channel
    ]
    steps = [{"step": s, "counts": per_step.get(s.pk, {})} for s in journey.steps.select_related("offer")]
    groups = {}
    for name, holdout in (("mailed", False), ("holdout", True)):
        entered = enrollments.filter(holdout=holdout)
        after = JourneyEnrollment.objects.filter(
            journey=journey, holdout=holdout, customer=OuterRef("customer"), entered_at__lt=OuterRef("ordered_at"),
            entered_at__gte=OuterRef("ordered_at") - timedelta(days=days),
        )  # fmt: skip
        orders = Order.objects.filter(Exists(after))
        by_channel = {
            row["channel"]: {"orders": row["n"], "revenue": row["r"] or 0}
            for row in orders.values("channel").annotate(n=Count("pk"), r=Sum("total")).order_by("channel")
        }
        customers = entered.count()
        buyers = orders.values("customer").distinct().count()
        groups[name] = {
            "customers": customers, "buyers": buyers, "by_channel": by_channel,
            "conversion": round(100 * buyers / customers, 1) if customers else None,
        }  # fmt: skip
    redemptions = CouponRedemption.objects.filter(coupon__enrollment__journey=journey, released_at__isnull=True)
    coupons_by_channel = list(
        redemptions.values("channel").annotate(n=Count("pk"), d=Sum("discount")).order_by("channel")
    )
    coupons_by_store = list(
        redemptions.values("store__code", "store__name").annotate(n=Count("pk"), d=Sum("discount")).order_by("-n")
    )
    return {
        "states": states, "entered": sum(states.values()), "steps": steps, "attribution": groups,
        "attribution_days": days, "coupons_by_channel": coupons_by_channel, "coupons_by_store": coupons_by_store,
        "messages_by_channel": messages_by_channel,
    }  # fmt: skip


def customer_coupons(*, customer, limit: int = 10):
    """The customer's newest coupons, with their offer: what staff read out at the till or on the phone."""
    from .models import Coupon

    return list(Coupon.objects.filter(customer=customer).select_related("offer").order_by("-created_at")[:limit])
