"""Offers and coupons: create an offer, issue codes, check a code against a basket, reserve it inside
a sale's transaction, redeem it once, and give it back when the sale is fully returned.

Exactly once: a redemption locks the coupon row (SELECT … FOR UPDATE), checks `uses < max_uses`
under that lock and counts the use with an F() update that the database CHECK (uses <= max_uses)
guards as well, so two tills scanning the same code at the same instant redeem it once.
Codes are 12 random characters from a 31-letter alphabet (about 59 bits): not guessable, and a
caller that keeps trying unknown codes is stopped by an attempt limit (AttemptLimit, shared cache)."""

import logging
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.exceptions import DomainError
from crm.models import Customer, Order, Store
from crm.ratelimit import AttemptLimit
from crm.registry import COUPON_STEP
from crm.services.orders import lock_customer

from ..models import Coupon, CouponRedemption, Offer

logger = logging.getLogger(__name__)

CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L: read aloud and typed from paper
CODE_LENGTH = 12
MAX_CODE_INPUT = 64
# Unknown codes a caller (API key, staff user or address) may try in 10 minutes.
unknown_code_attempts = AttemptLimit("coupon_unknown_code", limit=20, window=600)


class CouponRefused(DomainError):
    """The code exists but cannot be used for this basket: `code` says why."""

    status = 409
    title = _("The coupon cannot be used.")

    def __init__(self, code: str, detail=None):
        self.code = code
        super().__init__(detail, errors={"coupon_code": [str(detail or self.title)]})


REASONS = {
    "coupon_used": _("This coupon has been used already."),
    "coupon_limit_reached": _("This customer has used this offer as often as allowed."),
    "coupon_expired": _("This coupon has expired."),
    "coupon_not_yet_valid": _("This coupon is not valid yet."),
    "coupon_not_applicable": _("This coupon does not apply to this basket."),
    "coupon_min_spend": _("The basket does not reach the coupon's minimum spend."),
    "coupon_other_customer": _("This coupon belongs to another customer."),
    "coupon_needs_customer": _("This coupon can only be used by an identified member."),
    "coupon_unknown": _("Unknown coupon code."),
}
# The contract's three refusal codes; the finer reason stays in the detail.
CONTRACT_CODE = {
    "coupon_used": "coupon_used",
    "coupon_limit_reached": "coupon_used",
    "coupon_expired": "coupon_expired",
}


@dataclass(frozen=True)
class CouponCheck:
    valid: bool
    discount: int
    reason: str  # "" when valid, else a coupon_* word (contract codes: coupon_used, coupon_expired, ...)
    detail: str = ""


def normalize_code(raw) -> str:
    """What a person typed or a scanner read: full-width, lower case, spaces and hyphens allowed."""
    if not isinstance(raw, str):
        return ""
    text = unicodedata.normalize("NFKC", raw)[:MAX_CODE_INPUT]
    return "".join(ch for ch in text.upper() if ch not in " -\u3000\t")


def format_code(code: str) -> str:
    """Printed in groups of four, as on a receipt."""
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def _new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


# --- Offers and codes ---------------------------------------------------------------------------
def create_offer(
    *, name: str, kind: str, value: int, valid_from: datetime, valid_until: datetime, min_spend: int = 0,
    categories: list[str] | None = None, per_customer_limit: int | None = None, actor=None,
) -> Offer:  # fmt: skip
    offer = Offer(
        name=(name or "").strip(), kind=kind, value=value, min_spend=min_spend or 0,
        categories=sorted({c.strip() for c in categories or [] if c and c.strip()}), valid_from=valid_from,
        valid_until=valid_until, per_customer_limit=per_customer_limit, created_by=actor,
    )  # fmt: skip
    errors = {}
    if not offer.name:
        errors["name"] = [_("Give the offer a name.")]
    if kind == Offer.Kind.PERCENT and not 1 <= value <= 100:
        errors["value"] = [_("A percentage must be between 1 and 100.")]
    elif value is None or value < 1:
        errors["value"] = [_("Must be a positive number.")]
    if valid_from and valid_until and valid_until <= valid_from:
        errors["valid_until"] = [_("Must be after the start of validity.")]
    if errors:
        raise ValidationError(errors)
    offer.full_clean()
    offer.save()
    logger.info("offer created offer_id=%s", offer.public_id)
    return offer


