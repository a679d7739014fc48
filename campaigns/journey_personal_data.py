"""The journeys-and-coupons part of campaigns' export and erasure (APPI): journey mails and LINE
messages (with the address or LINE user they went to), coupons issued to the person and their uses,
and mail preferences."""

from crm import registry

from .models import Coupon, CouponRedemption, JourneyEnrollment, JourneyMessage, MailPreference

ERASED = "erased"


def export_journeys_and_coupons(person) -> dict:
    ids = person.customer_ids
    preference = MailPreference.objects.filter(customer_id__in=ids).first()
    return {
        "journey_mails": [
            {"journey": m.step.journey.public_id, "step": m.step.position, "channel": m.channel, "email": m.email,
             "line_user_id": m.line_user_id, "state": m.state, "sent_at": m.sent_at}
            for m in JourneyMessage.objects.filter(customer_id__in=ids).select_related("step__journey").order_by("pk")
        ],
        "coupons": [
            {"code": c.code, "offer": c.offer.public_id, "uses": c.uses, "max_uses": c.max_uses,
             "issued_at": c.created_at}
            for c in Coupon.objects.filter(customer_id__in=ids).select_related("offer").order_by("pk")
        ],
        "coupon_redemptions": [
            {"offer": r.offer.public_id, "channel": r.channel, "discount": r.discount, "redeemed_at": r.redeemed_at}
            for r in CouponRedemption.objects.filter(customer_id__in=ids).select_related("offer").order_by("pk")
        ],
        "mail_preferences": {"topics": preference.topics, "max_per_week": preference.max_per_week}
        if preference else None,
    }  # fmt: skip


def erase_journeys_and_coupons(person) -> dict:
    """Addresses and LINE users anonymised, journeys ended, preferences deleted; coupons and their uses
    kept (counts)."""
    ids = person.customer_ids
    messages = JourneyMessage.objects.filter(customer_id__in=ids)
    return {
        "journey_mails": messages.exclude(email="").update(email=ERASED),
        "journey_line_messages": messages.exclude(line_user_id="").update(line_user_id=ERASED),
        "journey_enrollments": JourneyEnrollment.objects.filter(customer_id__in=ids, state="active").update(
            state=JourneyEnrollment.State.EXITED
        ),
        "mail_preferences": MailPreference.objects.filter(customer_id__in=ids).delete()[0],
    }


def register() -> None:
    registry.register_personal_data(
        registry.PersonalDataSource(
            key="campaigns.journeys",
            export=export_journeys_and_coupons,
            erase=erase_journeys_and_coupons,
            anonymises={  # the link stays (to an anonymised person), as on orders
                "campaigns.JourneyMessage": ("customer", "email", "line_user_id"),
                "campaigns.JourneyEnrollment": ("customer",),
                "campaigns.Coupon": ("customer",),
                "campaigns.CouponRedemption": ("customer",),
                "campaigns.MailPreference": ("customer",),  # deleted
            },
            position=56,
        )
    )
    for label, reason in {
        "campaigns.Offer": "Offer terms (discounts, validity), not people.",
        "campaigns.Journey": "Journey settings (trigger, segment filter).",
        "campaigns.JourneyStep": "Journey steps (waits, mail templates, coupon offers).",
    }.items():
        registry.register_not_personal_data(label, reason=reason)
