"""A machine-wide bound on concurrent password hashing at sign-in.

Each argon2 verification takes ~16 ms of one core. Sixteen clients signing in at once would
take every core from every worker and the User List would queue behind them. Hashes therefore
take one of LOGIN_HASH_CONCURRENCY slots, shared by every gunicorn worker process and thread on
the machine (an flock on one of N files): sign-ins queue for a slot, the other cores keep
serving pages. A locked-out attempt never gets here (django-axes refuses it first)."""

import contextlib
import fcntl
import os
import random
import tempfile
from pathlib import Path

from django.conf import settings


def _slot_paths() -> list[Path]:
    base = Path(getattr(settings, "LOGIN_HASH_SLOT_DIR", "") or tempfile.gettempdir())
    base = base / "miitel-hash-slots"
    base.mkdir(mode=0o700, exist_ok=True)
    count = max(1, int(settings.LOGIN_HASH_CONCURRENCY))
    return [base / f"slot-{i}" for i in range(count)]


@contextlib.contextmanager
def hash_slot():
    if not settings.LOGIN_HASH_CONCURRENCY:
        yield
        return
    paths = _slot_paths()
    handles = []
    try:
        for path in paths:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            handles.append(fd)
            break
        if not handles:
            fd = os.open(random.choice(paths), os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX)
            handles.append(fd)
        yield
    finally:
        for fd in handles:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