def issue_coupon(
    *, offer: Offer, customer: Customer | None = None, max_uses: int = 1, enrollment=None, step=None
) -> Coupon:
    """A new code for the offer. A journey step passes its enrollment: issued once per enrollment
    and step (the same coupon again on a re-run)."""
    if max_uses < 1:
        raise ValidationError({"max_uses": [_("Must be a positive number.")]})
    if enrollment is not None:
        existing = Coupon.objects.filter(enrollment=enrollment, step=step).first()
        if existing is not None:
            return existing
    for _attempt in range(5):
        try:
            with transaction.atomic():
                coupon = Coupon.objects.create(
                    offer=offer, code=_new_code(), customer=customer, max_uses=max_uses, enrollment=enrollment,
                    step=step,
                )  # fmt: skip
            break
        except IntegrityError:
            if enrollment is not None and (existing := Coupon.objects.filter(enrollment=enrollment, step=step).first()):
                return existing  # a concurrent run issued it
            continue  # a code collision (1 in 2^59): draw again
    else:
        raise RuntimeError("could not draw a free coupon code")
    logger.info("coupon issued offer_id=%s coupon_pk=%d", offer.public_id, coupon.pk)
    return coupon


# --- Checking -----------------------------------------------------------------------------------
def coupon_discount(offer: Offer, lines: list[dict]) -> tuple[int, int]:
    """(discount, eligible amount) for lines of ``{product, quantity, unit_price}``."""
    eligible = sum(
        line["quantity"] * line["unit_price"]
        for line in lines
        if not offer.categories or getattr(line["product"], "category", None) in offer.categories
    )
    discount = eligible * offer.value // 100 if offer.kind == Offer.Kind.PERCENT else min(offer.value, eligible)
    return discount, eligible


def _customer_matches(coupon: Coupon, customer: Customer | None) -> bool:
    if coupon.customer_id is None:
        return True
    if customer is None:
        return False
    return coupon.customer_id == customer.pk or coupon.customer.merged_into_id == customer.pk


def _judge(coupon: Coupon, *, customer: Customer | None, lines: list[dict], at: datetime) -> tuple[str, int]:
    """('' or a reason, discount)."""
    offer = coupon.offer
    if coupon.uses >= coupon.max_uses:
        return "coupon_used", 0
    if at >= offer.valid_until:
        return "coupon_expired", 0
    if at < offer.valid_from:
        return "coupon_not_yet_valid", 0
    if not _customer_matches(coupon, customer):
        return "coupon_other_customer", 0
    if offer.per_customer_limit is not None:
        if customer is None:
            return "coupon_needs_customer", 0
        used = CouponRedemption.objects.filter(offer=offer, customer=customer, released_at__isnull=True).count()
        if used >= offer.per_customer_limit:
            return "coupon_limit_reached", 0
    discount, eligible = coupon_discount(offer, lines)
    if eligible == 0 or discount == 0:
        return "coupon_not_applicable", 0
    if eligible < offer.min_spend:
        return "coupon_min_spend", 0
    return "", discount


def _find(code: str, *, caller: str | None, lock: bool = False) -> Coupon | None:
    """The coupon of a code; an unknown code counts against the caller's attempt limit (checked first,
    so that a caller past the limit learns nothing more; counted only when the code is unknown, so a
    till's valid codes cost one cache read). The coupon's customer is read only when it has one."""
    if caller is not None:
        unknown_code_attempts.check(caller)
    normalized = normalize_code(code)
    coupons = Coupon.objects.select_related("offer").order_by()
    if lock:
        coupons = coupons.select_for_update(of=("self",))
    coupon = next(iter(coupons.filter(code=normalized)[:1]), None) if normalized else None
    if coupon is None and caller is not None:
        unknown_code_attempts.take(caller)
    return coupon


def check_coupon(
    *, code: str, lines: list[dict], customer: Customer | None = None, caller: str | None = None,
    at: datetime | None = None,
) -> CouponCheck:  # fmt: skip
    """Would this code apply to this basket now? Reads only (the POS and EC site ask at checkout)."""
    coupon = _find(code, caller=caller)
    if coupon is None:
        return CouponCheck(False, 0, "coupon_unknown", str(REASONS["coupon_unknown"]))
    reason, discount = _judge(coupon, customer=customer, lines=lines, at=at or timezone.now())
    if reason:
        return CouponCheck(False, 0, reason, str(REASONS[reason]))
    return CouponCheck(True, discount, "")


