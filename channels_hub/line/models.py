"""LINE official accounts, the LINE users each account knows (follow state = consent to LINE
marketing), the webhook events received (deduplicated by LINE's webhook event id), account-link
requests and the record of how each agent reply went out.

The models belong to the channels_hub app (imported by channels_hub.models)."""

import uuid

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from .crypto import decrypt


class LineAccount(models.Model):
    """One LINE official account (a Messaging API channel). Its channel secret and access token are
    stored encrypted (crypto.py) and never shown back in full."""

    name = models.SlugField(
        _("name"), max_length=50, unique=True, help_text=_("Used in the webhook URL: /hooks/line/<name>/")
    )
    label = models.CharField(_("label"), max_length=100, blank=True)
    channel_secret_encrypted = models.TextField(editable=False)
    access_token_encrypted = models.TextField(editable=False)
    api_base = models.URLField(
        _("API base URL"), max_length=200, blank=True,
        help_text=_("Empty for LINE itself; another server (e.g. the local fake) for development."),
    )  # fmt: skip
    link_keyword = models.CharField(
        _("account-link keyword"), max_length=50, default="会員連携",
        help_text=_("A LINE user who sends this text gets the link to connect their membership."),
    )  # fmt: skip
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("LINE official account")
        verbose_name_plural = _("LINE official accounts")

    def __str__(self):
        return self.label or self.name

    @property
    def channel_secret(self) -> str:
        return decrypt(self.channel_secret_encrypted)

    @property
    def access_token(self) -> str:
        return decrypt(self.access_token_encrypted)


class LineFollower(models.Model):
    """A LINE user as one account sees them. `follows` is their consent to the account's messages:
    set by follow (added as a friend, unblocked) and cleared by unfollow (blocked), each applied only
    if newer than the last change; `opted_out_at` is an explicit opt-out from LINE campaigns (the
    unsubscribe link of a LINE campaign message), cleared by a later follow."""

    account = models.ForeignKey(LineAccount, on_delete=models.PROTECT, related_name="followers")
    line_user_id = models.CharField(_("LINE user id"), max_length=64)
    display_name = models.CharField(_("display name"), max_length=100, blank=True)
    follows = models.BooleanField(_("follows"), default=False)
    follow_changed_at = models.DateTimeField(_("follow changed at"), null=True, blank=True)
    opted_out_at = models.DateTimeField(_("opted out of LINE campaigns at"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("LINE user")
        verbose_name_plural = _("LINE users")
        constraints = [
            models.UniqueConstraint(fields=["account", "line_user_id"], name="hub_line_follower_unique"),
        ]
        indexes = [models.Index(fields=["line_user_id"], name="hub_line_follower_user")]

    def __str__(self):
        return f"{self.account_id}:{self.line_user_id}"

    @property
    def reachable(self) -> bool:
        return self.follows and self.opted_out_at is None


class LineWebhookEvent(models.Model):
    """One event of one webhook delivery, stored once (LINE redelivers with the same id) and processed
    after the webhook has answered. Message payloads are emptied once the message is in the hub."""

    class State(models.TextChoices):
        PENDING = "pending", pgettext_lazy("webhook event", "Pending")
        PROCESSED = "processed", _("Processed")
        IGNORED = "ignored", _("Ignored")
        FAILED = "failed", _("Failed")

    account = models.ForeignKey(LineAccount, on_delete=models.PROTECT, related_name="events")
    webhook_event_id = models.CharField(max_length=64)
    kind = models.CharField(_("type"), max_length=32)
    line_user_id = models.CharField(_("LINE user id"), max_length=64, blank=True)
    occurred_at = models.DateTimeField(_("occurred at"))
    redelivery = models.BooleanField(default=False)
    payload = models.JSONField(default=dict, blank=True)
    reply_token = models.CharField(max_length=255, blank=True)
    reply_token_used = models.BooleanField(default=False)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    error = models.CharField(max_length=255, blank=True)
    message = models.ForeignKey(
        "channels_hub.Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="line_events"
    )
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("LINE webhook event")
        verbose_name_plural = _("LINE webhook events")
        constraints = [
            models.UniqueConstraint(fields=["account", "webhook_event_id"], name="hub_line_event_unique"),
        ]
        indexes = [
            models.Index(fields=["line_user_id", "-occurred_at"], name="hub_line_event_user"),
            models.Index(fields=["state", "received_at"], name="hub_line_event_state"),
        ]

    def __str__(self):
        return f"{self.kind} {self.webhook_event_id}"


class LineLinkRequest(models.Model):
    """One run of LINE's account-link flow: the link token LINE issued for a LINE user, then (once the
    member proved who they are on our page) the nonce sent back to LINE and the member's proof, kept
    encrypted until LINE's accountLink event completes the link and then erased."""

    class Status(models.TextChoices):
        ISSUED = "issued", _("Waiting for the member")
        PROVEN = "proven", _("Proven, waiting for LINE")
        LINKED = "linked", pgettext_lazy("link status", "Linked")
        FAILED = "failed", _("Failed")

    account = models.ForeignKey(LineAccount, on_delete=models.PROTECT, related_name="link_requests")
    line_user_id = models.CharField(max_length=64)
    link_token = models.CharField(max_length=255, unique=True)
    nonce = models.CharField(max_length=255, unique=True, null=True, blank=True)
    customer = models.ForeignKey(
        "crm.Customer", null=True, blank=True, on_delete=models.PROTECT, related_name="line_link_requests"
    )
    proof_encrypted = models.TextField(blank=True, editable=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ISSUED)
    failed_attempts = models.PositiveSmallIntegerField(default=0)
    error = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("LINE account link")
        verbose_name_plural = _("LINE account links")
        indexes = [models.Index(fields=["line_user_id"], name="hub_line_link_user")]

    def __str__(self):
        return f"{self.account_id}:{self.line_user_id} {self.status}"


class LineDelivery(models.Model):
    """How an agent's reply on LINE went out: which account, to which LINE user, by the reply API (a
    fresh reply token) or the push API (with a retry key, so a retried push is delivered once)."""

    class Method(models.TextChoices):
        REPLY = "reply", _("Reply")
        PUSH = "push", _("Push")

    message = models.OneToOneField("channels_hub.Message", on_delete=models.CASCADE, related_name="line_delivery")
    account = models.ForeignKey(LineAccount, on_delete=models.PROTECT, related_name="+")
    line_user_id = models.CharField(max_length=64)
    method = models.CharField(max_length=8, choices=Method.choices)
    retry_key = models.UUIDField(default=uuid.uuid4)
    request_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("LINE delivery")
        verbose_name_plural = _("LINE deliveries")
        constraints = [
            models.CheckConstraint(condition=~Q(line_user_id=""), name="hub_line_delivery_has_user"),
        ]

    def __str__(self):
        return f"{self.message_id} {self.method}"
