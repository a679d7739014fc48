import logging
import re
from datetime import date

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ..exceptions import IdentityConflict, InvalidState, ProofMismatch
from ..models import ChannelIdentity, ConsentSource, Customer, Store
from ..normalize import normalize_email, normalize_kana, normalize_name, normalize_phone, parse_phone
from ..ratelimit import AttemptLimit
from ..selectors import customer_by_member_number
from ..signals import customer_identified

logger = logging.getLogger(__name__)

PROFILE_FIELDS = (
    "member_number", "family_name", "given_name", "family_name_kana", "given_name_kana", "email", "phone",
    "birth_date", "postal_code", "prefecture", "address", "home_store", "email_opt_in", "sms_opt_in",
)  # fmt: skip
MEMBER_NUMBER_RE = re.compile(r"^[0-9A-Za-z-]{4,20}$")
POSTAL_CODE_RE = re.compile(r"^\d{3}-?\d{4}$")
_GENERATED_NUMBER_ATTEMPTS = 5


def normalise_profile(fields: dict) -> dict:
    """Normalise what a caller sent; raise one ValidationError naming every bad field."""
    unknown = set(fields) - set(PROFILE_FIELDS)
    if unknown:
        raise ValidationError({name: _("Unknown field.") for name in sorted(unknown)})
    out, errors = {}, {}
    for name, value in fields.items():
        try:
            if name == "email":
                value = normalize_email(value)
            elif name == "phone":
                value = normalize_phone(value)
            elif name in ("family_name_kana", "given_name_kana"):
                value = normalize_kana(value)
            elif name in ("family_name", "given_name", "address"):
                value = (value or "").strip()
            elif name == "postal_code":
                value = (value or "").strip()
                if value and not POSTAL_CODE_RE.match(value):
                    raise ValidationError(_("Enter a postal code like 150-0001."))
                if value and "-" not in value:
                    value = f"{value[:3]}-{value[3:]}"
            elif name == "member_number":
                value = (value or "").strip()
                if not MEMBER_NUMBER_RE.match(value):
                    raise ValidationError(_("Use 4 to 20 letters, digits or hyphens."))
            elif name == "birth_date" and value is not None:
                if not isinstance(value, date):
                    raise ValidationError(_("Enter a valid date."))
                if value > timezone.localdate() or value.year < 1900:
                    raise ValidationError(_("Enter a birth date between 1900 and today."))
            elif name == "home_store" and value is not None and not isinstance(value, Store):
                raise ValidationError(_("Unknown store."))
        except ValidationError as exc:
            errors[name] = exc.messages
            continue
        out[name] = value
    if errors:
        raise ValidationError(errors)
    return out


def _apply(customer: Customer, fields: dict, *, consent_source: str) -> list[str]:
    """Set the fields on the instance; consent changes are stamped with time and source."""
    now = timezone.now()
    changed = []
    for name, value in fields.items():
        if getattr(customer, name) == value:
            continue
        setattr(customer, name, value)
        changed.append(name)
        if name in ("email_opt_in", "sms_opt_in"):
            setattr(customer, f"{name}_at", now)
            setattr(customer, f"{name}_source", consent_source)
            changed += [f"{name}_at", f"{name}_source"]
    refresh_search_keys(customer)
    return [*changed, "search_name", "search_kana"]


def refresh_search_keys(customer: Customer) -> None:
    customer.search_name = normalize_name(customer.family_name + customer.given_name)
    customer.search_kana = normalize_kana(customer.family_name_kana + customer.given_name_kana)


def _check_identities_free(identities: list[dict], *, customer: Customer | None = None) -> None:
    for identity in identities:
        owner = (
            ChannelIdentity.objects.filter(channel=identity["channel"], external_id=identity["external_id"])
            .values_list("customer__public_id", flat=True)
            .first()
        )
        if owner is not None and (customer is None or owner != customer.public_id):
            raise IdentityConflict(
                _("%(channel)s account %(external_id)s is already linked to another customer.") % identity
            )


