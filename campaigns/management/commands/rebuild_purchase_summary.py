"""Recompute the purchase summary behind the `purchased` segment field from crm's orders, set-based.

    manage.py rebuild_purchase_summary

Run it after orders were loaded without crm's services (crm.seeding writes them with COPY and sends no
signals); recorded orders and merges keep the summary up to date by themselves.
"""

import sys
import time

from django.core.management.base import BaseCommand
from django.db.models import Max, Min
from django.utils.translation import gettext as _
from tqdm import tqdm

from campaigns.services import rebuild_purchase_summary
from crm.models import Order


class Command(BaseCommand):
    help = "Recompute the purchase summary used by segments from the order lines."

    def handle(self, *args, **options):
        bounds = Order.objects.aggregate(low=Min("pk"), high=Max("pk"))
        total = bounds["high"] - bounds["low"] + 1 if bounds["low"] is not None else 0
        start = time.perf_counter()
        with tqdm(total=total, unit=_("order ids"), file=sys.stderr, disable=None) as bar:
            rows = rebuild_purchase_summary(progress=bar.update)
        seconds = time.perf_counter() - start
        self.stdout.write(
            _("Purchase summary rebuilt: %(rows)s rows in %(seconds).1f s.") % {"rows": f"{rows:,}", "seconds": seconds}
        )
