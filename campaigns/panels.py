"""campaigns' panel on the customer 360 page, its timeline entries and its menu item."""

from django.utils.translation import gettext_lazy as _

from crm.registry import NavItem, Panel, register_nav_item, register_panel, register_timeline_source

from . import selectors


def _mails_context(customer, request):
    return {"mail_summary": selectors.customer_mail_summary(customer=customer)}


register_panel(
    Panel(
        "campaign_mails", _("Campaign mails"), "campaigns/panels/mails.html", _mails_context,
        order=70, permission="campaigns.view_campaign",
    )
)  # fmt: skip
register_timeline_source("campaigns.mails", selectors.campaign_mail_timeline)
register_nav_item(NavItem("campaigns", _("Campaigns"), "campaigns:campaign_list", "campaigns.view_campaign", order=60))


def _coupons_context(customer, request):
    return {"customer_coupons": selectors.customer_coupons(customer=customer)}


register_panel(
    Panel(
        "coupons", _("Coupons"), "campaigns/panels/coupons.html", _coupons_context,
        order=75, permission="campaigns.view_coupon",
    )
)  # fmt: skip
