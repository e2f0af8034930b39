"""The supervisor's /control routes: validate fault-injection requests and fan them out to every worker.

- ``POST /control/drop`` ``{"fraction": F, "mode": "close"|"reset", "code": C}`` -> ``{"dropped": N}``
- ``GET /control/faults`` -> the fault state; ``POST /control/faults`` ``{...changes}`` -> the new state
- ``POST /control/faults/reset`` -> the state with every fault off
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Sequence
from typing import Any, Protocol

from orjson import dumps

from . import control
from .faults import FaultError, Faults, parse_drop, split_quota
from .stats_http import Handler, HttpError, json_object


class Worker(Protocol):
    """What FaultControl needs of a worker link."""

    async def command(self, name: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        """Send a control command; return the reply."""


class FaultControl:
    """The fault state of the whole server (the supervisor's copy is authoritative)."""

    def __init__(self, workers: Sequence[Worker], faults: Faults) -> None:
        self._workers = workers
        self.faults = faults
        self._lock = asyncio.Lock()  # one control operation at a time, so workers agree

    def routes(self) -> dict[str, dict[str, Handler]]:
        """path -> method -> handler, for stats_http."""
        return {
            "/control/drop": {"POST": self.post_drop},
            "/control/faults": {"GET": self.get_faults, "POST": self.post_faults},
            "/control/faults/reset": {"POST": self.post_reset},
        }

    async def get_faults(self, _body: bytes) -> bytes:
        """The current fault state."""
        return dumps(self.faults.to_dict())

    async def post_faults(self, body: bytes) -> bytes:
        """Apply the changes in ``body`` (omitted keys keep their value); return the new state."""
        changes = json_object(body)
        try:
            faults = self.faults.updated(changes)
        except FaultError as exc:
            raise HttpError(400, str(exc), exc.field) from None
        return await self._set(faults)

    async def post_reset(self, _body: bytes) -> bytes:
        """Every fault off; return the new state."""
        return await self._set(Faults())

    async def post_drop(self, body: bytes) -> bytes:
        """Drop a fraction of the hello-completed connections of every worker; ``{"dropped": N}``."""
        try:
            request = parse_drop(json_object(body))
        except FaultError as exc:
            raise HttpError(400, str(exc), exc.field) from None
        order = {"mode": request.mode, "code": request.code}
        async with self._lock:
            if request.fraction >= 1.0:  # all: no count round, so nobody slips through
                orders = [(worker, {"count": None, **order}) for worker in self._workers]
            else:
                replies = await self._ask([(worker, None) for worker in self._workers], control.CMD_COUNT)
                quotas = split_quota([int(r.get("droppable", 0)) for r in replies], request.fraction)
                orders = [(w, {"count": n, **order}) for w, n in zip(self._workers, quotas, strict=True) if n > 0]
            replies = await self._ask(orders, control.CMD_DROP)
        return dumps({"dropped": sum(int(r.get("dropped", 0)) for r in replies)})

    async def _set(self, faults: Faults) -> bytes:
        async with self._lock:
            await self._ask([(worker, faults.to_dict()) for worker in self._workers], control.CMD_FAULTS)
            self.faults = faults
        return dumps(faults.to_dict())

    @staticmethod
    async def _ask(orders: Sequence[tuple[Worker, dict[str, Any] | None]], name: str) -> list[dict[str, Any]]:
        """Send command ``name`` to each worker with its payload, concurrently; their replies."""
        replies = list(await asyncio.gather(*(worker.command(name, payload) for worker, payload in orders)))
        errors = [r["error"] for r in replies if "error" in r]
        if errors:
            raise HttpError(500, f"a worker refused {name}: {errors[0]}")
        return replies


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses (where /control is safe by default)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
