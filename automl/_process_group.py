"""Which processes of a process group are left (used to stop a server and everything it started).

Example:
    >>> import os
    >>> group_exists(os.getpgrp()) and os.getpid() in live_members(os.getpgrp())
    True
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["group_exists", "live_members"]


def group_exists(pgid: int) -> bool:
    """Whether ``os.killpg(pgid, 0)`` finds any process, zombies included."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover
        return True
    return True


def live_members(pgid: int) -> list[int]:
    """Non-zombie processes of group ``pgid`` per /proc; ``[pgid]`` where /proc is unavailable."""
    proc = Path("/proc")
    if not (proc / "self" / "stat").exists():  # pragma: no cover - not Linux: trust killpg
        return [pgid]
    members = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()  # state, ppid, pgrp, ...
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            members.append(int(entry.name))
    return members
