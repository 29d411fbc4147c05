"""Dates in Django's format strings, fast: a format is parsed once into a function, instead of
once per date (Django's dateformat also looks up the translated month names every call). For
pages that show a date per row (the User List: 50 per page)."""

from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from django.utils.dateformat import format as django_format
from django.utils.dates import MONTHS_3

# Format characters handled here; any other makes the formatter fall back to Django's.
_PARTS: dict[str, Callable[[datetime], str]] = {
    "Y": lambda d: f"{d.year:04d}",
    "y": lambda d: f"{d.year % 100:02d}",
    "m": lambda d: f"{d.month:02d}",
    "n": lambda d: str(d.month),
    "d": lambda d: f"{d.day:02d}",
    "j": lambda d: str(d.day),
    "H": lambda d: f"{d.hour:02d}",
    "G": lambda d: str(d.hour),
    "i": lambda d: f"{d.minute:02d}",
    "s": lambda d: f"{d.second:02d}",
}


def formatter(fmt: str) -> Callable[[datetime], str]:
    """A function giving what django.utils.dateformat.format(value, fmt) gives, in the active
    language (month names are read now, once)."""
    pieces: list = []
    escaped = False
    for char in fmt:
        if escaped:
            pieces.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char in _PARTS:
            pieces.append(_PARTS[char])
        elif char == "M":
            months = {n: str(name).title() for n, name in MONTHS_3.items()}
            pieces.append(lambda d, months=months: months[d.month])
        elif char.isalpha():
            return lambda value: django_format(value, fmt)
        else:
            pieces.append(char)

    def format_date(value: datetime) -> str:
        return "".join(p if isinstance(p, str) else p(value) for p in pieces)

    return format_date


# --- Scheduled deactivations: typed and shown in the organization's time zone ----------------

SCHEDULE_INPUT = "%Y-%m-%dT%H:%M"
_SCHEDULE_FORMATS = (SCHEDULE_INPUT, "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y/%m/%d %H:%M")


def parse_schedule(text: str, organization) -> datetime | None:
    """A date and time typed for a scheduled deactivation, read in the organization's time zone
    (None when it is not one). A time that the clocks skip (a DST gap) moves forward, as
    zoneinfo reads it."""
    for pattern in _SCHEDULE_FORMATS:
        try:
            naive = datetime.strptime(text[:40], pattern)
        except ValueError:
            continue
        return naive.replace(tzinfo=ZoneInfo(organization.time_zone))
    return None


def schedule_text(moment: datetime | None, organization) -> str:
    """A scheduled time as the form's input shows it, in the organization's time zone."""
    if moment is None:
        return ""
    return moment.astimezone(ZoneInfo(organization.time_zone)).strftime(SCHEDULE_INPUT)
