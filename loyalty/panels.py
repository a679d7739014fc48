"""The loyalty panel on the customer 360 page."""

import uuid
from datetime import timedelta

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.registry import Panel, register_panel

from . import conf, selectors
from .forms import CounterForm

LAST_TRANSACTIONS = 10


def loyalty_context(customer, request) -> dict:
    account = selectors.account_of(customer)
    context = {"account": account, "tier": account.tier if account and account.tier_id else selectors.base_tier()}
    if account is not None:
        soon = timezone.now() + timedelta(days=conf.expiring_soon_days())
        context["expiring"] = selectors.open_lots_by_expiry(account=account, until=soon)
        context["transactions"] = list(selectors.customer_transactions(customer)[:LAST_TRANSACTIONS])
    context["expiring_days"] = conf.expiring_soon_days()
    if request.user.has_perm("loyalty.add_pointtransaction"):
        context["form"] = CounterForm(initial={"reference": uuid.uuid4().hex})
    return context


def register() -> None:
    register_panel(
        Panel("loyalty", _("Points"), "loyalty/panel.html", loyalty_context, order=25,
              permission="loyalty.view_pointaccount")
    )  # fmt: skip
