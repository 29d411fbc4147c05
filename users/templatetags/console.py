from django import template
from django.utils.formats import number_format

register = template.Library()

# Short visible marks for the service icons of the User List (the full label is read out).
_ABBR = {
    "monitoring": "Mon",
    "phone": "☎",
    "phone_mobile": "Mob",
    "call_history": "CH",
    "dashboard": "DB",
    "video_analytics": "VA",
    "fulltext_search": "FT",
    "funnel": "FN",
    "video_dashboard": "VD",
    "meeting_access": "MA",
}


@register.filter
def service_abbr(code: str) -> str:
    return _ABBR.get(code, code[:2].upper())


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
