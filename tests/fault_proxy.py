"""A small HTTP proxy that breaks sync traffic on purpose, for the sync fault tests.

It sits between kiosks and their hub on loopback. With faults on, each request
meets one of: passed through; dropped before reaching the hub; passed but its answer
lost (the hub stored the batch, the kiosk never heard: a cut mid-batch); passed
twice (a duplicate); delayed; or passed and then followed by a stale earlier push
replayed (reordered batches). ``down`` refuses everything, like a dead LAN.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter

import httpx
import uvicorn
from starlette.types import Receive, Scope, Send

from tests.servers import ThreadedServer, free_port

FAULTS = ("pass", "drop", "lose_answer", "duplicate", "delay", "replay_stale")


async def read_body(receive: Receive) -> bytes:
    """Read a whole request body from an ASGI receive channel."""
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            return body


class FaultProxy(ThreadedServer):
    """Forward HTTP to ``target``, injecting faults when told to."""

    def __init__(self, target: str, seed: int = 5) -> None:
        self.target = target
        self.rng = random.Random(seed)
        self.faults = False
        self.down = False
        self.seen: Counter[str] = Counter()
        self._pushes: list[tuple[dict[str, str], bytes]] = []
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._serve(
            uvicorn.Config(
                self, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off"
            )
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one request: forward it, or break it."""
        assert scope["type"] == "http"
        body = await read_body(receive)
        headers = {
            k.decode(): v.decode()
            for k, v in scope["headers"]
            if k.lower() not in (b"host", b"content-length")
        }
        path = scope["path"] + (
            ("?" + scope["query_string"].decode()) if scope["query_string"] else ""
        )
        fault = self.rng.choice(FAULTS) if self.faults else "pass"
        if self.down:
            fault = "drop"
        self.seen[fault] += 1
        is_push = scope["method"] == "POST" and scope["path"] == "/api/v1/sync/events"
        if fault == "drop":
            await _answer(send, 502, b'{"detail": "proxy: dropped"}')
            return
        if fault == "delay":
            await asyncio.sleep(self.rng.uniform(0.05, 0.4))
        try:
            async with httpx.AsyncClient(base_url=self.target, timeout=30) as client:
                times = 2 if fault == "duplicate" else 1
                for _ in range(times):
                    reply = await client.request(
                        scope["method"], path, content=body, headers=headers
                    )
                if fault == "replay_stale" and self._pushes:
                    old_headers, old_body = self.rng.choice(self._pushes)
                    await client.post("/api/v1/sync/events", content=old_body, headers=old_headers)
        except httpx.TransportError:
            await _answer(send, 502, b'{"detail": "proxy: the hub is unreachable"}')
            return
        if is_push:
            self._pushes.append((headers, body))
            del self._pushes[:-20]
        if fault == "lose_answer":
            await _answer(send, 504, b'{"detail": "proxy: the answer was lost"}')
            return
        await _answer(send, reply.status_code, reply.content, reply.headers.get("content-type"))


async def _answer(send: Send, status: int, body: bytes, content_type: str | None = None) -> None:
    headers = [(b"content-length", str(len(body)).encode())]
    headers.append((b"content-type", (content_type or "application/json").encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
