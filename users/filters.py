"""The User List's search and filters, shared by the list, the CSV export and list_users."""

from urllib.parse import urlencode

from django import forms
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy

from accounts.filtering import ValidValuesMixin
from accounts.models import User
from accounts.pagination import DEFAULT_PAGE_SIZE, PAGE_SIZES
from accounts.validators import validate_no_surrogates
from permissions import catalog

from . import selectors

# Longer search terms are cut to this (no login ID, name or extension is longer).
SEARCH_MAX_LENGTH = 254


class UserFilterForm(ValidValuesMixin, forms.Form):
    # Django's CharField refuses a NUL; a lone surrogate is refused too: an invalid value is
    # dropped (value() below), never sent to the database.
    q = forms.CharField(
        label=gettext_lazy("Search"), required=False, validators=[validate_no_surrogates]
    )
    role = forms.ChoiceField(
        label=gettext_lazy("Role"),
        required=False,
        choices=[("", gettext_lazy("All roles")), *User.Role.choices],
    )
    status = forms.ChoiceField(
        label=gettext_lazy("Status"),
        required=False,
        choices=[
            ("", gettext_lazy("All statuses")),
            ("active", gettext_lazy("Active")),
            ("inactive", gettext_lazy("Deactivated")),
        ],
    )
    service = forms.ChoiceField(label=gettext_lazy("Service"), required=False)
    idle = forms.ChoiceField(
        label=gettext_lazy("Last sign-in"),
        required=False,
        choices=[
            ("", gettext_lazy("Any time")),
            *(
                (str(days), format_lazy(gettext_lazy("No sign-in for {days} days"), days=days))
                for days in selectors.IDLE_DAYS
            ),
            (selectors.NEVER, gettext_lazy("Never signed in")),
        ],
    )
    sort = forms.ChoiceField(
        required=False, choices=[(k, k) for k in selectors.SORTS], widget=forms.HiddenInput
    )
    dir = forms.ChoiceField(
        required=False, choices=[("asc", "asc"), ("desc", "desc")], widget=forms.HiddenInput
    )
    per_page = forms.TypedChoiceField(
        label=gettext_lazy("Per page"),
        required=False,
        coerce=int,
        choices=[(n, str(n)) for n in PAGE_SIZES],
        empty_value=DEFAULT_PAGE_SIZE,
    )
    page = forms.IntegerField(required=False, min_value=1, max_value=10**6)
    # Keyset cursors of the Next / Previous links (signed; a tampered one is ignored).
    after = forms.CharField(required=False, max_length=1000, widget=forms.HiddenInput)
    before = forms.CharField(required=False, max_length=1000, widget=forms.HiddenInput)

    def __init__(self, *args, organization, **kwargs):
        super().__init__(*args, **kwargs)
        contract = organization.contract
        self.fields["service"].choices = [
            ("", gettext_lazy("All services")),
            (catalog.ADMIN, catalog.get(catalog.ADMIN).label),
            *[(s.code, s.label) for s in catalog.GRANTABLE if contract.has_service(s.code)],
        ]

    def value(self, name: str, default=""):
        """The valid value of one parameter, or `default` (never a 500)."""
        return self.values().get(name, default)


# The parameters that narrow the list (the others only order or page it).
NARROWING = ("q", "role", "status", "service", "idle")


def is_filtered(params: dict) -> bool:
    return any(params.get(name) for name in NARROWING)


def list_params(filters: UserFilterForm) -> dict:
    return {
        "q": filters.value("q")[:SEARCH_MAX_LENGTH],
        "role": filters.value("role"),
        "status": filters.value("status"),
        "service": filters.value("service"),
        "idle": filters.value("idle"),
        "sort": filters.value("sort", "name"),
        "dir": filters.value("dir", "asc"),
        "per_page": filters.value("per_page", DEFAULT_PAGE_SIZE),
    }


def query_string(params: dict, **overrides) -> str:
    merged = {**params, **overrides}
    defaults = {"sort": "name", "dir": "asc", "per_page": DEFAULT_PAGE_SIZE, "page": 1}
    return urlencode({k: v for k, v in merged.items() if v not in ("", None, defaults.get(k))})
