"""What a process actually read, for tests that prove work was not done."""

from __future__ import annotations


def rchar() -> int:
    """Bytes this process has read so far by any read(): files, pipes, sockets."""
    with open("/proc/self/io") as io:
        return int(next(line for line in io if line.startswith("rchar:")).split()[1])


def bytes_read(action):
    """(result, bytes this process read while `action` ran)."""
    before = rchar()
    result = action()
    return result, rchar() - before
