"""A local stand-in for the LINE platform, for the tests and for trying LINE with `make run`.

It serves the parts of the Messaging API that Tsunagu uses (push, multicast, reply, link token,
profile) and the account-link dialog (access.line.me), checks the bearer token, honours
X-Line-Retry-Key (a key accepted once answers 409 afterwards, as LINE does), records every message it
accepted, can fail the next requests on demand (429 with Retry-After, 500, ...) or hold one request so
that a test can kill the sender meanwhile. As the LINE platform it also *sends* signed webhook
events (a user follows, writes, sends a sticker, taps a postback) to Tsunagu's webhook, from code or
from the small phone simulator page it serves at `/`.

    fake = FakeLine(access_token="t", channel_secret="s", webhook_url="http://127.0.0.1:8000/hooks/line/demo/")
    fake.start(); fake.say("U1", "こんにちは"); fake.delivered_to("U1"); fake.stop()

Loopback only: it binds 127.0.0.1.
"""

import base64
import hashlib
import hmac
import html
import json
import re
import secrets
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

_USER_PATH = "/v2/bot/user/"
_CONTENT = re.compile(r"^/v2/bot/message/([0-9]+)/content$")
# A 1×1 PNG: what every image a fake user sends looks like.
PIXEL_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
)
_PROFILE_PATH = "/v2/bot/profile/"


def _event_id() -> str:
    return "01" + secrets.token_hex(12).upper()


def sign(body: bytes, channel_secret: str) -> str:
    return base64.b64encode(hmac.new(channel_secret.encode(), body, hashlib.sha256).digest()).decode()


