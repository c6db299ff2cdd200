"""One collection per month at a time, across workers: a lease row in the database.

Works with or without Prefect. The holder is ``host:pid:token``; a lease
whose holder process is gone (same host, pid not alive) or whose time is
up is taken over, so a worker killed mid-run never blocks the rerun.
"""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass
from datetime import date

from newsletter.errors import UserError
from newsletter.store import Store, acquire_lease, lease_holder, release_lease

LEASE_SECONDS = 6 * 3600  # longer than any monthly run


class LeaseTaken(UserError):
    pass


def _holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def holder_is_gone(holder: str) -> bool:
    """True when ``holder`` names a process of this host that no longer runs."""
    host, _, rest = holder.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


@dataclass
class Lease:
    store: Store
    name: str
    holder: str

    def release(self) -> bool:
        return release_lease(self.store, self.name, self.holder)


def hold_collection(store: Store, month: date, *, seconds: float = LEASE_SECONDS) -> Lease:
    """Take the month's collection lease, or raise LeaseTaken naming who has it."""
    name = f"collect:{month:%Y-%m}"
    holder = _holder()
    if acquire_lease(store, name, holder, seconds, stale=holder_is_gone) is None:
        current = lease_holder(store, name)
        who = f"{current[0]} until {current[1]:%Y-%m-%d %H:%M} UTC" if current else "another run"
        raise LeaseTaken(f"the collection of {month:%Y-%m} is already running ({who}); not starting a second one")
    return Lease(store, name, holder)


def release_own_collections(store: Store) -> int:
    """Release the collection leases this process holds (a failed run's hook)."""
    from sqlalchemy import delete

    from newsletter.store import leases

    prefix = f"{socket.gethostname()}:{os.getpid()}:"
    with store.engine.begin() as conn:
        res = conn.execute(delete(leases).where(leases.c.name.like("collect:%"), leases.c.holder.like(prefix + "%")))
    return res.rowcount
