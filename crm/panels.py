"""crm's own panels on the customer 360 page and its entries in the customer timeline.
Other apps register theirs the same way in their AppConfig.ready()."""

from django.utils.translation import gettext_lazy as _

from . import selectors
from .registry import Panel, register_panel, register_timeline_source


def _profile_context(customer, request):
    return {
        "duplicates": list(selectors.duplicates_of(customer)[:10])
        if request.user.has_perm("crm.merge_customer")
        else []
    }


def _identities_context(customer, request):
    return {"identities": list(customer.identities.order_by("channel", "external_id"))}


def _orders_context(customer, request):
    return {"orders": list(selectors.customer_orders(customer=customer, limit=20))}


def _merges_context(customer, request):
    return {"merges": list(selectors.customer_merges(customer=customer))}


register_panel(Panel("profile", _("Profile"), "crm/panels/profile.html", _profile_context, order=10))
register_panel(Panel("identities", _("Channel accounts"), "crm/panels/identities.html", _identities_context, order=20))
register_panel(
    Panel("orders", _("Orders"), "crm/panels/orders.html", _orders_context, order=30, permission="crm.view_order")
)
register_panel(Panel("merges", _("Merge history"), "crm/panels/merges.html", _merges_context, order=90))
register_timeline_source("crm.orders", selectors.order_timeline)
