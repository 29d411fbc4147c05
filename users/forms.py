"""Forms parse, validate and normalise; services write. Commands and the CSV import bind these
same forms, so a rule has one home."""

from django import forms
from django.contrib.auth import password_validation
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.forms import PasswordChangeForm as DjangoPasswordChangeForm
from django.contrib.auth.forms import SetPasswordForm as DjangoSetPasswordForm
from django.core.exceptions import ValidationError
from django.utils.functional import lazy
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import Organization, User
from accounts.validators import (
    FIELD_LABELS,
    LOGIN_ID_SYMBOLS,
    PublishedPasswordRuleValidator,
    normalize_user_name,
    offered_time_zones,
    validate_extension,
    validate_login_id,
    validate_user_name,
)
from permissions import catalog
from permissions.services import Grants, field_name


class LoginIdField(forms.CharField):
    default_validators = [validate_login_id]

    def __init__(self, **kwargs):
        kwargs.setdefault("label", FIELD_LABELS["login_id"])
        kwargs.setdefault(
            "help_text",
            format_lazy(
                "{} {}",
                gettext_lazy(
                    "An email address, or an ID in email format. Letters, digits and these symbols:"
                ),
                " ".join(LOGIN_ID_SYMBOLS),
            ),
        )
        super().__init__(**kwargs)
        self.widget.attrs.update(
            {"autocomplete": "off", "spellcheck": "false", "autocapitalize": "none"}
        )


class UserNameField(forms.CharField):
    default_validators = [validate_user_name]

    def __init__(self, **kwargs):
        kwargs.setdefault("label", FIELD_LABELS["name"])
        kwargs.setdefault(
            "help_text",
            gettext_lazy(
                "Shown on the dashboard, call history and MiiTel Phone. Up to 30 characters."
            ),
        )
        super().__init__(**kwargs)

    def to_python(self, value):
        value = super().to_python(value)
        return normalize_user_name(value) if value else value


def _time_zone_choices(current: str | None = None) -> list[tuple[str, str]]:
    zones = offered_time_zones()
    if current and current not in zones:
        zones = [current, *zones]
    return [(z, _time_zone_label(z)) for z in zones]


def _time_zone_label(zone: str) -> str:
    if zone == "Asia/Tokyo":
        return _("(GMT+9) Japan Standard Time — Tokyo")
    return zone


class UserForm(forms.Form):
    """Add or edit a user: the fields of product.md §2, then the contract's services."""

    login_id = LoginIdField()
    name = UserNameField()
    password = forms.CharField(
        label=FIELD_LABELS["password"],
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}, render_value=False),
        help_text=lazy(PublishedPasswordRuleValidator().get_help_text, str)(),
    )
    locale = forms.ChoiceField(label=FIELD_LABELS["locale"], choices=User.Locale.choices)
    time_zone = forms.ChoiceField(label=FIELD_LABELS["time_zone"])
    role = forms.ChoiceField(
        label=FIELD_LABELS["role"],
        choices=User.Role.choices,
        widget=forms.RadioSelect,
        help_text=gettext_lazy("Admins can open MiiTel Admin and manage users."),
    )
    extension = forms.CharField(
        label=FIELD_LABELS["extension"],
        required=False,
        validators=[validate_extension],
        help_text=gettext_lazy("Optional. 3 to 6 digits, unique in your organization."),
    )
    is_active = forms.BooleanField(label=FIELD_LABELS["is_active"], required=False)

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
                "login_id": instance.login_id,
                "name": instance.name,
                "locale": instance.locale,
                "time_zone": instance.time_zone,
                "role": instance.role,
                "extension": instance.extension,
                "is_active": instance.is_active,
                **_grants_initial(grants or {}),
            }
        kwargs.setdefault("initial", {})
        kwargs["initial"].setdefault("time_zone", "Asia/Tokyo")
        kwargs["initial"].setdefault("locale", User.Locale.JAPANESE)
        kwargs["initial"].setdefault("role", User.Role.MEMBER)
        super().__init__(*args, **kwargs)
        self.fields["time_zone"].choices = _time_zone_choices(
            instance.time_zone if instance else None
        )
        if instance is None:
            del self.fields["is_active"]
        else:
            self.fields["password"].required = False
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
                self.fields[name] = forms.ChoiceField(
                    label=service.label,
                    choices=[(lvl.value, lvl.label) for lvl in service.levels],
                    initial=service.levels[0].value,
                    required=False,
                )
            else:
                self.fields[name] = forms.BooleanField(label=service.label, required=False)
            if service.requires:
                self.fields[name].help_text = _("Requires %(services)s.") % {
                    "services": ", ".join(catalog.get(code).label for code in service.requires)
                }
            if service.seat_limited and contract.seat_limit(service.code) is not None:
                self.fields[name].help_text = _("Limited to the seats in your contract.")
        name_field_errors(self)

    def _post_clean(self):
        super()._post_clean()
        password = self.cleaned_data.get("password")
        if password:
            # Similarity is checked against the values being saved, not the old ones.
            probe = User(
                organization=self.organization,
                login_id=self.cleaned_data.get("login_id", ""),
                name=self.cleaned_data.get("name", ""),
            )
            try:
                password_validation.validate_password(password, probe)
            except ValidationError as error:
                self.add_error("password", error)

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
                if value and value != service.levels[0].value:
                    grants[service.code] = value
            elif value:
                grants[service.code] = ""
        return grants

    def user_data(self) -> dict:
        data = {
            key: self.cleaned_data[key]
            for key in ("login_id", "name", "locale", "time_zone", "role", "extension")
        }
        if "is_active" in self.fields:
            data["is_active"] = self.cleaned_data["is_active"]
        return data

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

    def add_service_error(self, error: ValidationError) -> None:
        """Attach a service-layer ValidationError to the fields it names (or the form)."""
        if hasattr(error, "error_dict"):
            for key, errors in error.error_dict.items():
                self.add_error(key if key in self.fields else None, errors)
        else:
            self.add_error(None, error)


def name_field_errors(form: forms.Form) -> None:
    """Default messages that name their field ("User name is required.")."""
    for field in form.fields.values():
        label = field.label
        field.error_messages["required"] = format_lazy(
            gettext_lazy("{label} is required."), label=label
        )
        if "invalid_choice" in field.error_messages:
            field.error_messages["invalid_choice"] = format_lazy(
                gettext_lazy("{label}: “%(value)s” is not one of the offered choices."),
                label=label,
            )


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
