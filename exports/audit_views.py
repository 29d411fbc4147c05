"""Download the audit log as CSV: the events the audit page lists (its filters come along),
in an encoding the admin chooses, streamed."""

from urllib.parse import urlencode

from django import forms
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from accounts.access import admin_required
from audit.filters import AuditFilterForm, chosen_user, filtered_events
from audit.models import AuditEvent
from audit.presenters import AUDIT_LOG_EXPORT
from audit.services import Actor, audit_record

from . import csv_format, limits
from .audit_log import audit_log_bytes, unencodable


class AuditExportForm(forms.Form):
    encoding = forms.ChoiceField(
        label=_("Encoding"),
        choices=list(csv_format.ENCODINGS.items()),
        initial="utf-8-sig",
        widget=forms.RadioSelect,
        help_text=_(
            "UTF-8 with BOM opens correctly in current Excel. Choose Shift_JIS for older Excel "
            "on Japanese Windows."
        ),
    )


def _too_busy(request: HttpRequest) -> HttpResponse:
    response = render(request, "errors/429_busy.html", status=429)
    response["Retry-After"] = "30"
    return response


@admin_required
@require_http_methods(["GET", "POST"])
def audit_export(request: HttpRequest) -> HttpResponse:
    """GET: choose the encoding (the audit page's filters come in the query string). POST: the
    file, streamed; refused before any byte when an entry does not fit the encoding."""
    organization = request.organization
    filters = AuditFilterForm(request.POST if request.method == "POST" else request.GET)
    values = filters.values()
    values.pop("page", None)
    user = chosen_user(organization=organization, values=values)
    events = filtered_events(organization=organization, values=values, user=user)
    params = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in values.items()}
    form = AuditExportForm(request.POST or None)
    context = {"language": get_language(), "zone": timezone.get_current_timezone()}
    problems, problem_count = [], 0
    if request.method == "POST" and form.is_valid():
        encoding = form.cleaned_data["encoding"]
        problems, problem_count = unencodable(events, encoding, **context)
        if not problems:
            try:
                body = limits.streaming(
                    organization, "export", audit_log_bytes(events, encoding, **context)
                )
            except limits.TooManyTransfers:
                return _too_busy(request)
            audit_record(
                actor=Actor.from_request(request),
                action=AuditEvent.Action.EXPORT,
                organization=organization,
                detail=f"{AUDIT_LOG_EXPORT} encoding={encoding}",
            )
            response = StreamingHttpResponse(
                body, content_type=f"text/csv; charset={csv_format.CHARSETS[encoding]}"
            )
            response["Content-Disposition"] = 'attachment; filename="audit-log.csv"'
            response["Cache-Control"] = "no-store"
            return response
    return render(
        request,
        "exports/audit_export.html",
        {
            "form": form,
            "params": params,
            "audit_qs": urlencode(params),
            "chosen_user": user,
            "count": events.count(),
            "problems": problems,
            "more_problems": problem_count - len(problems),
            "problem_count": problem_count,
            "nav_section": "audit",
        },
        status=400 if problems else 200,
    )
