from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.access import admin_required
from accounts.pagination import page_links, paginate

from . import presenters
from .filters import AuditFilterForm, chosen_user, filtered_events

PER_PAGE = 50


@admin_required
@require_GET
def audit_event_list(request: HttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET or None)
    values = form.values()
    organization = request.organization
    user = chosen_user(organization=organization, values=values)
    page = paginate(
        filtered_events(organization=organization, values=values, user=user),
        page=values.get("page", 1),
        per_page=PER_PAGE,
    )
    params = {k: v for k, v in values.items() if k != "page"}
    return render(
        request,
        "audit/audit_list.html",
        {
            "form": form,
            **page_links(page, lambda n: "?" + urlencode({**params, "page": n})),
            "rows": presenters.rows(page.rows),
            "export_qs": urlencode(
                {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in params.items()}
            ),
            "chosen_user": user,
            "without_user": "?" + urlencode({k: v for k, v in params.items() if k != "user"}),
            "nav_section": "audit",
        },
    )
