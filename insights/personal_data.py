"""insights' part of a person's export and erasure (APPI). Its fact tables are derived from orders,
messages and tickets, keyed by customer id with the prefecture and home store (what the reports
group by); they hold no name, contact or text. Erasure keeps them, so past KPIs still add up; the
export lists the days the person was active per channel."""

from crm import registry

from .models import CustomerChannelDay, TicketFact


def export_insights(person) -> dict:
    days = CustomerChannelDay.objects.filter(customer_id__in=person.customer_ids).order_by("day", "kind", "channel")
    return {
        "activity_days": [
            {"day": d.day, "kind": d.kind, "channel": d.channel, "events": d.events, "spend": d.spend} for d in days
        ]
    }


def erase_insights(person) -> dict:
    return {
        "activity_days_kept": CustomerChannelDay.objects.filter(customer_id__in=person.customer_ids).count(),
        "ticket_facts_kept": TicketFact.objects.filter(customer_id__in=person.customer_ids).count(),
    }


def register() -> None:
    registry.register_personal_data(
        registry.PersonalDataSource(
            key="insights",
            export=export_insights,
            erase=erase_insights,
            anonymises={"insights.CustomerChannelDay": ("customer",), "insights.TicketFact": ("customer",)},
            position=70,
        )
    )
    for label, reason in {
        "insights.FactsState": "When the fact tables were last refreshed.",
        "insights.PointsDay": "Points issued and redeemed per day, channel and region.",
        "insights.ProductAffinity": "Products bought together (counts of customers, no ids).",
        "insights.PopularProduct": "Best sellers per region.",
        "insights.RecommendationBuild": "Runs of the recommendation build.",
    }.items():
        registry.register_not_personal_data(label, reason=reason)
