"""The signed-in user's own settings that every page offers: the language switch in the header."""

from django import forms
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from audit.services import Actor

from .changes import Change, apply_changes


class LanguageForm(forms.Form):
    language = forms.ChoiceField(choices=settings.LANGUAGES)


def _back(request: HttpRequest) -> str:
    """The page the switch was pressed on (same site only), else the start page."""
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("home")


@require_POST
def language_switch(request: HttpRequest) -> HttpResponse:
    """Switch the interface language, at once. A signed-in user's own locale is changed (every
    page and message follows it, on every device); before sign-in, a cookie remembers the
    choice, as Django's set_language does. An unknown language changes nothing."""
    form = LanguageForm(request.POST)
    response = HttpResponseRedirect(_back(request))
    if not form.is_valid():
        return response
    language = form.cleaned_data["language"]
    if request.user.is_authenticated:
        if request.user.locale != language:
            # Through the change service like any change to a user (audited; the rules apply).
            apply_changes(
                organization=request.organization,
                actor=Actor.from_request(request),
                changes=[Change(user_id=request.user.pk, fields={"locale": language})],
            )
    else:
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME,
            language,
            max_age=settings.LANGUAGE_COOKIE_AGE,
            path=settings.LANGUAGE_COOKIE_PATH,
            domain=settings.LANGUAGE_COOKIE_DOMAIN,
            secure=settings.LANGUAGE_COOKIE_SECURE,
            httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
            samesite=settings.LANGUAGE_COOKIE_SAMESITE,
        )
    translation.activate(language)
    return response