def reserve_coupon(
    *, code: str, lines: list[dict], customer: Customer | None, at: datetime, caller: str | None = None
) -> tuple[Coupon, int]:
    """Inside the caller's transaction: lock the coupon row and judge it under the lock. Returns the
    coupon and its discount; refuses with CouponRefused (409) or a field error for an unknown code."""
    coupon = _find(code, caller=caller, lock=True)
    if coupon is None:
        raise ValidationError({"coupon_code": [REASONS["coupon_unknown"]]})
    reason, discount = _judge(coupon, customer=customer, lines=lines, at=at)
    if reason:
        raise CouponRefused(CONTRACT_CODE.get(reason, "coupon_not_applicable"), REASONS[reason])
    return coupon, discount


def record_redemption(
    *, coupon: Coupon, discount: int, reference: str, channel: str, customer: Customer | None = None,
    store: Store | None = None, order: Order | None = None, at: datetime,
) -> CouponRedemption:  # fmt: skip
    """Count one use of a reserved (locked) coupon."""
    redemption = CouponRedemption.objects.create(
        coupon=coupon, offer_id=coupon.offer_id, customer=customer, order=order, reference=reference,
        channel=channel, store=store, discount=discount, redeemed_at=at,
    )  # fmt: skip
    Coupon.objects.filter(pk=coupon.pk).update(uses=F("uses") + 1)
    return redemption


def redeem_coupon(
    *, code: str, lines: list[dict], reference: str, channel: str, customer: Customer | None = None,
    store: Store | None = None, order: Order | None = None, caller: str | None = None, at: datetime | None = None,
) -> CouponRedemption:  # fmt: skip
    """Use the code once for this sale, in one transaction (or the caller's, e.g. the order's). The
    customer is locked first (the global lock order: customer → coupon), so that their uses of an
    offer with a per-customer limit are counted one sale at a time, whichever codes they hold (the
    order pipeline has locked the customer already)."""
    at = at or timezone.now()
    with transaction.atomic():
        if customer is not None:
            customer = lock_customer(customer)
        coupon, discount = reserve_coupon(code=code, lines=lines, customer=customer, at=at, caller=caller)
        redemption = record_redemption(
            coupon=coupon, discount=discount, reference=reference, channel=channel, customer=customer, store=store,
            order=order, at=at,
        )  # fmt: skip
    logger.info("coupon redeemed coupon_pk=%d channel=%s", coupon.pk, channel)
    return redemption


def release_coupons_of_order(*, order: Order) -> int:
    """A fully returned (or cancelled) order gives its coupon back: usable again, once."""
    released = 0
    with transaction.atomic():
        for redemption in CouponRedemption.objects.filter(order=order, released_at__isnull=True).order_by("pk"):
            Coupon.objects.select_for_update().filter(pk=redemption.coupon_id).first()
            if CouponRedemption.objects.filter(pk=redemption.pk, released_at__isnull=True).update(
                released_at=timezone.now()
            ):
                Coupon.objects.filter(pk=redemption.coupon_id, uses__gt=0).update(uses=F("uses") - 1)
                released += 1
    if released:
        logger.info("coupons given back order_id=%s count=%d", order.public_id, released)
    return released


# --- The order pipeline's coupon step (crm/registry.py, position 10, locks: coupon) --------------
def prepare_order_coupon(draft) -> None:
    """Reserve the order's coupon under its row lock and take its discount off the total, before
    points are earned on what is paid. Refuses the order (nothing written) when the coupon cannot be
    used: 409 coupon_used / coupon_expired / coupon_not_applicable, or a 400 on `coupon_code`."""
    if not draft.coupon_code:
        return
    lines = [{"product": line.product, "quantity": line.quantity, "unit_price": line.unit_price}
             for line in draft.lines]  # fmt: skip
    coupon, discount = reserve_coupon(code=draft.coupon_code, lines=lines, customer=draft.customer,
                                      at=draft.ordered_at)  # fmt: skip
    if discount > draft.total:
        raise ValidationError({"coupon_code": [_("The coupon and the points together exceed the order's subtotal.")]})
    draft.discount, draft.total = discount, draft.total - discount
    draft.plans[COUPON_STEP] = coupon


def write_order_coupon(draft) -> None:
    coupon = draft.plans.get(COUPON_STEP)
    if coupon is not None:
        record_redemption(
            coupon=coupon, discount=draft.discount, reference=draft.order.public_id, channel=draft.channel,
            customer=draft.customer, store=draft.store, order=draft.order, at=draft.ordered_at,
        )  # fmt: skip


def give_back_order_coupon(draft) -> None:
    """Return step: a fully returned order gives its coupon back, in the return's transaction."""
    if draft.order.status == Order.Status.RETURNED:
        release_coupons_of_order(order=draft.order)
