"""Forms read what was posted. The rules of users and services live in the change service
(users.changes), on every channel alike."""

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.forms import PasswordChangeForm as DjangoPasswordChangeForm
from django.contrib.auth.forms import SetPasswordForm as DjangoSetPasswordForm
from django.core.exceptions import ValidationError
from django.utils.functional import lazy
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.dates import SCHEDULE_INPUT, parse_schedule, schedule_text
from accounts.fields import DEFAULT_TIME_ZONE, FIELD_LABELS, NEW_USER_DEFAULTS, USER_FIELDS
from accounts.models import Organization, User
from accounts.validators import LOGIN_ID_SYMBOLS, PublishedPasswordRuleValidator, offered_time_zones
from permissions import catalog
from permissions.services import Grants, field_name

from .changes import Change, problem_message


def _time_zone_choices(current: str | None = None) -> list[tuple[str, str]]:
    zones = offered_time_zones()
    if current and current not in zones:
        zones = [current, *zones]
    return [(z, _time_zone_label(z)) for z in zones]


def _time_zone_label(zone: str) -> str:
    if zone == DEFAULT_TIME_ZONE:
        return _("(GMT+9) Japan Standard Time — Tokyo")
    return zone


class UserForm(forms.Form):
    """Add or edit a user: the fields of docs/rules.md, then the contract's services.

    The form only reads what was posted; every rule (required fields, formats, choices,
    passwords, services, seats, uniqueness, yourself, the last admin) is the change service's
    (users.changes), whose problems come back onto the fields here. So a rule has one home and
    one message on every channel. Fields marked `mandatory` show the required marker."""

    login_id = forms.CharField(label=FIELD_LABELS["login_id"], required=False)
    name = forms.CharField(label=FIELD_LABELS["name"], required=False)
    password = forms.CharField(
        label=FIELD_LABELS["password"],
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}, render_value=False),
        help_text=lazy(PublishedPasswordRuleValidator().get_help_text, str)(),
    )
    locale = forms.CharField(
        label=FIELD_LABELS["locale"], required=False, widget=forms.Select(choices=[])
    )
    time_zone = forms.CharField(
        label=FIELD_LABELS["time_zone"], required=False, widget=forms.Select(choices=[])
    )
    role = forms.CharField(
        label=FIELD_LABELS["role"],
        required=False,
        widget=forms.RadioSelect(choices=[]),
        help_text=gettext_lazy("Admins can open MiiTel Admin and manage users."),
    )
    extension = forms.CharField(
        label=FIELD_LABELS["extension"],
        required=False,
        help_text=gettext_lazy("Optional. 3 to 6 digits, unique in your organization."),
    )
    is_active = forms.BooleanField(label=FIELD_LABELS["is_active"], required=False)
    # A date and time in the organization's time zone (blank: none; clearing it cancels).
    deactivate_at = forms.CharField(
        label=FIELD_LABELS["deactivate_at"],
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=SCHEDULE_INPUT),
    )
    # The version of the user the edit page was opened on (users.changes refuses a stale one).
    version = forms.IntegerField(required=False, widget=forms.HiddenInput, min_value=0)

    def __init__(
        self,
        *args,
        organization: Organization,
        instance: User | None = None,
        grants: Grants | None = None,
        **kwargs,
    ):
        self.organization = organization
        self.instance = instance
        if instance is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                **{key: getattr(instance, key) for key in USER_FIELDS},
                "deactivate_at": schedule_text(instance.deactivate_at, organization),
                "version": instance.version,
                **_grants_initial(grants or {}),
            }
        kwargs.setdefault("initial", {})
        for key in ("locale", "time_zone", "role"):
            kwargs["initial"].setdefault(key, NEW_USER_DEFAULTS[key])
        super().__init__(*args, **kwargs)
        self.fields["locale"].widget.choices = User.Locale.choices
        self.fields["role"].widget.choices = User.Role.choices
        self.fields["time_zone"].widget.choices = _time_zone_choices(
            instance.time_zone if instance else None
        )
        self.fields["login_id"].help_text = format_lazy(
            "{} {}",
            gettext_lazy(
                "An email address, or an ID in email format. Letters, digits and these symbols:"
            ),
            " ".join(LOGIN_ID_SYMBOLS),
        )
        self.fields["login_id"].widget.attrs.update(
            {"autocomplete": "off", "spellcheck": "false", "autocapitalize": "none"}
        )
        self.fields["name"].help_text = gettext_lazy(
            "Shown on the dashboard, call history and MiiTel Phone. Up to 30 characters."
        )
        for key in ("login_id", "name", "locale", "time_zone", "role"):
            self.fields[key].mandatory = True
        self.fields["deactivate_at"].help_text = _(
            "Optional. The user is deactivated at this time (%(zone)s time) and signed out "
            "everywhere. Clear it to cancel."
        ) % {"zone": organization.time_zone}
        if instance is None:
            del self.fields["is_active"]
            del self.fields["version"]
            del self.fields["deactivate_at"]
            self.fields["password"].mandatory = True
        else:
            self.fields["password"].label = gettext_lazy("New temporary password")
            self.fields["password"].help_text = gettext_lazy(
                "Leave blank to keep the current password. A new one is temporary: the user "
                "must change it at next sign-in, and is signed out everywhere now."
            )
        contract = organization.contract
        for service in catalog.GRANTABLE:
            if not contract.has_service(service.code):
                continue
            name = field_name(service.code)
            if service.has_levels:
                self.fields[name] = forms.CharField(
                    label=service.label,
                    required=False,
                    initial=service.levels[0].value,
                    widget=forms.Select(choices=[(lvl.value, lvl.label) for lvl in service.levels]),
                )
            else:
                self.fields[name] = forms.BooleanField(label=service.label, required=False)
            if service.requires:
                self.fields[name].help_text = _("Requires %(services)s.") % {
                    "services": ", ".join(catalog.get(code).label for code in service.requires)
                }
            if service.seat_limited and contract.seat_limit(service.code) is not None:
                self.fields[name].help_text = _("Limited to the seats in your contract.")

    def clean_deactivate_at(self):
        text = self.cleaned_data.get("deactivate_at", "").strip()
        if not text:
            return None
        current = self.instance.deactivate_at if self.instance is not None else None
        if current is not None and text == schedule_text(current, self.organization):
            return current  # shown to the minute: unchanged, whatever its seconds
        moment = parse_schedule(text, self.organization)
        if moment is None:
            raise ValidationError(
                _("Enter the date and time as YYYY-MM-DD HH:MM, such as %(example)s.")
                % {"example": "2026-12-31 18:00"},
                code="deactivate_at_invalid",
            )
        return moment

    def grants(self, current: Grants | None = None) -> Grants:
        """The services chosen on the form, plus the user's `current` grants of services the
        form does not offer (no longer in the contract): those are kept, never silently
        dropped."""
        grants: Grants = {
            code: level
            for code, level in (current or {}).items()
            if field_name(code) not in self.fields
        }
        for service in catalog.GRANTABLE:
            name = field_name(service.code)
            if name not in self.fields:
                continue
            value = self.cleaned_data.get(name)
            if service.has_levels:
                if value:
                    grants[service.code] = value
            elif value:
                grants[service.code] = ""
        return grants

    def change(self, *, current_grants: Grants | None = None) -> Change:
        """What was posted, as a proposed change (call is_valid() first)."""
        data = self.cleaned_data
        fields = {key: data[key] for key in USER_FIELDS if key in self.fields}
        if "deactivate_at" in self.fields and "deactivate_at" in data:
            fields["deactivate_at"] = data["deactivate_at"]
        return Change(
            user_id=self.instance.pk if self.instance is not None else None,
            fields=fields,
            grants=self.grants(current=current_grants),
            password=data.get("password") or None,
            version=data.get("version") if self.instance is not None else None,
        )

    def add_problems(self, problems) -> None:
        """The change service's problems onto the fields they name (or the whole form)."""
        for problem in problems:
            key = problem.field if problem.field in self.fields else None
            if key == "version":
                key = None
            self.add_error(key, ValidationError(problem_message(problem), code=problem.code))

    def service_groups(self):
        """Service fields grouped for the template: [(group label, [bound fields])]."""
        titles = {
            "phone": _("MiiTel Phone"),
            "analytics": _("MiiTel Analytics features"),
            "meetings": _("Meetings"),
        }
        groups: dict[str, list] = {}
        for service in catalog.GRANTABLE:
            name = field_name(service.code)
            if name in self.fields:
                groups.setdefault(service.group, []).append(self[name])
        return [(titles[g], fields) for g, fields in groups.items()]


