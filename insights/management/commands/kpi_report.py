"""Print the KPI figures of a period and of the one before it (shared/API.md, Insights)."""

import json

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from ...kpis import FIGURES, kpi_report
from ...params import parse_report


class Command(BaseCommand):
    help = "The KPI figures of a period, each with the previous period of the same length."

    def add_arguments(self, parser):
        parser.add_argument(
            "--from", dest="from", metavar="YYYY-MM-DD", help="first day (default: 27 days before --to)"
        )
        parser.add_argument("--to", metavar="YYYY-MM-DD", help="last day, included (default: today)")
        parser.add_argument("--store", default="", help="store code: that store's customers")
        parser.add_argument("--prefecture", default="", help="customers living in this prefecture")
        parser.add_argument("--channel", default="", help="sales or contact channel")
        parser.add_argument("--json", action="store_true", help="print the API's JSON")

    def handle(self, *args, **options):
        query = {name: options[name] or "" for name in ("from", "to", "store", "prefecture", "channel")}
        try:
            period, scope = parse_report(query)
        except ValidationError as error:
            problems = "; ".join(f"--{field}: {' '.join(messages)}" for field, messages in error.message_dict.items())
            raise CommandError(problems) from error
        report = kpi_report(period=period, scope=scope)
        if options["json"]:
            self.stdout.write(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
            return
        self.stdout.write(
            f"KPIs {period.first} – {period.last} (previous: {report.previous.first} – {report.previous.last})"
        )
        filters = {k: v for k, v in scope.as_dict.items() if v}
        if filters:
            self.stdout.write("filters: " + ", ".join(f"{k}={v}" for k, v in filters.items()))
        width = max(len(name) for name in FIGURES)
        self.stdout.write(f"{'figure'.ljust(width)}  {'value':>14}  {'previous':>14}")
        for name in FIGURES:
            figure = report.figures[name]
            self.stdout.write(f"{name.ljust(width)}  {_cell(figure['value']):>14}  {_cell(figure['previous']):>14}")
        fresh = report.freshness
        self.stdout.write(
            f"daily facts through {fresh.built_through or '(not computed yet)'}; later days computed live"
        )


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.4f}".rstrip("0").rstrip(".")
    return f"{value:,}"