class FakeLine:
    def __init__(
        self, *, access_token: str = "", channel_secret: str = "", webhook_url: str = "", port: int = 0, deliver=None
    ):
        """`deliver(body, signature) -> status`, when given, replaces the HTTP POST of webhook events
        (tests hand them to Django's test client, inside the test's transaction)."""
        self.deliver = deliver
        self.access_token = access_token
        self.channel_secret = channel_secret
        self.webhook_url = webhook_url
        self.port = port
        self.lock = threading.RLock()
        self.requests: list[dict] = []  # every API request: {path, status, body, retry_key}
        self.delivered: list[dict] = []  # one row per recipient and message accepted: {api, to, text, retry_key}
        self.accepted_keys: dict[str, str] = {}
        self.link_tokens: dict[str, dict] = {}  # token -> {user, used}
        self.reply_tokens: dict[str, dict] = {}  # token -> {user, used}
        self.profiles: dict[str, str] = {}  # the account's friends: user id -> display name
        self.webhook_log: list[dict] = []  # events sent to Tsunagu: {event, status}
        self._failures: list[tuple[int, str, float | None]] = []
        self.hold_at: int | None = None  # the n-th push/multicast is held until `release` is set
        self.holding = threading.Event()
        self.release = threading.Event()
        self._sends_seen = 0
        self._server: ThreadingHTTPServer | None = None

    # --- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> "FakeLine":
        fake = self

        class Handler(_Handler):
            line = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, name="fake-line", daemon=True).start()
        return self

    def stop(self) -> None:
        self.release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # --- behaviour on demand -----------------------------------------------------------------------
    def fail_next(self, status: int, *, count: int = 1, message: str = "", retry_after: float | None = None):
        default = {429: "The API rate limit has been exceeded. Try again later.", 500: "Internal server error"}
        with self.lock:
            self._failures += [(status, message or default.get(status, "error"), retry_after)] * count

    def delivered_to(self, user_id: str) -> list[str]:
        with self.lock:
            return [d["text"] for d in self.delivered if d["to"] == user_id]

    def delivery_counts(self) -> Counter:
        with self.lock:
            return Counter(d["to"] for d in self.delivered)

    def api_requests(self, path_part: str = "") -> list[dict]:
        with self.lock:
            return [r for r in self.requests if path_part in r["path"]]

    # --- the platform sending webhook events -------------------------------------------------------
    def _base_event(self, kind: str, user_id: str, *, reply: bool = True) -> dict:
        event = {
            "type": kind, "mode": "active", "timestamp": int(time.time() * 1000),
            "source": {"type": "user", "userId": user_id}, "webhookEventId": _event_id(),
            "deliveryContext": {"isRedelivery": False},
        }  # fmt: skip
        if reply:
            token = secrets.token_hex(16)
            with self.lock:
                self.reply_tokens[token] = {"user": user_id, "used": False}
            event["replyToken"] = token
        return event

    def say(self, user_id: str, text: str) -> dict:
        event = self._base_event("message", user_id)
        event["message"] = {"type": "text", "id": str(secrets.randbelow(10**17)), "quoteToken": "q", "text": text}
        return self.send_event(event)

    def sticker(self, user_id: str, package_id: str = "446", sticker_id: str = "1988") -> dict:
        event = self._base_event("message", user_id)
        event["message"] = {
            "type": "sticker", "id": str(secrets.randbelow(10**17)), "quoteToken": "q",
            "packageId": package_id, "stickerId": sticker_id, "stickerResourceType": "STATIC",
        }  # fmt: skip
        return self.send_event(event)

    def image(self, user_id: str) -> dict:
        event = self._base_event("message", user_id)
        event["message"] = {"type": "image", "id": str(secrets.randbelow(10**17)), "quoteToken": "q",
                            "contentProvider": {"type": "line"}}  # fmt: skip
        return self.send_event(event)

    def follow(self, user_id: str, display_name: str = "") -> dict:
        with self.lock:
            self.profiles[user_id] = display_name or self.profiles.get(user_id) or "LINE user"
        event = self._base_event("follow", user_id)
        event["follow"] = {"isUnblocked": False}
        return self.send_event(event)

    def unfollow(self, user_id: str) -> dict:
        with self.lock:
            self.profiles.pop(user_id, None)  # LINE shows no profile of a user who blocked the account
        return self.send_event(self._base_event("unfollow", user_id, reply=False))

    def postback(self, user_id: str, data: str) -> dict:
        event = self._base_event("postback", user_id)
        event["postback"] = {"data": data}
        return self.send_event(event)

    def account_link(self, link_token: str, nonce: str) -> dict:
        """What LINE does when the user is sent to the account-link dialog: an accountLink event,
        `ok` when the link token is one it issued and not used yet, else `failed`."""
        with self.lock:
            issued = self.link_tokens.get(link_token)
            ok = issued is not None and not issued["used"]
            if ok:
                issued["used"] = True
        event = self._base_event("accountLink", issued["user"] if issued else "U" + "0" * 32)
        event["link"] = {"result": "ok" if ok else "failed", "nonce": nonce}
        return self.send_event(event)

    def send_event(self, event: dict, *, signature: str | None = None) -> dict:
        body = json.dumps({"destination": "Ufakebot", "events": [event]}, ensure_ascii=False).encode()
        signature = signature if signature is not None else sign(body, self.channel_secret)
        if self.deliver is not None:
            status = self.deliver(body, signature)
            with self.lock:
                self.webhook_log.append({"event": event, "status": status})
            return {"event": event, "status": status}
        request = urllib.request.Request(  # noqa: S310  the webhook URL is the developer's own server
            self.webhook_url, data=body, method="POST",
            headers={"Content-Type": "application/json; charset=utf-8",
                     "X-Line-Signature": signature},
        )  # fmt: skip
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                status = response.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        except (urllib.error.URLError, OSError):
            status = 0
        with self.lock:
            self.webhook_log.append({"event": event, "status": status})
        return {"event": event, "status": status}

    # --- the API -----------------------------------------------------------------------------------
    def handle_api(self, method: str, path: str, headers, body: bytes, query=None) -> tuple[int, dict, dict]:
        if self.access_token and headers.get("Authorization") != f"Bearer {self.access_token}":
            return 401, {"message": "Authentication failed. Confirm that the access token is correct."}, {}
        key = headers.get("X-Line-Retry-Key") or ""
        is_send = path in ("/v2/bot/message/push", "/v2/bot/message/multicast")
        if is_send:
            with self.lock:
                self._sends_seen += 1
                hold = self.hold_at is not None and self._sends_seen == self.hold_at
            if hold:
                self.holding.set()
                self.release.wait(120)
        with self.lock:
            failure = self._failures.pop(0) if self._failures else None
        if failure is not None:
            status, message, retry_after = failure
            extra = {"Retry-After": str(retry_after)} if retry_after is not None else {}
            return self._record(path, status, body, key, {"message": message}, extra)
        try:
            data = json.loads(body or b"{}") if method == "POST" else {}
        except ValueError:
            return self._record(path, 400, body, key, {"message": "The request body has 1 error(s)"})
        if is_send and key:
            with self.lock:
                if key in self.accepted_keys:
                    return self._record(path, 409, body, key, {"message": "The retry key is already accepted",
                                                               "sentMessages": []},
                                        {"X-Line-Accepted-Request-Id": self.accepted_keys[key]})  # fmt: skip
        if path == "/v2/bot/message/push":
            return self._deliver("push", path, [data.get("to")], data, body, key)
        if path == "/v2/bot/message/multicast":
            to = data.get("to")
            if not isinstance(to, list) or not 1 <= len(to) <= 500:
                return self._record(path, 400, body, key, {"message": "The request body has 1 error(s)"})
            return self._deliver("multicast", path, to, data, body, key)
        if path == "/v2/bot/message/reply":
            token = data.get("replyToken", "")
            with self.lock:
                known = self.reply_tokens.get(token)
                valid = known is not None and not known["used"]
                if valid:
                    known["used"] = True
            if not valid:
                return self._record(path, 400, body, key, {"message": "Invalid reply token"})
            return self._deliver("reply", path, [known["user"]], data, body, key)
        if method == "POST" and path.startswith(_USER_PATH) and path.endswith("/linkToken"):
            user = path[len(_USER_PATH) : -len("/linkToken")]
            token = secrets.token_urlsafe(24)
            with self.lock:
                self.link_tokens[token] = {"user": user, "used": False}
            return self._record(path, 200, body, key, {"linkToken": token})
        if method == "GET" and path == "/v2/bot/followers/ids":
            with self.lock:
                friends = sorted(self.profiles)
            start = int((query or {}).get("start", ["0"])[0] or 0)
            limit = int((query or {}).get("limit", ["1000"])[0] or 1000)
            page = {"userIds": friends[start : start + limit]}
            if start + limit < len(friends):
                page["next"] = str(start + limit)
            return self._record(path, 200, body, key, page)
        if method == "GET" and path.startswith(_PROFILE_PATH):
            user = path[len(_PROFILE_PATH) :]
            name = self.profiles.get(user)
            if name is None:
                return self._record(path, 404, body, key, {"message": "Not found"})
            return self._record(path, 200, body, key, {"userId": user, "displayName": name, "language": "ja"})
        return self._record(path, 404, body, key, {"message": "Not found"})

    def _deliver(self, api, path, recipients, data, body, key):
        messages = data.get("messages")
        if (not isinstance(messages, list) or not 1 <= len(messages) <= 5
                or any(not isinstance(r, str) or not r for r in recipients)):  # fmt: skip
            return self._record(path, 400, body, key, {"message": "The request body has 1 error(s)"})
        for message in messages:
            if message.get("type") != "text" or not 1 <= len(message.get("text") or "") <= 5000:
                return self._record(path, 400, body, key, {"message": "The request body has 1 error(s)"})
        request_id = secrets.token_hex(8)
        with self.lock:
            for to in recipients:
                for message in messages:
                    self.delivered.append({"api": api, "to": to, "text": message["text"], "retry_key": key})
            if key:
                self.accepted_keys[key] = request_id
        answer = (
            {"sentMessages": [{"id": str(secrets.randbelow(10**17))} for _ in messages]} if api != "multicast" else {}
        )
        return self._record(path, 200, body, key, answer, {"x-line-request-id": request_id})

    def _record(self, path, status, body, key, answer, headers=None):
        with self.lock:
            self.requests.append({"path": path, "status": status, "retry_key": key, "body": body[:2000]})
        return status, answer, headers or {}