def create_customer(*, identities: list[dict] = (), consent_source: str = ConsentSource.STAFF, **fields) -> Customer:
    """Create a customer from profile fields (normalised here) and optional channel identities
    ``[{channel, external_id}]``; an identity linked elsewhere raises IdentityConflict, nothing written."""
    fields = normalise_profile(fields)
    identities = list(identities)
    given_number = "member_number" in fields
    for attempt in range(1 if given_number else _GENERATED_NUMBER_ATTEMPTS):
        customer = Customer()
        _apply(customer, fields, consent_source=consent_source)
        customer.full_clean(validate_unique=given_number)
        try:
            with transaction.atomic():
                _check_identities_free(identities)
                customer.save()
                for identity in identities:
                    ChannelIdentity.objects.create(customer=customer, **identity)
                _identified(customer, identities=[(i["channel"], i["external_id"]) for i in identities])
        except IntegrityError as exc:
            # Lost a race: another request linked one of these identities or took the number.
            _check_identities_free(identities)
            if given_number:
                raise ValidationError({"member_number": [_("A customer with this member number exists.")]}) from exc
            if attempt == _GENERATED_NUMBER_ATTEMPTS - 1:
                raise
            continue
        logger.info("customer created customer_id=%s", customer.public_id)
        return customer
    raise AssertionError("unreachable")


def update_customer(*, customer: Customer, consent_source: str = ConsentSource.STAFF, **fields) -> Customer:
    """Update profile and consent. A merged customer cannot be edited: callers pass the survivor."""
    fields = normalise_profile(fields)
    with transaction.atomic():
        customer = Customer.objects.select_for_update().get(pk=customer.pk)
        if customer.merged_into_id is not None:
            raise InvalidState(_("This customer was merged into another; edit the surviving customer."))
        changed = _apply(customer, fields, consent_source=consent_source)
        customer.full_clean(validate_unique="member_number" in fields)
        try:
            with transaction.atomic():
                customer.save(update_fields=[*changed, "updated_at"])
        except IntegrityError as exc:
            raise ValidationError({"member_number": [_("A customer with this member number exists.")]}) from exc
        if "email" in changed or "phone" in changed:
            _identified(customer, email_changed="email" in changed, phone_changed="phone" in changed)
    logger.info("customer updated customer_id=%s fields=%s", customer.public_id, ",".join(sorted(fields)))
    return customer


def _identified(customer: Customer, *, email_changed=True, phone_changed=True, identities=()) -> None:
    """Tell other apps (inside this transaction) which contacts now lead to this customer."""
    customer_identified.send(
        sender=Customer, customer=customer, email=customer.email if email_changed else "",
        phone=customer.phone if phone_changed else "", identities=list(identities),
    )  # fmt: skip


# API.md: after 5 wrong proofs for one member within an hour, every attempt for them gets 429.
LINK_PROOF_LIMIT = AttemptLimit("link-proof", limit=5, window=60 * 60)


def link_channel_account(
    *, channel: str, external_id: str, member_number: str, birth_date: date | None = None, phone: str | None = None
) -> Customer:
    """Link an EC/app/LINE account to an existing member who proves it is theirs with the member
    number plus the birth date or phone on file. A wrong proof and an unknown member number fail
    alike (ProofMismatch), so the endpoint does not reveal which member numbers exist."""
    if birth_date is None and not phone:
        raise ValidationError({"birth_date": [_("Give the birth date or the phone number as proof.")]})
    customer = customer_by_member_number(member_number)
    # Counted per member (per number when it is unknown, so both answer alike), in the shared cache.
    limit_key = customer.public_id if customer is not None else member_number.strip()
    LINK_PROOF_LIMIT.take(limit_key)
    proved = customer is not None and (
        (birth_date is not None and customer.birth_date == birth_date)
        or (bool(phone) and customer.phone != "" and parse_phone(phone) == customer.phone)
    )
    if not proved:
        logger.info("link refused channel=%s", channel)
        raise ProofMismatch()
    LINK_PROOF_LIMIT.give_back(limit_key)
    with transaction.atomic():
        existing = ChannelIdentity.objects.select_for_update().filter(channel=channel, external_id=external_id).first()
        if existing is not None:
            if existing.customer_id != customer.pk:
                raise IdentityConflict()
            return customer
        try:
            with transaction.atomic():
                ChannelIdentity.objects.create(customer=customer, channel=channel, external_id=external_id)
        except IntegrityError as exc:  # a concurrent link of the same account
            owner_id = ChannelIdentity.objects.get(channel=channel, external_id=external_id).customer_id
            if owner_id != customer.pk:
                raise IdentityConflict() from exc
        _identified(customer, email_changed=False, phone_changed=False, identities=[(channel, external_id)])
    logger.info("identity linked customer_id=%s channel=%s", customer.public_id, channel)
    return customer
