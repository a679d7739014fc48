"""The KPI dashboard for marketers and managers: figures with the period before, charts drawn by
Chart.js with their numbers as tables, each downloadable as CSV. Thin: the form checks the question,
kpis.py and dashboard.py answer it."""

import csv

from django.http import HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from crm.models import Store
from crm.views import staff_page

from .dashboard import dashboard_charts, figure_rows
from .kpis import kpi_report
from .params import ReportForm


@require_GET
@staff_page("insights.view_kpis")
def dashboard(request):
    form = ReportForm(request.GET or None)
    if request.GET and not form.is_valid():
        return render(request, "insights/dashboard.html", {"form": form, "report": None, "stores": _stores()},
                      status=400)  # fmt: skip
    if not request.GET:
        form = ReportForm({})
        form.is_valid()
    report = kpi_report(period=form.period(), scope=form.scope())
    charts = dashboard_charts(report)
    wanted = request.GET.get("csv")
    if wanted:
        return _csv(report, charts, wanted)
    return render(request, "insights/dashboard.html", {
        "form": form, "report": report, "stores": _stores(), "figures": figure_rows(report), "charts": charts,
        "charts_json": [chart.as_json() for chart in charts], "query": _query_without_csv(request),
    })  # fmt: skip


def _stores():
    return Store.objects.filter(kind=Store.Kind.STORE).order_by("code")


def _query_without_csv(request) -> str:
    params = request.GET.copy()
    params.pop("csv", None)
    return params.urlencode()


def _csv(report, charts, key: str) -> HttpResponse:
    period = f"{report.period.first:%Y%m%d}-{report.period.last:%Y%m%d}"
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response.write("\ufeff")  # a BOM, so that spreadsheet programs read the Japanese as UTF-8
    writer = csv.writer(response)
    if key == "figures":
        writer.writerow([_("Figure"), _("Key"), _("This period"), _("Previous period"), _("Change")])
        for row in figure_rows(report):
            writer.writerow([row.label, row.name, _blank(row.value), _blank(row.previous), _blank(row.change)])
    else:
        chart = next((c for c in charts if c.key == key), None)
        if chart is None:
            return HttpResponse(_("Unknown table."), status=400, content_type="text/plain; charset=utf-8")
        writer.writerow(["", *(_blank(str(name)) for name, _values in chart.series)])
        for row in chart.table_rows():
            writer.writerow([_blank(v) for v in row])
    response["Content-Disposition"] = f'attachment; filename="tsunagu-{key}-{period}.csv"'
    return response


def _blank(value):
    """A cell as written: empty for no data, and text that a spreadsheet would run as a formula
    (a category typed as "=…") made inert with a leading apostrophe."""
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
