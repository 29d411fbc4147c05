from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import Organization, User

from .metadata import MAX_METADATA_BYTES
from .models import SsoConfig


class StartForm(forms.Form):
    """Sign in with SSO: the login ID (its organization's IdP) or the organization's ID."""

    login_id = forms.CharField(label=_("Login ID"), max_length=254, required=False)
    organization = forms.SlugField(label=_("Organization ID"), max_length=50, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["login_id"].widget.attrs.update(
            {"autocomplete": "username", "spellcheck": "false", "autocapitalize": "none"}
        )

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("login_id") and not cleaned.get("organization"):
            raise forms.ValidationError(
                _("Enter your login ID or your organization's ID."), code="required"
            )
        return cleaned


class MetadataForm(forms.Form):
    """The IdP's metadata, pasted or uploaded."""

    metadata = forms.CharField(
        label=_("Identity provider metadata (XML)"),
        required=False,
        max_length=MAX_METADATA_BYTES,
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false"}),
    )
    metadata_file = forms.FileField(label=_("Or upload the metadata file"), required=False)

    def clean(self):
        cleaned = super().clean()
        upload = cleaned.get("metadata_file")
        if upload is not None:
            if upload.size > MAX_METADATA_BYTES:
                raise forms.ValidationError(_("The metadata file is too large (512 KB at most)."))
            cleaned["xml"] = upload.read(MAX_METADATA_BYTES + 1)
        elif cleaned.get("metadata", "").strip():
            cleaned["xml"] = cleaned["metadata"].strip().encode("utf-8", "replace")
        else:
            raise forms.ValidationError(
                _("Paste the metadata XML or choose the metadata file."), code="required"
            )
        return cleaned


class OptionsForm(forms.Form):
    enabled = forms.BooleanField(label=_("Single sign-on is on"), required=False)
    allow_idp_initiated = forms.BooleanField(
        label=_("Accept sign-in started at the identity provider (IdP-initiated)"),
        required=False,
    )
    match_by = forms.ChoiceField(
        label=_("Match users by"),
        choices=SsoConfig.MatchBy.choices,
        widget=forms.RadioSelect,
        initial=SsoConfig.MatchBy.NAME_ID,
    )
    match_attribute = forms.CharField(
        label=_("Attribute name"),
        required=False,
        max_length=255,
        help_text=_("Only when matching by an attribute, for example “email” or a claim URI."),
    )
    require_sso = forms.BooleanField(
        label=_("Require single sign-on (password sign-in refused except for break-glass admins)"),
        required=False,
    )
    break_glass = forms.ModelMultipleChoiceField(
        label=_("Break-glass admins"),
        queryset=User.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_(
            "They keep signing in with their password and 2-step verification when single "
            "sign-on is required."
        ),
    )

    def __init__(self, *args, organization: Organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["break_glass"].queryset = User.objects.filter(
            organization=organization, role=User.Role.ADMIN, is_active=True
        ).order_by("name", "pk")
        self.fields["break_glass"].label_from_instance = lambda u: f"{u.name} ({u.login_id})"
