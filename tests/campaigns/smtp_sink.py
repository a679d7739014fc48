"""A local SMTP server (aiosmtpd) that counts accepted messages per recipient. It can hold one
message's DATA reply on purpose, so a test can kill the sending worker while that mail is in flight."""

import asyncio
import socket
import threading
from collections import Counter

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class CountingHandler:
    def __init__(self, hold_at: int | None = None):
        self.accepted: Counter = Counter()
        self.lock = threading.Lock()
        self.seen = 0
        self.hold_at = hold_at
        self.holding = threading.Event()
        self.release = threading.Event()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.seen += 1
            hold = self.seen == self.hold_at
        if hold:
            self.holding.set()
            await asyncio.get_running_loop().run_in_executor(None, self.release.wait, 60)
            return "451 4.3.0 aborted"  # the sender died waiting: this message is not accepted
        with self.lock:
            for rcpt in envelope.rcpt_tos:
                self.accepted[rcpt.lower()] += 1
        return "250 OK"


def start_sink(handler, port: int | None = None) -> Controller:
    controller = Controller(handler, hostname="127.0.0.1", port=port or free_port())
    controller.start()
    return controller
