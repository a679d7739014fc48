"""SLA due times in business hours, and the routing rules that set a new ticket's team, priority,
tags and assignee."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import F
from django.db.models.signals import post_delete

from crm.caching import ConfigCache
from crm.registry import customer_summaries

from ..models import PRIORITY_RANK, RoutingRule, SlaPolicy, Team, TeamMembership

_MAX_DAYS = 366 * 2  # a policy with no business days must not loop forever


def _load_routing_rules() -> list[RoutingRule]:
    return list(RoutingRule.objects.filter(active=True).order_by("position", "pk"))


def _load_sla_policies() -> dict[str, SlaPolicy]:
    return {policy.priority: policy for policy in SlaPolicy.objects.all()}


# Read on every inbound message, edited rarely in the admin: kept per process, dropped in every
# process when a rule or policy is saved or deleted (crm.caching). A team or user deleted sets the
# rules' references to NULL without saving the rules, so their deletion drops the copy too.
routing_rules: ConfigCache[list[RoutingRule]] = ConfigCache(
    "channels_hub.routing_rules", _load_routing_rules, models=[RoutingRule, Team]
)
sla_policies: ConfigCache[dict[str, SlaPolicy]] = ConfigCache(
    "channels_hub.sla_policies", _load_sla_policies, models=[SlaPolicy]
)
post_delete.connect(
    lambda **kwargs: routing_rules.invalidate(),
    sender=settings.AUTH_USER_MODEL,
    weak=False,
    dispatch_uid="config-cache:channels_hub.routing_rules:user-deleted",
)


def add_business_minutes(start: datetime, minutes: int, policy: SlaPolicy) -> datetime:
    """`start` plus `minutes` counted only inside the policy's business hours (in the shop's time zone)."""
    if not policy.business_hours_only:
        return start + timedelta(minutes=minutes)
    tz = ZoneInfo(settings.TIME_ZONE)
    days = {int(d) for d in policy.business_days if d.isdigit()}
    open_at, close_at = _as_time(policy.business_start), _as_time(policy.business_end)
    current = start.astimezone(tz)
    remaining = timedelta(minutes=minutes)
    for _day in range(_MAX_DAYS):
        day_open = datetime.combine(current.date(), open_at, tz)
        day_close = datetime.combine(current.date(), close_at, tz)
        if current.weekday() in days and current < day_close:
            current = max(current, day_open)
            available = day_close - current
            if remaining <= available:
                return current + remaining
            remaining -= available
        current = datetime.combine(current.date() + timedelta(days=1), open_at, tz)
    return start + timedelta(minutes=minutes)


def _as_time(value) -> time:
    return value if isinstance(value, time) else time.fromisoformat(str(value))


def set_sla_due(ticket, *, now: datetime) -> None:
    """First response and resolution due times for the ticket's priority (no policy: none)."""
    policy = sla_policies.get().get(ticket.priority)
    if policy is None:
        ticket.first_response_due = ticket.resolution_due = None
        return
    if ticket.first_response_at is None:
        ticket.first_response_due = add_business_minutes(now, policy.first_response_minutes, policy)
    ticket.resolution_due = add_business_minutes(now, policy.resolution_minutes, policy)


def contains_urgent_words(text: str) -> bool:
    from ..conf import hub_setting

    folded = (text or "").casefold()
    return any(word.casefold() in folded for word in hub_setting("HUB_URGENT_KEYWORDS"))


def raise_priority(current: str, to: str) -> str:
    return to if PRIORITY_RANK[to] > PRIORITY_RANK[current] else current


def _rule_matches(rule: RoutingRule, *, ticket, text: str, tier: str | None) -> bool:
    if rule.channel and rule.channel != ticket.first_channel:
        return False
    if rule.category and rule.category != ticket.category:
        return False
    if rule.tier and rule.tier != (tier or ""):
        return False
    keywords = rule.keyword_list
    return not keywords or any(k in text for k in keywords)


def apply_routing(ticket, *, text: str, now: datetime) -> RoutingRule | None:
    """The first active rule (by position) whose conditions hold sets the ticket's fields. Round-robin
    takes the team's available member who was assigned least recently, under a row lock."""
    rules = routing_rules.get()
    if not rules:
        return None
    tier = None
    if ticket.customer_id and any(r.tier for r in rules):
        tier = customer_summaries([ticket.customer]).get(ticket.customer_id, {}).get("tier")
    folded = f"{ticket.subject}\n{text}".casefold()
    for rule in rules:
        if not _rule_matches(rule, ticket=ticket, text=folded, tier=tier):
            continue
        if rule.set_team_id:
            ticket.team_id = rule.set_team_id
        if rule.set_priority:
            ticket.priority = rule.set_priority
        if rule.set_category:
            ticket.category = rule.set_category
        tags = [t.strip() for t in rule.set_tags.split(",") if t.strip()]
        ticket.tags = sorted(set(ticket.tags) | set(tags))
        if rule.set_assignee_id:
            ticket.assignee_id = rule.set_assignee_id
        elif rule.round_robin and ticket.team_id:
            ticket.assignee_id = next_round_robin_agent(team_id=ticket.team_id, now=now)
        return rule
    return None


def next_round_robin_agent(*, team_id: int, now: datetime) -> int | None:
    membership = (
        TeamMembership.objects.select_for_update(of=("self",))
        .filter(team_id=team_id, available=True, user__is_active=True)
        .order_by(F("last_assigned_at").asc(nulls_first=True), "pk")
        .first()
    )
    if membership is None:
        return None
    TeamMembership.objects.filter(pk=membership.pk).update(last_assigned_at=now)
    return membership.user_id
