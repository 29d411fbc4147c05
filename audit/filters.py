"""The audit log's filters, shared by the page and its CSV download (so the file always holds
what the page lists)."""

from datetime import date

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.filtering import ValidValuesMixin
from accounts.models import User
from accounts.validators import validate_no_surrogates

from .models import AuditEvent
from .selectors import audit_list


class AuditFilterForm(ValidValuesMixin, forms.Form):
    # An invalid value (a NUL, a lone surrogate) is a form error and is dropped from the query.
    actor = forms.CharField(label=_("Actor"), required=False, validators=[validate_no_surrogates])
    target = forms.CharField(
        label=_("Target user"), required=False, validators=[validate_no_surrogates]
    )
    # The user acted on, by ID (the links in the Target column); other organizations' IDs
    # match nothing.
    user = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)
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


def filtered_events(*, organization, values: dict, user: User | None):
    """The organization's events the filter values select, newest first; `user`: the one
    chosen_user() found (an ID of another organization, or none at all, filters nothing)."""
    return audit_list(
        organization=organization,
        # Longer terms are cut: no actor or target label is longer, so nothing is lost.
        actor=values.get("actor", "")[:300],
        target=values.get("target", "")[:300],
        user_id=user.pk if user is not None else None,
        action=values.get("action", ""),
        date_from=values.get("date_from"),
        date_to=values.get("date_to"),
    )


def chosen_user(*, organization, values: dict) -> User | None:
    """The user the log is filtered to, when they are of this organization (deleted or not)."""
    if not values.get("user"):
        return None
    return User.all_objects.filter(organization=organization, pk=values["user"]).first()
