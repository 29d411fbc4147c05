"""The Provisioning page: an admin's SCIM tokens (list, create, revoke) and what to paste into
the identity provider."""

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from accounts.access import admin_required
from audit.services import Actor

from .groups import with_member_counts
from .models import ScimToken
from .tokens import NAME_MAX_LENGTH, token_create, token_revoke


class TokenForm(forms.Form):
    name = forms.CharField(
        label=gettext_lazy("Token name"),
        required=False,
        max_length=NAME_MAX_LENGTH * 2,
        help_text=gettext_lazy(
            "For example the identity provider it is for. Every change made with the token is "
            "recorded in the audit log under this name."
        ),
    )
    name.mandatory = True


def _page(request: HttpRequest, form: TokenForm, *, secret: str = "", status: int = 200):
    tokens = ScimToken.objects.filter(organization=request.organization).select_related(
        "created_by"
    )
    return render(
        request,
        "scim/provisioning.html",
        {
            "form": form,
            "tokens": tokens,
            "groups": with_member_counts(request.organization),
            "secret": secret,
            "endpoint": request.build_absolute_uri(reverse("scim:root")),
            "nav_section": "provisioning",
        },
        status=status,
    )


@admin_required
@require_http_methods(["GET", "POST"])
def provisioning(request: HttpRequest) -> HttpResponse:
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            new = token_create(
                organization=request.organization,
                actor=Actor.from_request(request),
                name=form.cleaned_data["name"],
            )
        except ValidationError as error:
            for field, errors in error.message_dict.items():
                for message in errors:
                    form.add_error(field if field in form.fields else None, message)
        else:
            # Shown on this response only: the page is never cached (NoStoreMiddleware) and
            # the secret is kept nowhere else.
            messages.success(request, _("Token “%(name)s” was created.") % {"name": new.token.name})
            return _page(request, TokenForm(), secret=new.secret)
    return _page(request, form, status=400 if form.errors else 200)


@admin_required
@require_POST
def revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    token = ScimToken.objects.filter(organization=request.organization, pk=token_id).first()
    if token is None:
        raise Http404
    if token_revoke(token=token, actor=Actor.from_request(request)):
        messages.success(
            request,
            _("Token “%(name)s” was revoked: requests with it are refused from now on.")
            % {"name": token.name},
        )
    else:
        messages.info(request, _("Token “%(name)s” was already revoked.") % {"name": token.name})
    return redirect("provisioning:tokens")
