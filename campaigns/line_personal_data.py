"""The LINE part of campaigns' export and erasure: which LINE user each LINE campaign message went to.
Runs after campaigns' mail part (which stops the person's pending messages)."""

from crm import registry

from .models import CampaignRecipient

ERASED = "erased"


def export_line_campaign_messages(person) -> dict:
    rows = (
        CampaignRecipient.objects.filter(customer_id__in=person.customer_ids, channel=CampaignRecipient.Channel.LINE)
        .select_related("campaign")
        .order_by("pk")
    )
    return {
        "line_campaign_messages": [
            {"campaign": r.campaign.public_id, "line_user_id": r.line_user_id, "state": r.state, "sent_at": r.sent_at,
             "opted_out_at": r.unsubscribed_at}
            for r in rows
        ]
    }  # fmt: skip


def erase_line_campaign_messages(person) -> dict:
    rows = CampaignRecipient.objects.filter(customer_id__in=person.customer_ids).exclude(line_user_id="")
    return {"line_campaign_messages": rows.update(line_user_id=ERASED)}


def register() -> None:
    registry.register_personal_data(
        registry.PersonalDataSource(
            key="campaigns.line",
            export=export_line_campaign_messages,
            erase=erase_line_campaign_messages,
            anonymises={"campaigns.CampaignRecipient": ("customer", "line_user_id")},
            position=55,
        )
    )
