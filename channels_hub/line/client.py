"""The connector: the official LINE SDK (line-bot-sdk v3) configured per official account.

`connector_for(name)` gives the connector of an active account from a per-process ConfigCache, so the
webhook and the senders do not read and decrypt the account on every call. Errors of the API come out
as `LineApiError` with the HTTP status (0 when LINE could not be reached) and whether a retry may help;
tokens and secrets never appear in messages or logs.
"""

import json
import logging
import threading
import uuid
from dataclasses import dataclass
from urllib.parse import urlencode

import urllib3
from linebot.v3.exceptions import InvalidSignatureError
from linebot.v3.messaging import (
    ApiClient,
    Configuration,
    MessagingApi,
    MessagingApiBlob,
    MulticastRequest,
    PushMessageRequest,
    ReplyMessageRequest,
    TextMessage,
)
from linebot.v3.messaging.exceptions import ApiException
from linebot.v3.webhook import SignatureValidator

from crm.caching import ConfigCache

from .crypto import SecretUnreadable
from .models import LineAccount

logger = logging.getLogger(__name__)

LINE_API_BASE = "https://api.line.me"
LINE_ACCESS_BASE = "https://access.line.me"
TIMEOUT = (3.05, 15)  # connect, read (seconds)
MAX_TEXT = 5000  # LINE's limit for one text message
MULTICAST_MAX = 500  # LINE's limit of recipients per multicast request
RETRY_KEY_NAMESPACE = uuid.UUID("6c1e5b0e-8f7a-4c4e-9a57-6d2b8b1f7c21")


class LineApiError(Exception):
    def __init__(self, status: int, message: str, *, retry_after: float | None = None):
        self.status = status
        self.message = (message or "")[:200]
        self.retry_after = retry_after
        super().__init__(f"LINE API {status}: {self.message}")

    @property
    def retryable(self) -> bool:
        """LINE unreachable, rate-limited or failing: the same request may succeed later."""
        return (self.status in (0, 408, 429) or self.status >= 500) and not self.quota_exhausted

    @property
    def quota_exhausted(self) -> bool:
        """The account's monthly message quota is used up: nothing goes out until it is raised."""
        return self.status == 429 and "monthly limit" in self.message.lower()


def retry_key(*parts: str) -> str:
    """A deterministic X-Line-Retry-Key: the same request again (after a crash or a timeout) carries
    the same key, and LINE answers 409 instead of delivering it twice."""
    return str(uuid.uuid5(RETRY_KEY_NAMESPACE, "\x1f".join(parts)))


def _api_error(exc: ApiException) -> LineApiError:
    message = ""
    try:
        body = json.loads(exc.body or b"{}")
        message = body.get("message", "") if isinstance(body, dict) else ""
    except (TypeError, ValueError):
        message = ""
    retry_after = None
    headers = exc.headers or {}
    raw = headers.get("Retry-After") if hasattr(headers, "get") else None
    if raw:
        try:
            retry_after = max(0.0, float(raw))
        except ValueError:
            retry_after = None
    return LineApiError(int(exc.status or 0), message or str(exc.reason or ""), retry_after=retry_after)


class _RoutedApiClient(ApiClient):
    """Sends every operation to `host` when one is set (the SDK hard-codes api.line.me and
    api-data.line.me per operation): the local fake, or a proxy in front of LINE."""

    def __init__(self, configuration, *, host: str | None):
        super().__init__(configuration)
        self.host_override = host

    def call_api(self, *args, _host=None, **kwargs):
        return super().call_api(*args, _host=self.host_override or _host, **kwargs)


@dataclass(frozen=True)
class Sent:
    request_id: str = ""
    already_accepted: bool = False  # 409 for a retry key LINE had accepted before: delivered once


