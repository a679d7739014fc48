"""insights' tunables: module-level defaults, each overridable by a Django setting of the same name.

INSIGHTS_FACT_LOOKBACK_DAYS     the nightly refresh recomputes this many past days of the daily facts, so
                                that late events (a return, a ticket resolved later, a CSAT answer, an order
                                sent by a POS days after the sale) reach the figures; a weekly full rebuild
                                catches anything older
INSIGHTS_COMPLAINT_CATEGORIES   ticket categories that count as complaints (always shown in the weekly trend)
INSIGHTS_AFFINITY_NEIGHBOURS    bought-together products kept per product
INSIGHTS_MIN_COBUYERS           a pair needs at least this many customers who bought both
INSIGHTS_RECENCY_HALF_LIFE_DAYS a purchase this old counts half as much for a customer's suggestions
INSIGHTS_POPULAR_DAYS           "popular in your prefecture" looks back this many days
"""

from django.conf import settings

DEFAULTS = {
    "INSIGHTS_FACT_LOOKBACK_DAYS": 35,
    "INSIGHTS_COMPLAINT_CATEGORIES": ("complaint", "クレーム", "苦情"),
    "INSIGHTS_AFFINITY_NEIGHBOURS": 50,
    "INSIGHTS_MIN_COBUYERS": 2,
    "INSIGHTS_RECENCY_HALF_LIFE_DAYS": 90,
    "INSIGHTS_POPULAR_DAYS": 90,
}


def setting(name: str):
    return getattr(settings, name, DEFAULTS[name])
