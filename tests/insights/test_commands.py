import json

import pytest
from django.core.management import CommandError, call_command

from insights.kpis import FIGURES

from .test_kpis import EXPECTED, PERIOD, planted  # noqa: F401

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    from io import StringIO

    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_kpi_report_prints_the_same_figures_as_the_api(planted):  # noqa: F811
    body = json.loads(run("kpi_report", "--from", PERIOD.first.isoformat(), "--to", PERIOD.last.isoformat(), "--json"))
    assert {name: body[name] for name in FIGURES} == EXPECTED
    text = run("kpi_report", "--from", PERIOD.first.isoformat(), "--to", PERIOD.last.isoformat())
    line = next(row for row in text.splitlines() if row.startswith("omni_spend_per_customer"))
    assert line.split()[1:] == ["4,500", "-"]


@pytest.mark.parametrize(
    ("args", "name"),
    [(("--from", "2026-02-01", "--to", "2026-01-01"), "--to"), (("--store", "NOPE"), "--store"),
     (("--channel", "fax"), "--channel"), (("--from", "1.1.2026"), "--from")],
)  # fmt: skip
def test_kpi_report_refuses_bad_input_naming_the_option(args, name):
    with pytest.raises(CommandError, match=name):
        run("kpi_report", *args)


def test_refresh_and_build_commands(planted):  # noqa: F811
    assert "facts through" in run("refresh_insights_facts", "--full")
    assert "bought-together pairs" in run("build_recommendations", "--quiet")


def test_beat_tasks_run_the_same_services(planted):  # noqa: F811
    from insights.tasks import build_recommendations_task, refresh_facts_task

    assert refresh_facts_task.delay(full=True).get()["rows"]["ticketfact"] == 6
    assert build_recommendations_task.delay().get()["purchases"] > 0
