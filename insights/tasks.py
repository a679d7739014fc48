from celery import shared_task

from .services import build_recommendations, refresh_insights_facts


@shared_task(name="insights.refresh_facts")
def refresh_facts_task(full: bool = False) -> dict:
    """Nightly (the trailing days) and weekly (`full`): recompute the daily facts up to yesterday.
    Idempotent: a second run writes the same rows."""
    state = refresh_insights_facts(full=full)
    return {"built_through": state.built_through.isoformat(), "rows": state.rows, "seconds": state.seconds}


@shared_task(name="insights.build_recommendations")
def build_recommendations_task() -> dict:
    """Nightly: rebuild the bought-together scores and the best sellers per prefecture. Idempotent."""
    build = build_recommendations()
    return {"purchases": build.purchases, "pairs": build.pairs, "seconds": build.seconds}
