"""loyalty's part of a person's export and erasure (APPI): the point account, its whole ledger, lots
and tier changes, and adjustments asked for them. Erasure keeps every row: the ledger must still sum
to the balance and the points liability must still add up; the rows point at the account of a
customer whose personal data crm's part anonymises. Free-text reasons staff typed about the person are
cleared."""

from crm import registry

from .models import PointAccount, PointAdjustment, PointTransaction, TierChange

ERASED = "(erased)"


def export_loyalty(person) -> dict:
    accounts = PointAccount.objects.filter(customer_id__in=person.customer_ids).select_related("tier")
    ledger = (
        PointTransaction.objects.filter(account__customer_id__in=person.customer_ids)
        .select_related("order", "store")
        .order_by("created_at", "pk")
    )
    adjustments = PointAdjustment.objects.filter(customer_id__in=person.customer_ids).order_by("created_at", "pk")
    tiers = TierChange.objects.filter(account__customer_id__in=person.customer_ids).select_related(
        "from_tier", "to_tier"
    )
    return {
        "points": {
            "accounts": [
                {"balance": a.balance, "tier": a.tier.code if a.tier_id else None,
                 "lifetime_spend": a.lifetime_spend, "created_at": a.created_at}
                for a in accounts
            ],
            "ledger": [
                {"id": t.public_id, "kind": t.kind, "points": t.points, "channel": t.channel,
                 "store": t.store.code if t.store_id else None, "order": t.order.public_id if t.order_id else None,
                 "reference": t.reference, "reason": t.reason, "at": t.created_at}
                for t in ledger
            ],
            "adjustments": [
                {"id": a.public_id, "points": a.points, "reason": a.reason, "status": a.status, "at": a.created_at}
                for a in adjustments
            ],
            "tier_changes": [
                {"from": c.from_tier.code if c.from_tier_id else None, "to": c.to_tier.code if c.to_tier_id else None,
                 "at": c.changed_at}
                for c in tiers.order_by("changed_at", "pk")
            ],
        }
    }  # fmt: skip


def erase_loyalty(person) -> dict:
    # Reasons typed by staff may name the person ("birthday gift for Mrs Sato"); points stay.
    ledger = (
        PointTransaction.objects.filter(account__customer_id__in=person.customer_ids)
        .exclude(reason__in=["", ERASED])
        .update(reason=ERASED)
    )
    adjustments = (
        PointAdjustment.objects.filter(customer_id__in=person.customer_ids).exclude(reason=ERASED).update(reason=ERASED)
    )
    return {"ledger_reasons": ledger, "adjustment_reasons": adjustments}


def register() -> None:
    registry.register_personal_data(
        registry.PersonalDataSource(
            key="loyalty",
            export=export_loyalty,
            erase=erase_loyalty,
            anonymises={
                "loyalty.PointAccount": ("customer",),
                "loyalty.PointTransaction": ("account", "reason"),
                "loyalty.PointAdjustment": ("customer", "reason"),
                "loyalty.PointLot": ("account",),
                "loyalty.PointLotUse": ("transaction",),
                "loyalty.TierChange": ("account",),
            },
            position=20,
        )
    )
    for label, reason in {
        "loyalty.Tier": "The tiers of the programme.",
        "loyalty.EarnRule": "How many points a yen earns, per channel.",
        "loyalty.PointCampaign": "Point multiplier campaigns.",
    }.items():
        registry.register_not_personal_data(label, reason=reason)
