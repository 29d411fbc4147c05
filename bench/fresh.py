"""Measurements in a fresh Python process: memory a piece of work takes is read from the
kernel's counters of a process that did nothing else first (the peak is reset just before the
work: Linux's /proc/self/clear_refs), so start-up allocations do not hide it."""

import os
import subprocess
import sys
import textwrap

from django.conf import settings

PRELUDE = '''
import os, django
os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
django.setup()

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1])

def reset_peak():
    """Reset the peak RSS; returns the RSS now (KiB)."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    return status("VmRSS:")

def peak_growth_mib(before):
    return (status("VmHWM:") - before) / 1024
'''


def run_fresh(body: str) -> list[str]:
    """Run `body` (Python, after the prelude above) in a fresh process; returns the fields of
    the last line it prints."""
    out = subprocess.run(
        [sys.executable, "-c", PRELUDE + textwrap.dedent(body)],
        capture_output=True,
        text=True,
        check=True,
        env=os.environ.copy(),
        cwd=settings.BASE_DIR,
    )
    return out.stdout.strip().splitlines()[-1].split()
