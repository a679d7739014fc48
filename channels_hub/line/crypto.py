"""Encryption at rest of LINE credentials and account-link proofs (Fernet: AES-128-CBC + HMAC-SHA256).

Keys come from the FIELD_ENCRYPTION_KEYS setting (Fernet keys, newest first: rotate by putting a new
key in front, re-saving, then dropping the old one). Without it a key is derived from SECRET_KEY, so
a development install works with nothing set; changing SECRET_KEY then makes stored secrets
unreadable (they must be entered again), which is why production should set its own keys.
"""

import base64
import hashlib
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class SecretUnreadable(Exception):
    """A stored secret cannot be decrypted with the configured keys."""


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...], secret_key: str) -> MultiFernet:
    if not keys:
        derived = hashlib.sha256(b"tsunagu.field-encryption:" + secret_key.encode()).digest()
        keys = (base64.urlsafe_b64encode(derived).decode(),)
    return MultiFernet([Fernet(k.encode() if isinstance(k, str) else k) for k in keys])


def _current() -> MultiFernet:
    return _fernet(tuple(getattr(settings, "FIELD_ENCRYPTION_KEYS", ()) or ()), settings.SECRET_KEY)


def encrypt(value: str) -> str:
    return _current().encrypt(value.encode()).decode() if value else ""


def decrypt(token: str) -> str:
    if not token:
        return ""
    try:
        return _current().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretUnreadable("stored secret cannot be decrypted with the configured keys") from exc


def hint(value: str) -> str:
    """What the admin may show of a secret: its last four characters."""
    return f"…{value[-4:]}" if len(value) >= 12 else "…"
