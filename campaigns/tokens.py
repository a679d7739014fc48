"""Signed tokens in the links of a campaign mail (unsubscribe, open pixel, click). They carry public
ids only and do not expire: an unsubscribe link must keep working in a mail read a year later."""

from django.core import signing

_SALTS = {
    "unsubscribe": "campaigns.unsubscribe", "open": "campaigns.open", "click": "campaigns.click",
    "preferences": "campaigns.preferences", "coupon": "campaigns.coupon",
}  # fmt: skip


def make_token(purpose: str, *, campaign_id: str, customer_id: str, url: str = "") -> str:
    payload = {"c": campaign_id, "u": customer_id}
    if url:
        payload["l"] = url
    return signing.Signer(salt=_SALTS[purpose]).sign_object(payload, compress=True)


def read_token(purpose: str, token: str) -> dict | None:
    """The payload, or None for a token that was tampered with, truncated or made for another purpose."""
    try:
        payload = signing.Signer(salt=_SALTS[purpose]).unsign_object(token)
    except (signing.BadSignature, ValueError, UnicodeError):
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("c"), str) or not isinstance(payload.get("u"), str):
        return None
    return payload