class _Handler(BaseHTTPRequestHandler):
    line: FakeLine
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # quiet
        pass

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(min(length, 1_000_000)) if length else b""

    def _answer(self, status: int, payload, headers=None, content_type="application/json"):
        data = payload if isinstance(payload, bytes) else json.dumps(payload, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        parts = urlsplit(self.path)
        if parts.path == "/dialog/bot/accountLink":
            query = parse_qs(parts.query)
            result = self.line.account_link(query.get("linkToken", [""])[0], query.get("nonce", [""])[0])
            outcome = result["event"]["link"]["result"]
            page = f"<!doctype html><meta charset=utf-8><title>LINE</title><p>account link: {html.escape(outcome)}</p>"
            return self._answer(200, page.encode(), content_type="text/html; charset=utf-8")
        if parts.path == "/":
            return self._answer(200, _simulator_page(self.line).encode(), content_type="text/html; charset=utf-8")
        if parts.path == "/__fake__/delivered":
            with self.line.lock:
                return self._answer(200, self.line.delivered)
        if _CONTENT.match(parts.path):
            if self.line.access_token and self.headers.get("Authorization") != f"Bearer {self.line.access_token}":
                return self._answer(401, {"message": "Authentication failed."})
            return self._answer(200, PIXEL_PNG, content_type="image/png")
        status, answer, headers = self.line.handle_api("GET", parts.path, self.headers, b"", parse_qs(parts.query))
        return self._answer(status, answer, headers)

    def do_POST(self):
        parts = urlsplit(self.path)
        body = self._body()
        if parts.path == "/__fake__/event":
            return self._simulate(parse_qs(body.decode("utf-8", "replace")))
        if parts.path == "/__fake__/fail":
            data = json.loads(body or b"{}")
            self.line.fail_next(int(data.get("status", 500)), count=int(data.get("count", 1)),
                                retry_after=data.get("retry_after"))  # fmt: skip
            return self._answer(200, {"ok": True})
        status, answer, headers = self.line.handle_api("POST", parts.path, self.headers, body)
        return self._answer(status, answer, headers)

    def _simulate(self, form: dict):
        user = (form.get("user", [""])[0] or "").strip()[:64]
        action = form.get("action", [""])[0]
        text = form.get("text", [""])[0]
        if user:
            if action == "follow":
                self.line.follow(user, form.get("name", [""])[0][:100])
            elif action == "unfollow":
                self.line.unfollow(user)
            elif action == "say" and text:
                self.line.say(user, text)
            elif action == "sticker":
                self.line.sticker(user)
            elif action == "image":
                self.line.image(user)
            elif action == "postback" and text:
                self.line.postback(user, text)
        self.send_response(303)
        self.send_header("Location", "/?user=" + urllib.request.quote(user))
        self.send_header("Content-Length", "0")
        self.end_headers()


def _links(escaped: str) -> str:
    """URLs in an already escaped text become links (the account-link page, campaign links)."""
    return re.sub(r"https?://[^\s<>\"']+", lambda m: f'<a href="{m.group(0)}">{m.group(0)}</a>', escaped)


def _simulator_page(line: FakeLine) -> str:
    esc = html.escape
    with line.lock:
        sent = list(line.webhook_log[-30:])
        received = list(line.delivered[-30:])
    rows_in = "".join(
        f"<li>{esc(e['event']['source'].get('userId', ''))} → {esc(e['event']['type'])} "
        f"{esc(json.dumps(e['event'].get('message') or e['event'].get('postback') or {}, ensure_ascii=False))} "
        f"(HTTP {e['status']})</li>"
        for e in reversed(sent)
    )
    rows_out = "".join(
        f"<li>→ {esc(d['to'])} [{esc(d['api'])}]: <pre>{_links(esc(d['text']))}</pre></li>" for d in reversed(received)
    )
    return f"""<!doctype html><meta charset=utf-8><title>Fake LINE</title>
<style>body{{font-family:sans-serif;max-width:60rem;margin:2rem auto}} pre{{white-space:pre-wrap;margin:0}}</style>
<h1>Fake LINE platform</h1>
<p>Webhook: <code>{esc(line.webhook_url)}</code>. Messages you send here reach Tsunagu as signed webhook events;
what Tsunagu sends (replies, pushes, campaigns) is listed below.</p>
<form method=post action="/__fake__/event">
 <label>LINE user id <input name=user value="U{"0" * 31}1" size=40 required></label>
 <label>display name <input name=name value="LINE 太郎"></label><br>
 <label>text / postback data <input name=text size=50 value="こんにちは"></label><br>
 <button name=action value=follow>follow</button> <button name=action value=say>send text</button>
 <button name=action value=sticker>sticker</button> <button name=action value=image>image</button>
 <button name=action value=postback>postback</button> <button name=action value=unfollow>block</button>
</form>
<h2>Received from Tsunagu</h2><ul>{rows_out}</ul>
<h2>Sent to Tsunagu</h2><ul>{rows_in}</ul>"""
