"""Rebuild the bought-together scores and the best sellers per prefecture (also nightly by beat)."""

import sys

from django.core.management.base import BaseCommand
from tqdm import tqdm

from ...services import build_recommendations, order_count_estimate


class Command(BaseCommand):
    help = "Rebuild the co-purchase scores (every order with a customer, all channels) and the best sellers."

    def add_arguments(self, parser):
        parser.add_argument("--quiet", action="store_true", help="no progress bar")

    def handle(self, *args, **options):
        with tqdm(total=order_count_estimate(), desc="orders", unit=" orders", file=sys.stderr,
                  disable=options["quiet"], dynamic_ncols=True) as bar:  # fmt: skip
            build = build_recommendations(progress=bar.update)
        self.stdout.write(
            f"{build.purchases:,} customer–product purchases of {build.customers:,} customers → "
            f"{build.pairs:,} bought-together pairs in {build.seconds:.1f} s"
        )
