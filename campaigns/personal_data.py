"""campaigns' part of a person's export and erasure (APPI): the campaign mails sent to them (address,
subject as sent, what they did with it), suppression entries of their addresses, and the purchase
summary segments read. Erasure stops their pending mails (suppressed, reason `erased`, under the
same `state='pending'` condition the sender claims a mail with, so a mail is either sent before or
never), empties addresses and subjects, and keeps the rows so a campaign's counts stay. The LINE part
is campaigns/line_personal_data.py (position 55, after this one)."""

from crm import registry

from .models import CampaignRecipient, PurchaseSummary, Suppression

ERASED = "erased"


def export_campaigns(person) -> dict:
    rows = (
        CampaignRecipient.objects.filter(customer_id__in=person.customer_ids, channel=CampaignRecipient.Channel.EMAIL)
        .select_related("campaign")
        .order_by("pk")
    )
    summaries = (
        PurchaseSummary.objects.filter(customer_id__in=person.customer_ids)
        .select_related("product")
        .order_by("last_purchased_at")
    )
    return {
        "campaign_mails": [
            {"campaign": r.campaign.public_id, "campaign_name": r.campaign.name, "email": r.email,
             "subject": r.subject, "state": r.state, "sent_at": r.sent_at, "opened_at": r.opened_at,
             "clicked_at": r.clicked_at, "unsubscribed_at": r.unsubscribed_at, "bounced_at": r.bounced_at}
            for r in rows
        ],
        "suppressions": [
            {"email": s.email, "reason": s.reason, "at": s.created_at}
            for s in Suppression.objects.filter(email__in=person.emails).order_by("pk")
        ],
        "purchase_summary": [
            {"sku": s.product.sku, "channel": s.channel, "last_purchased_at": s.last_purchased_at} for s in summaries
        ],
    }  # fmt: skip


def erase_campaigns(person) -> dict:
    mine = CampaignRecipient.objects.filter(customer_id__in=person.customer_ids)
    stopped = mine.filter(state=CampaignRecipient.State.PENDING).update(
        state=CampaignRecipient.State.SUPPRESSED, suppressed_reason=ERASED
    )
    mails = mine.exclude(email="", subject="", error="").update(email="", subject="", error="")
    suppressions = 0
    for pk in Suppression.objects.filter(email__in=person.emails).values_list("pk", flat=True):
        # The address goes; the row stays so the campaign's suppression counts do not change.
        suppressions += Suppression.objects.filter(pk=pk).update(email=f"{ERASED}-{pk}@erased.invalid")
    return {"pending_mails_stopped": stopped, "campaign_mails": mails, "suppressions": suppressions}


def register() -> None:
    registry.register_personal_data(
        registry.PersonalDataSource(
            key="campaigns",
            export=export_campaigns,
            erase=erase_campaigns,
            anonymises={
                "campaigns.CampaignRecipient": ("customer", "email", "subject", "error", "state"),
                "campaigns.Suppression": ("email",),
                "campaigns.MailEvent": ("recipient",),
                "campaigns.PurchaseSummary": ("customer",),
            },
            position=50,
        )
    )
    for label, reason in {
        "campaigns.Segment": "Segment rules (conditions, not people).",
        "campaigns.Campaign": "Campaign templates and settings.",
    }.items():
        registry.register_not_personal_data(label, reason=reason)
