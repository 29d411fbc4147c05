from django import template
from django.utils.formats import number_format

register = template.Library()


@register.filter
def number(value) -> str:
    """An integer with the active locale's grouping (1,204)."""
    return number_format(value, force_grouping=True)


@register.filter
def duration(seconds) -> str:
    """Seconds as H:MM:SS (or M:SS under an hour)."""
    try:
        total = int(seconds or 0)
    except (TypeError, ValueError):
        return ""
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
