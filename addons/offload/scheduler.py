"""Reference-request scheduling: once per emulation and route, a few at a time, each on a deadline, none past exit."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Hashable

MAX_RUNNING = 4  # reference requests in flight at once; a flow that finds them busy is skipped (and counted)
MAX_KEYS = 10_000  # routes remembered as compared (keys are bounded in size: redact.route); beyond, no new ones
MAX_NAMED = 5  # routes named in the summary of what failed or was cut short


class Scheduler:
    """Decides which flows get a reference request and runs them as asyncio tasks (no threads).

    A key (emulation, method, route) is claimed once: a route compared under one front end is compared again under
    another. A flow that arrives while MAX_RUNNING comparisons are in flight is skipped, and its route stays
    unclaimed, so a later request to it is compared. Everything is counted for the summary.
    """

    def __init__(self, limit: int = MAX_RUNNING, max_keys: int = MAX_KEYS) -> None:
        self.limit, self.max_keys = limit, max_keys
        self.claimed: set[Hashable] = set()
        self.running: dict[asyncio.Task, str] = {}  # task -> "GET /route", for the summary
        self.started = self.busy = self.full = 0
        self.failed: list[str] = []  # "GET /route: why", the first MAX_NAMED
        self.failures = 0
        self.unsafe: dict[str, int] = {}  # method -> requests not compared because frontend_compare=safe

    def skip_unsafe(self, method: str) -> None:
        """A request frontend_compare=safe leaves out (sending a POST again could change something)."""
        if len(self.unsafe) < 32 or method in self.unsafe:
            self.unsafe[method] = self.unsafe.get(method, 0) + 1

    def claim(self, key: Hashable) -> bool:
        """True when a flow with this key should be compared now (the key is then taken)."""
        if key in self.claimed:
            return False
        if len(self.running) >= self.limit:
            self.busy += 1
            return False
        if len(self.claimed) >= self.max_keys:
            self.full += 1
            return False
        self.claimed.add(key)
        return True

    def start(self, label: str, work: Coroutine) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self.running[task] = label
        self.started += 1
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task) -> None:
        label = self.running.pop(task, "?")
        if not task.cancelled() and task.exception() is not None:  # a bug, not the app: counted, never raised
            self.failure(label, f"{type(task.exception()).__name__}: {task.exception()}")

    def failure(self, label: str, why: str) -> None:
        """A reference request that got no usable answer (timeout, reset, an answer that is not HTTP)."""
        self.failures += 1
        if len(self.failed) < MAX_NAMED:
            self.failed.append(f"{label}: {why}")

    async def settle(self, timeout: float) -> list[str]:
        """Let the comparisons in flight finish within `timeout` seconds; cancel the rest and name them."""
        pending = [t for t in self.running if not t.done()]
        if not pending:
            return []
        _, late = await asyncio.wait(pending, timeout=timeout)
        names = sorted(self.running.get(t, "?") for t in late)
        for task in late:
            task.cancel()
        if late:
            await asyncio.wait(late, timeout=1.0)  # let them unwind (close their sockets)
        return names

    def summary(self) -> list[str]:
        """Lines for the exit summary: what was not compared, and why; nothing when all went well."""
        lines = []
        if self.unsafe:
            count = sum(self.unsafe.values())
            lines.append(f"{count} request(s) ({', '.join(sorted(self.unsafe))}) not compared: frontend_compare=safe "
                         "compares GET, HEAD and OPTIONS only; --set frontend_compare=all compares them too (the app "
                         "then receives each such request twice)")
        if self.busy:
            lines.append(f"{self.busy} flow(s) not compared while {self.limit} comparisons were running "
                         "(their routes are compared on a later request)")
        if self.full:
            lines.append(f"{self.full} flow(s) not compared: {self.max_keys} routes already compared")
        if self.failures:
            lines.append(f"{self.failures} reference request(s) got no usable answer: " + "; ".join(self.failed)
                         + (" ..." if self.failures > len(self.failed) else ""))
        return lines
