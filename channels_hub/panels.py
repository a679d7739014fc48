"""The hub's panel on the customer 360 page, its timeline entries and its menu item."""

from django.utils.translation import gettext_lazy as _

from crm.registry import NavItem, Panel, register_nav_item, register_panel, register_timeline_source

from . import selectors


def _hub_context(customer, request):
    return {
        "tickets": selectors.customer_tickets(customer=customer, limit=10),
        "can_log_call": request.user.has_perm("channels_hub.add_message"),
    }


def register() -> None:
    register_panel(
        Panel("hub", _("Contacts"), "channels_hub/panels/hub.html", _hub_context, order=40,
              permission="channels_hub.view_ticket")
    )  # fmt: skip
    register_timeline_source("channels_hub.messages", selectors.ticket_timeline)
    register_nav_item(
        NavItem("inbox", _("Inbox"), "channels_hub:inbox", permission="channels_hub.view_ticket", order=10)
    )
