"""One model, one request at a time: a bounded first-come-first-served queue of requests.

Runs on the server's event loop only (no locks needed). A request is admitted (or
refused with :class:`QueueFull` when ``size`` requests already wait), waits for its
turn, and releases it when its generation thread has really finished. A waiting
request whose client left is taken out of the line.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from typing import Awaitable, Callable

POLL_S = 0.1


class QueueFull(Exception):
    def __init__(self, retry_after: int):
        super().__init__(f"{retry_after}")
        self.retry_after = retry_after


class Ticket:
    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.turn = loop.create_future()


class RequestQueue:
    def __init__(self, size: int):
        self.size = size
        self._waiting: deque[Ticket] = deque()
        self._running: Ticket | None = None
        self._mean_s = 2.0  # running mean of a request's duration, for Retry-After
        self._started_at = 0.0
        self.served = 0
        self.dropped = 0

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    @property
    def busy(self) -> bool:
        return self._running is not None

    def admit(self) -> Ticket:
        if len(self._waiting) >= self.size:
            raise QueueFull(max(1, math.ceil(self._mean_s * (len(self._waiting) + 1))))
        ticket = Ticket(asyncio.get_running_loop())
        self._waiting.append(ticket)
        self._advance()
        return ticket

    async def wait(self, ticket: Ticket, client_left: Callable[[], Awaitable[bool]]) -> bool:
        """Wait for this ticket's turn; False (and out of the line) if the client left first."""
        try:
            while True:
                done, _ = await asyncio.wait({ticket.turn}, timeout=POLL_S)
                if done:
                    return True
                if await client_left():
                    self.leave(ticket)
                    self.dropped += 1
                    return False
        except BaseException:  # the request itself was cancelled (shutdown): never strand the line
            self.leave(ticket)
            raise

    def leave(self, ticket: Ticket) -> None:
        """Give up a ticket that never ran (waiting, or granted but not started)."""
        if ticket in self._waiting:
            self._waiting.remove(ticket)
        elif self._running is ticket:
            self._running = None
            self._advance()

    def release(self, ticket: Ticket) -> None:
        if self._running is ticket:
            loop = asyncio.get_running_loop()
            took = loop.time() - self._started_at
            self._mean_s = 0.8 * self._mean_s + 0.2 * took
            self.served += 1
            self._running = None
            self._advance()

    def _advance(self) -> None:
        while self._running is None and self._waiting:
            ticket = self._waiting.popleft()
            if ticket.turn.done():  # cancelled
                continue
            self._running = ticket
            self._started_at = asyncio.get_running_loop().time()
            ticket.turn.set_result(None)
