"""Live updates for screens: committed taps fanned out to Server-Sent Event streams.

The tap writer calls ``Broadcast.publish`` on its own thread after each commit, so a
screen never shows a tap that is not durable. Each subscriber is an asyncio queue on
the event loop that serves its stream; ``publish`` hands messages over with
``call_soon_threadsafe``. A subscriber that falls 500 messages behind (a frozen
browser tab) is dropped rather than allowed to grow without bound; its browser's
EventSource reconnects and refetches the picture.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

log = logging.getLogger(__name__)
HEARTBEAT_SECONDS = 15.0
BACKLOG = 500


@dataclass(eq=False)
class Subscriber:
    """One open stream: what it wants to see, and its queue on its event loop."""

    loop: asyncio.AbstractEventLoop
    station: str | None  # None: the dashboard's stream, every station
    queue: asyncio.Queue[dict[str, Any] | None] = field(
        default_factory=lambda: asyncio.Queue(BACKLOG)
    )


class Broadcast:
    """Fans committed taps out to open streams; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: set[Subscriber] = set()

    def subscribe(self, station: str | None) -> Subscriber:
        """Open a stream for one station (a kiosk) or for all (the dashboard)."""
        subscriber = Subscriber(asyncio.get_running_loop(), station)
        with self._lock:
            self._subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        """Close a stream."""
        with self._lock:
            self._subscribers.discard(subscriber)

    @property
    def count(self) -> int:
        """Return how many streams are open."""
        return len(self._subscribers)

    def publish(self, message: dict[str, Any], station: str | None = None) -> None:
        """Send a message to one station's streams, or with None to the dashboards'."""
        self._send(message, lambda s: s.station == station)

    def publish_everywhere(self, message: dict[str, Any]) -> None:
        """Send a message to every open stream."""
        self._send(message, lambda s: True)

    def _send(self, message: dict[str, Any], wanted: Callable[[Subscriber], bool]) -> None:
        with self._lock:
            targets = [s for s in self._subscribers if wanted(s)]
        for subscriber in targets:
            try:
                subscriber.loop.call_soon_threadsafe(self._put, subscriber, message)
            except RuntimeError:  # its loop has closed
                self.unsubscribe(subscriber)

    def _put(self, subscriber: Subscriber, message: dict[str, Any]) -> None:
        try:
            subscriber.queue.put_nowait(message)
        except asyncio.QueueFull:
            log.warning("dropping a stream %d messages behind", BACKLOG)
            self.unsubscribe(subscriber)
            subscriber.queue.get_nowait()
            subscriber.queue.put_nowait(None)

    async def stream(self, subscriber: Subscriber, hello: dict[str, Any]) -> AsyncIterator[bytes]:
        """Yield the SSE bytes of a subscriber's stream until it is closed."""
        try:
            yield b"retry: 1000\n" + _event("hello", hello)
            while True:
                try:
                    message = await asyncio.wait_for(subscriber.queue.get(), HEARTBEAT_SECONDS)
                except TimeoutError:
                    yield b": heartbeat\n\n"
                    continue
                if message is None:
                    return
                yield _event(str(message.get("type", "message")), message)
        finally:
            self.unsubscribe(subscriber)


def _event(name: str, data: dict[str, Any]) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"
