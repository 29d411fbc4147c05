"""Forms of the sign-in steps, the security page and the MFA policy. They parse and validate;
mfa.services writes and mfa.flow checks passwords."""

import unicodedata

from django import forms
from django.utils.translation import gettext_lazy as _

from . import passkeys, recovery, totp
from .models import FACTOR_NAME_MAX_LENGTH


def _no_control_characters(value: str) -> None:
    if any(unicodedata.category(c) in ("Cc", "Cf") for c in value):
        raise forms.ValidationError(
            _("%(field)s cannot contain control characters."),
            code="control_characters",
            params={"field": _("Name")},
        )


class TOTPCodeField(forms.CharField):
    def __init__(self, **kwargs):
        kwargs.setdefault("label", _("6-digit code"))
        kwargs.setdefault("max_length", 20)
        kwargs.setdefault(
            "error_messages",
            {
                "required": _("Enter the 6-digit code from your authenticator app."),
                "max_length": _("The code is the 6 digits your authenticator app shows."),
            },
        )
        super().__init__(**kwargs)
        self.widget.attrs.update(
            {
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "autocapitalize": "none",
                "spellcheck": "false",
                "size": "8",
            }
        )

    def clean(self, value):
        value = totp.normalize_code(super().clean(value) or "")
        if len(value) != totp.DIGITS or not (value.isascii() and value.isdigit()):
            raise forms.ValidationError(
                _("The code is the 6 digits your authenticator app shows."), code="format"
            )
        return value


class FactorNameField(forms.CharField):
    def __init__(self, **kwargs):
        kwargs.setdefault("label", _("Name"))
        kwargs.setdefault("max_length", FACTOR_NAME_MAX_LENGTH)
        kwargs.setdefault(
            "error_messages",
            {
                "required": _("Enter a name, so that you can tell your methods apart."),
                "max_length": _("Name: up to %(limit_value)d characters."),
            },
        )
        kwargs.setdefault("validators", [_no_control_characters])
        super().__init__(**kwargs)


class PasswordRecheckField(forms.CharField):
    def __init__(self, **kwargs):
        kwargs.setdefault("label", _("Your current password"))
        kwargs.setdefault("strip", False)
        kwargs.setdefault("max_length", 256)
        kwargs.setdefault("widget", forms.PasswordInput(attrs={"autocomplete": "current-password"}))
        kwargs.setdefault(
            "error_messages", {"required": _("Enter your current password to confirm.")}
        )
        super().__init__(**kwargs)


class VerifyCodeForm(forms.Form):
    code = TOTPCodeField()


class RecoveryCodeForm(forms.Form):
    code = forms.CharField(
        label=_("Recovery code"),
        max_length=40,
        error_messages={"required": _("Enter one of your recovery codes.")},
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "autocapitalize": "none", "spellcheck": "false"}
        ),
    )

    def clean_code(self):
        value = self.cleaned_data["code"]
        if not recovery.is_well_formed(value):
            raise forms.ValidationError(
                _("A recovery code is 10 letters and digits, like 4k7qm-x2c9d."), code="format"
            )
        return value


class PasskeyResponseField(forms.CharField):
    """The browser's answer to the WebAuthn ceremony, as JSON (filled in by mfa.js)."""

    widget = forms.HiddenInput

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", passkeys.MAX_RESPONSE_CHARS)
        kwargs.setdefault(
            "error_messages",
            {
                "required": _(
                    "Your browser did not answer with a passkey. Passkeys need JavaScript and a "
                    "browser that supports them."
                ),
                "max_length": _("The passkey answer is not valid."),
            },
        )
        super().__init__(**kwargs)


class PasskeyVerifyForm(forms.Form):
    credential = PasskeyResponseField()


class TOTPSetupForm(forms.Form):
    """Add an authenticator app: a name and the code it shows now (and, when signed in, the
    password: adding a way in is as sensitive as removing one)."""

    name = FactorNameField(initial=_("Authenticator app"))
    code = TOTPCodeField(
        help_text=_("After scanning, your app shows a 6-digit code that changes every 30 seconds.")
    )
    password = PasswordRecheckField()

    def __init__(self, *args, recheck_password: bool, **kwargs):
        super().__init__(*args, **kwargs)
        if not recheck_password:
            del self.fields["password"]


class PasskeyAddForm(forms.Form):
    name = FactorNameField(initial=_("Passkey"))
    password = PasswordRecheckField()
    credential = PasskeyResponseField()

    def __init__(self, *args, recheck_password: bool, **kwargs):
        super().__init__(*args, **kwargs)
        if not recheck_password:
            del self.fields["password"]


class PasswordConfirmForm(forms.Form):
    password = PasswordRecheckField()


class PolicyForm(forms.Form):
    admins_must_use_mfa = forms.BooleanField(
        label=_("Require 2-step verification for every admin of the organization"),
        required=False,
        help_text=_(
            "Admins without it are signed out now and must set it up at their next sign-in "
            "before they can use the console. Members are not affected."
        ),
    )
