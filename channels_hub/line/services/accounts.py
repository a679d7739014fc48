"""Configuring LINE official accounts (admin form and `manage.py line_account`)."""

import logging

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils.text import slugify
from django.utils.translation import gettext_lazy as _

from ..crypto import encrypt
from ..models import LineAccount

logger = logging.getLogger(__name__)


def configure_line_account(
    *,
    name: str,
    channel_secret: str | None = None,
    access_token: str | None = None,
    api_base: str | None = None,
    label: str | None = None,
    link_keyword: str | None = None,
    active: bool | None = None,
) -> tuple[LineAccount, bool]:
    """Create the account of this name or update it; a secret left as None keeps the stored one.
    A new account needs both secrets. Returns (account, created)."""
    name = (name or "").strip()
    errors = {}
    if not name or slugify(name) != name.lower() or len(name) > 50:
        errors["name"] = [_("Use 1 to 50 letters, digits, hyphens or underscores.")]
    if channel_secret is not None:
        channel_secret = channel_secret.strip()
        if not channel_secret or len(channel_secret) > 255:
            errors["channel_secret"] = [_("Enter the channel secret.")]
    if access_token is not None:
        access_token = access_token.strip()
        if not access_token or len(access_token) > 1000 or any(c.isspace() for c in access_token):
            errors["access_token"] = [_("Enter the channel access token.")]
    if api_base:
        api_base = api_base.strip().rstrip("/")
        try:
            URLValidator(schemes=["http", "https"])(api_base)
        except ValidationError:
            errors["api_base"] = [_("Enter an http(s) URL.")]
    if link_keyword is not None and not (link_keyword or "").strip():
        errors["link_keyword"] = [_("Enter the keyword.")]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        account = LineAccount.objects.select_for_update().filter(name=name).first()
        created = account is None
        if created:
            missing = {
                field: [_("A new account needs this.")]
                for field, value in (("channel_secret", channel_secret), ("access_token", access_token))
                if not value
            }
            if missing:
                raise ValidationError(missing)
            account = LineAccount(name=name)
        if channel_secret is not None:
            account.channel_secret_encrypted = encrypt(channel_secret)
        if access_token is not None:
            account.access_token_encrypted = encrypt(access_token)
        if api_base is not None:
            account.api_base = api_base
        if label is not None:
            account.label = label.strip()[:100]
        if link_keyword is not None:
            account.link_keyword = link_keyword.strip()[:50]
        if active is not None:
            account.active = active
        account.full_clean()
        account.save()
    logger.info("line account %s account=%s", "created" if created else "updated", account.name)
    return account, created
