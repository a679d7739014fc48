"""Campaigns' part of the demo (crm.demo): the purchase summaries the segments read (rebuilt after a
bulk load, as `rebuild_purchase_summary` does), three segments made with create_segment, a sale
notice sent with start_campaign to one of them with a 10 % hold-out, purchases by mailed and held-out
customers right after it (recorded through crm's record_order, so attribution and lift have
something to show) and a draft for next season. Made once: nothing is written when the demo's
segments exist already."""

from django.test.utils import override_settings
from django.utils import timezone

from crm.models import Product, SalesChannel, Store
from crm.services import record_order

from .models import Campaign, CampaignRecipient, PurchaseSummary, Segment
from .services.campaigns import create_campaign, create_segment, start_campaign
from .services.purchases import rebuild_purchase_summary

SEGMENTS = [
    ("東京都のメール購読者", {"all": [
        {"field": "prefecture", "op": "in", "value": ["東京都"]},
        {"field": "email_opt_in", "op": "eq", "value": True},
    ]}),
    ("アウターを 1 年以内に購入", {"all": [
        {"field": "purchased", "op": "eq", "value": True, "category": "outerwear", "within_days": 365},
    ]}),
    ("休眠顧客（180 日以上購入なし）", {"all": [
        {"field": "days_since_last_purchase", "op": "gte", "value": 180},
        {"field": "email_opt_in", "op": "eq", "value": True},
    ]}),
]  # fmt: skip
SENDER = "Tsunagu Store <news@tsunagu.example>"
BODY = (
    "{{ customer.family_name }} {{ customer.given_name }}様\n\n"
    "いつもご利用ありがとうございます。会員様限定の冬のセールを本日から開催します。\n"
    "店舗でもオンラインストアでもご利用いただけます。\n"
)


def demo_campaigns(*, rng, seeded, **_) -> str:
    if seeded or not PurchaseSummary.objects.exists():
        rebuild_purchase_summary()
    names = [name for name, _ in SEGMENTS]
    if Segment.objects.filter(name__in=names).exists():
        return ""
    segments = [create_segment(name=name, rules=rules) for name, rules in SEGMENTS]
    campaign = create_campaign(
        name="冬のセール先行案内", segment=segments[0], subject="{{ customer.family_name }}様 冬のセールのご案内",
        from_email=SENDER, body_text=BODY, holdout_percent=10,
    )  # fmt: skip
    # Sends at once when tasks run eagerly (`make run`), queued otherwise; demo history, so whatever the hour.
    with override_settings(CAMPAIGNS_QUIET_HOURS=None):
        campaign = start_campaign(campaign=campaign)
    create_campaign(
        name="春の新作のお知らせ（下書き）", segment=segments[1], subject="春の新作が入荷しました",
        from_email=SENDER, body_text=BODY.replace("冬のセールを本日から開催します", "春の新作が入荷しました"),
    )  # fmt: skip
    bought = _purchases_after(campaign, rng=rng)
    campaign.refresh_from_db()
    return (
        f"{len(segments)} segments; campaign {campaign.get_status_display()} to {campaign.audience_size:,} "
        f"customers (10 % held out), {bought} purchases after it; 1 draft"
    )


def _purchases_after(campaign: Campaign, *, rng) -> int:
    """Some mailed customers buy soon after the mail (in store and online), fewer of the hold-out."""
    recipients = list(
        CampaignRecipient.objects.filter(campaign=campaign, state__in=[CampaignRecipient.State.SENT,
                                                                       CampaignRecipient.State.HOLDOUT])
        .select_related("customer").order_by("pk")
    )  # fmt: skip
    mailed = [r for r in recipients if r.state == CampaignRecipient.State.SENT][::6]
    held = [r for r in recipients if r.state == CampaignRecipient.State.HOLDOUT][::4]
    stores = list(Store.objects.filter(active=True).order_by("code"))
    shops = [s for s in stores if s.kind == Store.Kind.STORE][:3]
    warehouse = next((s for s in stores if s.kind == Store.Kind.WAREHOUSE), None)
    products = list(Product.objects.filter(active=True, category__in=["outerwear", "tops"]).order_by("sku"))
    if not (shops and warehouse and products):
        return 0
    count = 0
    for n, recipient in enumerate(mailed + held):
        online = n % 2 == 0
        product = rng.choice(products)
        record_order(
            source="demo", external_ref=f"{campaign.public_id}-{n:03d}",
            channel=SalesChannel.EC if online else SalesChannel.STORE, store=warehouse if online else shops[n % 3],
            ordered_at=timezone.now(),
            lines=[{"product": product, "quantity": 1, "unit_price": product.price}], customer=recipient.customer,
        )  # fmt: skip
        count += 1
    return count


def register() -> None:
    from crm.registry import DemoStep, register_demo_step

    register_demo_step(DemoStep("campaigns.segments_and_mail", demo_campaigns, position=70))
