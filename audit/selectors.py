from datetime import date, datetime, time

from django.db.models import Q, QuerySet
from django.utils import timezone

from .models import AuditEvent


def audit_list(
    *,
    organization,
    actor: str = "",
    target: str = "",
    user_id: int | None = None,
    action: str = "",
    date_from: date | None = None,
    date_to: date | None = None,
) -> QuerySet[AuditEvent]:
    qs = AuditEvent.objects.filter(organization=organization)
    if actor:
        qs = qs.filter(actor_label__icontains=actor)
    if target:
        # The login ID recorded then, or the user's name (a deleted user keeps it).
        qs = qs.filter(Q(target_label__icontains=target) | Q(target__name__icontains=target))
    if user_id is not None:
        qs = qs.filter(target_id=user_id)
    if action in AuditEvent.Action.values:
        qs = qs.filter(action=action)
    tz = timezone.get_current_timezone()
    if date_from:
        qs = qs.filter(created_at__gte=datetime.combine(date_from, time.min, tzinfo=tz))
    if date_to:
        qs = qs.filter(created_at__lte=datetime.combine(date_to, time.max, tzinfo=tz))
    return qs.select_related("actor", "target").order_by("-created_at", "-id")
