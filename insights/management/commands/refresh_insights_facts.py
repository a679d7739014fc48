"""Recompute the daily facts behind the KPIs up to yesterday (nightly by beat; --full weekly)."""

from django.core.management.base import BaseCommand

from ...services import refresh_insights_facts


class Command(BaseCommand):
    help = "Recompute the insights daily facts: the trailing days, or everything with --full."

    def add_arguments(self, parser):
        parser.add_argument("--full", action="store_true", help="rebuild every day (after a bulk load)")

    def handle(self, *args, **options):
        state = refresh_insights_facts(full=options["full"])
        rows = ", ".join(f"{name} {count:,}" for name, count in state.rows.items())
        self.stdout.write(f"facts through {state.built_through}: {rows} rows in {state.seconds:.1f} s")