class LineConnector:
    """One official account's credentials and its SDK client (created once per process)."""

    def __init__(self, *, pk: int, name: str, channel_secret: str, access_token: str, api_base: str, link_keyword: str):
        self.pk = pk
        self.name = name
        self.link_keyword = link_keyword
        self._secret = channel_secret
        self._token = access_token
        self.api_base = (api_base or "").rstrip("/")
        self.access_base = (api_base or LINE_ACCESS_BASE).rstrip("/")
        self._api: MessagingApi | None = None
        self._blob: MessagingApiBlob | None = None
        self._lock = threading.Lock()

    def __repr__(self):  # never the secrets
        return f"<LineConnector {self.name}>"

    # --- inbound ----------------------------------------------------------------------------------
    def signature_is_valid(self, body: bytes, signature: str) -> bool:
        if not signature or not self._secret:
            return False
        try:
            return SignatureValidator(self._secret).validate(body.decode("utf-8"), signature)
        except (UnicodeDecodeError, InvalidSignatureError, ValueError, TypeError):
            return False

    # --- outbound ---------------------------------------------------------------------------------
    def _api_client(self) -> ApiClient:
        configuration = Configuration(host=self.api_base or LINE_API_BASE, access_token=self._token)
        # Connection failures are retried here; a request that reached LINE is retried by our own code,
        # with the same retry key.
        configuration.retries = urllib3.Retry(total=2, connect=2, read=0, status=0, redirect=0)
        return _RoutedApiClient(configuration, host=self.api_base or None)

    def _client(self) -> MessagingApi:
        with self._lock:
            if self._api is None:
                self._api = MessagingApi(self._api_client())
            return self._api

    def _blob_client(self) -> MessagingApiBlob:
        with self._lock:
            if self._blob is None:
                self._blob = MessagingApiBlob(self._api_client())
            return self._blob

    def _call(self, operation: str, call) -> object:
        try:
            return call()
        except ApiException as exc:
            error = _api_error(exc)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            error = LineApiError(0, f"connection: {type(exc).__name__}")
        logger.warning("line api failed account=%s operation=%s status=%s", self.name, operation, error.status)
        raise error

    @staticmethod
    def _request_id(response) -> str:
        headers = getattr(response, "headers", None) or {}
        return (headers.get("x-line-request-id") or headers.get("X-Line-Request-Id") or "")[:64]

    def push(self, *, to: str, texts: list[str], key: str) -> Sent:
        request = PushMessageRequest(to=to, messages=[TextMessage(text=t) for t in texts])
        return self._send("push", lambda: self._client().push_message_with_http_info(
            request, x_line_retry_key=key, _request_timeout=TIMEOUT))  # fmt: skip

    def multicast(self, *, to: list[str], texts: list[str], key: str) -> Sent:
        if not 1 <= len(to) <= MULTICAST_MAX:
            raise ValueError("multicast takes 1 to 500 recipients")
        request = MulticastRequest(to=to, messages=[TextMessage(text=t) for t in texts])
        return self._send("multicast", lambda: self._client().multicast_with_http_info(
            request, x_line_retry_key=key, _request_timeout=TIMEOUT))  # fmt: skip

    def _send(self, operation: str, call) -> Sent:
        try:
            response = self._call(operation, call)
        except LineApiError as error:
            if error.status == 409:  # the retry key was accepted before: LINE delivered it already
                return Sent(already_accepted=True)
            raise
        return Sent(request_id=self._request_id(response))

    def reply(self, *, reply_token: str, texts: list[str]) -> Sent:
        request = ReplyMessageRequest(replyToken=reply_token, messages=[TextMessage(text=t) for t in texts])
        response = self._call("reply", lambda: self._client().reply_message_with_http_info(
            request, _request_timeout=TIMEOUT))  # fmt: skip
        return Sent(request_id=self._request_id(response))

    def issue_link_token(self, line_user_id: str) -> str:
        response = self._call(
            "link_token", lambda: self._client().issue_link_token(line_user_id, _request_timeout=TIMEOUT)
        )
        return response.link_token

    def display_name(self, line_user_id: str) -> str:
        response = self._call("profile", lambda: self._client().get_profile(line_user_id, _request_timeout=TIMEOUT))
        return (response.display_name or "")[:100]

    def message_content(self, message_id: str) -> tuple[bytes, str]:
        """What a user sent as an image (LINE keeps it for a limited time): the bytes and their type."""
        response = self._call("content", lambda: self._blob_client().get_message_content_with_http_info(
            message_id, _request_timeout=TIMEOUT))  # fmt: skip
        headers = response.headers or {}
        return bytes(response.data or b""), (headers.get("Content-Type") or "application/octet-stream")

    def follower_ids(self):
        """Every user who has the account as a friend (LINE offers this to verified and premium accounts)."""
        start = None
        while True:
            page = self._call("followers", lambda start=start: self._client().get_followers(
                start=start, limit=1000, _request_timeout=TIMEOUT))  # fmt: skip
            yield from page.user_ids or []
            start = page.next
            if not start:
                return

    def account_link_url(self, *, link_token: str, nonce: str) -> str:
        return f"{self.access_base}/dialog/bot/accountLink?" + urlencode({"linkToken": link_token, "nonce": nonce})


def _load_connectors() -> dict[str, LineConnector]:
    connectors = {}
    for account in LineAccount.objects.filter(active=True):
        try:
            secret, token = account.channel_secret, account.access_token
        except SecretUnreadable:
            logger.error("line account secrets unreadable account=%s: enter them again", account.name)
            continue
        connectors[account.name] = LineConnector(
            pk=account.pk, name=account.name, channel_secret=secret, access_token=token,
            api_base=account.api_base, link_keyword=account.link_keyword,
        )  # fmt: skip
    return connectors


_connectors: ConfigCache[dict[str, LineConnector]] = ConfigCache(
    "line.accounts", _load_connectors, models=[LineAccount]
)


def connector_for(name: str) -> LineConnector | None:
    """The active account of this name, or None."""
    return _connectors.get().get(name)


def connector_by_pk(pk: int) -> LineConnector | None:
    return next((c for c in _connectors.get().values() if c.pk == pk), None)