def _grants_initial(grants: Grants) -> dict:
    initial = {}
    for code, level in grants.items():
        service = catalog.BY_CODE.get(code)
        if service is None:
            continue
        initial[field_name(code)] = level if service.has_levels else True
    return initial


class LoginForm(AuthenticationForm):
    """Sign-in by login ID. One message for every refusal (unknown ID, wrong password,
    deactivated or deleted user), so the page tells an attacker nothing."""

    error_messages = {
        "invalid_login": gettext_lazy(
            "The login ID or password is incorrect, or the account cannot sign in."
        ),
        "inactive": gettext_lazy(
            "The login ID or password is incorrect, or the account cannot sign in."
        ),
    }

    def __init__(self, request=None, *args, **kwargs):
        super().__init__(request, *args, **kwargs)
        self.fields["username"].label = FIELD_LABELS["login_id"]
        self.fields["username"].widget.attrs.update(
            {"autocomplete": "username", "spellcheck": "false", "autocapitalize": "none"}
        )
        self.fields["password"].label = gettext_lazy("Password")


class PasswordChangeForm(DjangoPasswordChangeForm):
    """The user's own new password: the published rule, and not the current one."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["old_password"].label = gettext_lazy("Current password")
        self.fields["new_password1"].help_text = PublishedPasswordRuleValidator().get_help_text()

    def clean(self):
        # Django's SetPasswordForm.clean() reports the password rules under the confirmation
        # field; they are about the new password, so they are reported under it.
        self.validate_passwords("new_password1", "new_password2")
        self.validate_password_for_user(self.user, "new_password1")
        cleaned = super(DjangoSetPasswordForm, self).clean()
        password = cleaned.get("new_password1")
        old = cleaned.get("old_password")
        if password and old and password == old:
            self.add_error(
                "new_password1",
                ValidationError(
                    _("The new password must be different from the current one."),
                    code="password_unchanged",
                ),
            )
        return cleaned
