"""crm's part of a person's export and erasure: the profile and consents of the customer and of every
record merged into it, channel identities, orders (with lines and returns), merges, recent API answers
naming them, the access log about them and the erasure record. Runs after the other apps' parts
(position 90): they may still find the person through identities, email and phone."""

import json
from datetime import timedelta

from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Prefetch
from django.utils import timezone

from ..models import (
    AccessLogEntry,
    ChannelIdentity,
    Customer,
    CustomerErasure,
    CustomerMerge,
    IdempotencyRecord,
    Order,
    OrderLine,
)
from .registry import PersonalDataSource, register_not_personal_data, register_personal_data

PROFILE_FIELDS = (
    "family_name", "given_name", "family_name_kana", "given_name_kana", "email", "phone", "birth_date",
    "postal_code", "prefecture", "address",
)  # fmt: skip
# Kept on an erased customer: the prefecture and home store (coarse, what regional reports group by).
ERASED_VALUES = {
    "family_name": "", "given_name": "", "family_name_kana": "", "given_name_kana": "", "email": "", "phone": "",
    "birth_date": None, "postal_code": "", "address": "", "search_name": "", "search_kana": "",
    "email_opt_in": False, "sms_opt_in": False,
}  # fmt: skip


def _profile(c: Customer) -> dict:
    return {
        "id": c.public_id, "member_number": c.member_number, **{f: getattr(c, f) for f in PROFILE_FIELDS},
        "home_store": c.home_store.code if c.home_store_id else None, "created_at": c.created_at,
        "merged_into": None if c.merged_into_id is None else c.merged_into.public_id, "erased_at": c.erased_at,
        "consents": {
            "email": {"opt_in": c.email_opt_in, "changed_at": c.email_opt_in_at, "source": c.email_opt_in_source},
            "sms": {"opt_in": c.sms_opt_in, "changed_at": c.sms_opt_in_at, "source": c.sms_opt_in_source},
        },
    }  # fmt: skip


def export_crm(person) -> dict:
    customers = Customer.objects.filter(pk__in=person.customer_ids).select_related("home_store", "merged_into")
    by_pk = {c.pk: c for c in customers}
    orders = (
        Order.objects.filter(customer_id__in=person.customer_ids)
        .select_related("store", "fulfilled_from")
        .prefetch_related(Prefetch("lines", queryset=OrderLine.objects.order_by("line_number")), "returns__lines")
        .order_by("ordered_at", "pk")
    )
    merges = CustomerMerge.objects.filter(winner_id__in=person.customer_ids).select_related("winner", "loser")
    accesses = AccessLogEntry.objects.filter(customer_id__in=person.customer_ids).order_by("at", "pk")
    erasure = CustomerErasure.objects.filter(customer_id__in=person.customer_ids).first()
    return {
        "profile": _profile(by_pk[person.customer_ids[0]]),
        "merged_profiles": [_profile(by_pk[pk]) for pk in person.customer_ids[1:]],
        "identities": [
            {"channel": i.channel, "external_id": i.external_id, "linked_at": i.created_at}
            for i in ChannelIdentity.objects.filter(customer_id__in=person.customer_ids).order_by("channel", "pk")
        ],
        "orders": [
            {
                "id": o.public_id, "channel": o.channel, "store": o.store.code, "ordered_at": o.ordered_at,
                "subtotal": o.subtotal, "points_redeemed": o.points_redeemed, "total": o.total,
                "points_earned": o.points_earned, "returned_amount": o.returned_amount, "status": o.status,
                "fulfilled_from": o.fulfilled_from.code if o.fulfilled_from_id else None,
                "lines": [{"sku": li.sku, "quantity": li.quantity, "unit_price": li.unit_price, "amount": li.amount,
                           "returned_quantity": li.returned_quantity} for li in o.lines.all()],
                "returns": [{"id": r.public_id, "amount": r.amount, "at": r.created_at} for r in o.returns.all()],
            }
            for o in orders
        ],
        "merges": [
            {"merged": m.loser.public_id, "into": m.winner.public_id, "at": m.created_at} for m in merges
        ],
        "access_log": [
            {"at": a.at, "by": a.actor, "kind": a.kind, "what": a.what, "address": a.ip_address} for a in accesses
        ],
        "erasure": None if erasure is None else {"at": erasure.created_at, "reason": erasure.reason},
    }  # fmt: skip


def _recent_answers_naming(person):
    """Idempotency records keep API answers for 24 h (a retry replays them); those naming the person."""
    since = timezone.now() - timedelta(days=2)
    for record in IdempotencyRecord.objects.filter(created_at__gte=since).exclude(response_body=None).iterator():
        text = json.dumps(record.response_body, cls=DjangoJSONEncoder)
        if any(public_id in text for public_id in person.public_ids):
            yield record.pk


def erase_crm(person) -> dict:
    now = timezone.now()
    customers = 0
    for pk in person.customer_ids:
        customers += Customer.objects.filter(pk=pk).update(
            **ERASED_VALUES, member_number=f"erased-{pk}", email_opt_in_at=now, email_opt_in_source="",
            sms_opt_in_at=now, sms_opt_in_source="", erased_at=now, updated_at=now,
        )  # fmt: skip
    identities, _ = ChannelIdentity.objects.filter(customer_id__in=person.customer_ids).delete()
    answers, _ = IdempotencyRecord.objects.filter(pk__in=list(_recent_answers_naming(person))).delete()
    return {"customers": customers, "identities": identities, "api_answers": answers}


def register() -> None:
    register_personal_data(
        PersonalDataSource(
            key="crm",
            export=export_crm,
            erase=erase_crm,
            anonymises={
                "crm.Customer": (*PROFILE_FIELDS, "member_number", "search_name", "search_kana", "email_opt_in",
                                 "sms_opt_in", "merged_into"),
                "crm.ChannelIdentity": ("customer", "external_id"),
                "crm.CustomerMerge": ("winner", "loser"),
                "crm.Order": ("customer",),
                "crm.AccessLogEntry": ("customer",),
                "crm.CustomerErasure": ("customer",),
                "crm.IdempotencyRecord": ("response_body",),
            },
            position=90,
        )
    )  # fmt: skip
    for label, reason in {
        "crm.User": "Staff accounts (the shop's own people, not customers).",
        "crm.Store": "The shop's stores and warehouse.",
        "crm.Product": "The SKU master.",
        "crm.OrderLine": "What an order held: SKUs, quantities and amounts (exported with the order).",
        "crm.OrderReturn": "Returned amounts of an order (exported with the order).",
        "crm.OrderReturnLine": "Returned quantities of an order line.",
        "crm.ApiKey": "Integrations' keys.",
    }.items():
        register_not_personal_data(label, reason=reason)
