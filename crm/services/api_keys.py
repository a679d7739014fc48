import hashlib
import secrets

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ..models import ApiKey
from ..scopes import SCOPES

KEY_PREFIX = "tsu"


def hash_api_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


def create_api_key(
    *, name: str, scopes: list[str], created_by=None, rate_limit: int | None = None
) -> tuple[ApiKey, str]:
    """Create a key and return it with the raw key, which is shown once and never stored."""
    name = (name or "").strip()
    errors = {}
    if not name:
        errors["name"] = [_("Give the key a name that says who uses it.")]
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        errors["scopes"] = [_("Choose scopes from: %s.") % ", ".join(SCOPES)]
    if errors:
        raise ValidationError(errors)
    prefix = secrets.token_hex(4)
    raw_key = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey(
        name=name, prefix=prefix, key_hash=hash_api_key(raw_key), scopes=sorted(set(scopes)), created_by=created_by,
        rate_limit=rate_limit,
    )  # fmt: skip
    key.full_clean()
    key.save()
    return key, raw_key


def revoke_api_key(*, api_key: ApiKey) -> ApiKey:
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
    return api_key


def set_api_key_rate_limit(*, api_key: ApiKey, rate_limit: int | None) -> ApiKey:
    """Requests per minute for this key (None: the default). Every web process applies it to its next
    request: saving the key drops their cached copies (crm.api.auth)."""
    api_key.rate_limit = rate_limit
    api_key.full_clean(validate_unique=False, validate_constraints=False)
    api_key.save(update_fields=["rate_limit"])
    return api_key
