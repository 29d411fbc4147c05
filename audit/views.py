from datetime import date
from urllib.parse import urlencode

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from accounts.access import admin_required
from accounts.pagination import paginate
from accounts.validators import validate_no_surrogates

from .models import AuditEvent
from .selectors import audit_list

PER_PAGE = 50


class AuditFilterForm(forms.Form):
    # An invalid value (a NUL, a lone surrogate) is a form error and is dropped from the query.
    actor = forms.CharField(label=_("Actor"), required=False, validators=[validate_no_surrogates])
    target = forms.CharField(
        label=_("Target user"), required=False, validators=[validate_no_surrogates]
    )
    action = forms.ChoiceField(
        label=_("Action"),
        required=False,
        choices=[("", _("All actions")), *AuditEvent.Action.choices],
    )
    date_from = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    page = forms.IntegerField(required=False, min_value=1, max_value=10**6)

    def _clean_date(self, name):
        value = self.cleaned_data.get(name)
        if value is not None and not (date(2000, 1, 1) <= value <= date(2099, 12, 31)):
            raise forms.ValidationError(
                _("%(label)s must be a date between 2000-01-01 and 2099-12-31.")
                % {"label": self.fields[name].label}
            )
        return value

    def clean_date_from(self):
        return self._clean_date("date_from")

    def clean_date_to(self):
        return self._clean_date("date_to")


@admin_required
@require_GET
def audit_event_list(request: HttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET or None)
    values = {}
    if form.is_bound:
        form.is_valid()
        values = {
            k: v
            for k, v in form.cleaned_data.items()
            if v not in (None, "") and k not in form.errors
        }
    qs = audit_list(
        organization=request.organization,
        # Longer terms are cut: no actor or target label is longer, so nothing is lost.
        actor=values.get("actor", "")[:300],
        target=values.get("target", "")[:300],
        action=values.get("action", ""),
        date_from=values.get("date_from"),
        date_to=values.get("date_to"),
    )
    page = paginate(qs, page=values.get("page", 1), per_page=PER_PAGE)
    params = {k: v for k, v in values.items() if k != "page"}

    def url(n):
        return "?" + urlencode({**params, "page": n})

    return render(
        request,
        "audit/audit_list.html",
        {
            "form": form,
            "page": page,
            "events": page.rows,
            "page_urls": [(n, url(n) if n else None) for n in page.page_links()],
            "prev_url": url(page.number - 1),
            "next_url": url(page.number + 1),
            "nav_section": "audit",
        },
    )
