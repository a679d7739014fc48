"""Insights' part of the demo (crm.demo), last: the KPI dashboard's daily facts and the bought-together
scores, as beat computes them nightly. Only when the demo wrote something in this run (or they were
never computed), so a second run changes nothing."""

from .models import FactsState


def demo_insights(*, rng, seeded, changed=False, **_) -> str:
    from .services import build_recommendations, refresh_insights_facts  # numpy/scipy: not on every startup

    if not changed and FactsState.objects.filter(built_through__isnull=False).exists():
        return ""
    facts = refresh_insights_facts(full=True)
    build = build_recommendations()
    return f"KPI facts through {facts.built_through}; {build.pairs:,} bought-together pairs"


def register() -> None:
    from crm.registry import DemoStep, register_demo_step

    register_demo_step(DemoStep("insights.facts", demo_insights, position=90))
