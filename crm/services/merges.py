import logging

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from ..models import ChannelIdentity, Customer, CustomerMerge, Order
from ..signals import customers_merged
from .customers import refresh_search_keys

logger = logging.getLogger(__name__)

# Values are chosen per group of fields that belong together: taking one person's family name
# and the other's given name, or an opt-in flag without its timestamp, would make a new person.
MERGE_FIELD_GROUPS: dict[str, tuple[str, ...]] = {
    "name": ("family_name", "given_name"),
    "kana": ("family_name_kana", "given_name_kana"),
    "email": ("email",),
    "phone": ("phone",),
    "birth_date": ("birth_date",),
    "address": ("postal_code", "prefecture", "address"),
    "home_store": ("home_store",),
    "email_consent": ("email_opt_in", "email_opt_in_at", "email_opt_in_source"),
    "sms_consent": ("sms_opt_in", "sms_opt_in_at", "sms_opt_in_source"),
}
CONSENT_GROUPS = ("email_consent", "sms_consent")
# "loser" takes the merged record's values but never blanks one the survivor had; staff who really
# want the survivor's value gone choose "loser_with_blanks". A consent group is one decision (flag,
# time, source) and is always taken whole.
MERGE_SIDES = ("winner", "loser", "loser_with_blanks")


def _is_empty(customer: Customer, fields: tuple[str, ...]) -> bool:
    return all(getattr(customer, f) in ("", None) for f in fields)


def default_merge_choices(*, winner: Customer, loser: Customer) -> dict[str, str]:
    """What is kept when staff do not choose: the survivor's values, filled from the other
    record where the survivor's are empty; for consent, the more recent decision."""
    choices = {}
    for group, fields in MERGE_FIELD_GROUPS.items():
        if group in CONSENT_GROUPS:
            at = fields[1]
            w, lo = getattr(winner, at), getattr(loser, at)
            choices[group] = "loser" if lo is not None and (w is None or lo > w) else "winner"
        else:
            choices[group] = "loser" if _is_empty(winner, fields) and not _is_empty(loser, fields) else "winner"
    return choices


def _loggable(customer: Customer, field: str):
    """The survivor's value before the merge, as the merge log keeps it (JSON)."""
    if field == "home_store":
        return customer.home_store.code if customer.home_store_id else None
    value = getattr(customer, field)
    return value.isoformat() if hasattr(value, "isoformat") else value


def merge_customers(
    *, winner: Customer, loser: Customer, reason: str, actor=None, keep: dict[str, str] | None = None
) -> CustomerMerge:
    """Merge `loser` into `winner`. Nothing is deleted: the loser's row stays, points to the winner
    (so its id and member number keep resolving), and its identities, orders and — through the
    `customers_merged` signal — every other app's rows move to the winner. `keep` chooses, per
    field group (MERGE_FIELD_GROUPS), whose values survive: "winner", "loser" (the merged record's
    values, without blanking one the survivor had) or "loser_with_blanks"; the survivor's values that
    were replaced are kept in the merge record."""
    reason = (reason or "").strip()
    errors = {}
    if not reason:
        errors["reason"] = [_("Say why these customers are one person.")]
    if winner.pk == loser.pk:
        errors["loser"] = [_("A customer cannot be merged with itself.")]
    bad_keys = set(keep or {}) - set(MERGE_FIELD_GROUPS)
    bad_values = {v for v in (keep or {}).values() if v not in MERGE_SIDES}
    if bad_keys or bad_values:
        errors["keep"] = [
            _("Choose 'winner', 'loser' or 'loser_with_blanks' for each of: %s.") % ", ".join(MERGE_FIELD_GROUPS)
        ]
    if errors:
        raise ValidationError(errors)

    with transaction.atomic():
        locked = {
            c.pk: c for c in Customer.objects.select_for_update().filter(pk__in=[winner.pk, loser.pk]).order_by("pk")
        }
        winner, loser = locked[winner.pk], locked[loser.pk]
        if winner.merged_into_id or loser.merged_into_id:
            raise ValidationError({"loser": [_("One of these customers has already been merged.")]})

        choices = default_merge_choices(winner=winner, loser=loser) | (keep or {})
        changed, replaced = [], {}
        for group, side in choices.items():
            if side == "winner":
                continue
            blanks_too = side == "loser_with_blanks" or group in CONSENT_GROUPS
            for field in MERGE_FIELD_GROUPS[group]:
                old, new = getattr(winner, field), getattr(loser, field)
                if old == new or (new in ("", None) and not blanks_too):
                    continue
                replaced[field] = _loggable(winner, field)
                setattr(winner, field, new)
                changed.append(field)
        refresh_search_keys(winner)
        winner.save(update_fields=[*changed, "search_name", "search_kana", "updated_at"])

        moved = {
            "identities": ChannelIdentity.objects.filter(customer=loser).update(customer=winner),
            "orders": Order.objects.filter(customer=loser).update(customer=winner),
        }
        # Earlier merges into the loser now point at the final survivor: one hop resolves any old id.
        Customer.objects.filter(merged_into=loser).update(merged_into=winner)
        loser.merged_into = winner
        loser.save(update_fields=["merged_into", "updated_at"])

        merge = CustomerMerge.objects.create(
            winner=winner, loser=loser, actor=actor, reason=reason, field_choices=choices, moved=moved,
            replaced=replaced,
        )  # fmt: skip
        customers_merged.send(sender=Customer, winner=winner, loser=loser, merge=merge)
        merge.save(update_fields=["moved"])
    logger.info("customers merged winner_id=%s loser_id=%s", winner.public_id, loser.public_id)
    return merge
