"""Single sign-on pages (docs/sso.md): the "Sign in with SSO" start, the ACS the identity
provider posts to, this service's SP metadata per organization, and the admins' Single sign-on
page (metadata, test sign-in, switches, break-glass admins)."""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.access import admin_required
from accounts.models import Organization
from audit.services import Actor, client_ip
from mfa import flow as mfa_flow

from . import saml, selectors, services
from .forms import MetadataForm, OptionsForm, StartForm
from .metadata import MetadataError, certificate_states
from .models import SsoConfig

# The cookie that binds an AuthnRequest to the browser that started it. SameSite=None (with
# Secure) because the identity provider's POST to the ACS is a cross-site request: the session
# cookie (SameSite=Lax) does not come with it.
BROWSER_COOKIE = "miitel_sso"
BROWSER_COOKIE_AGE = 60 * 60
LOGIN_BACKEND = "accounts.backends.LoginIdBackend"


def sp_urls(request: HttpRequest, organization: Organization) -> saml.SpUrls:
    base = settings.SSO_BASE_URL.rstrip("/") if settings.SSO_BASE_URL else None

    def absolute(name: str) -> str:
        path = reverse(name, kwargs={"slug": organization.slug})
        return f"{base}{path}" if base else request.build_absolute_uri(path)

    return saml.SpUrls(entity_id=absolute("sso:metadata"), acs_url=absolute("sso:acs"))


def _browser_value(request: HttpRequest) -> tuple[str, bool]:
    value = request.COOKIES.get(BROWSER_COOKIE, "")
    if 20 <= len(value) <= 100 and value.replace("-", "").replace("_", "").isalnum():
        return value, False
    return services.new_browser_value(), True


def _set_browser_cookie(response: HttpResponse, value: str) -> None:
    secure = settings.SESSION_COOKIE_SECURE
    response.set_cookie(
        BROWSER_COOKIE,
        value,
        max_age=BROWSER_COOKIE_AGE,
        secure=secure,
        httponly=True,
        samesite="None" if secure else "Lax",
    )


def _to_idp(request: HttpRequest, location: str, browser: str) -> HttpResponse:
    """A page that sends the browser on to the identity provider (a script, or a link without
    one): a redirect answering a form would be stopped by the form-action rule of the CSP."""
    response = render(request, "sso/continue.html", {"location": location})
    _set_browser_cookie(response, browser)
    return response


@require_http_methods(["GET", "POST"])
def start(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect(settings.LOGIN_REDIRECT_URL)
    form = StartForm(request.POST or None)
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = ""
    if request.method == "POST" and form.is_valid():
        organization = selectors.organization_for_sign_in(
            login_id=form.cleaned_data["login_id"], slug=form.cleaned_data["organization"]
        )
        if organization is None:
            form.add_error(
                None,
                _(
                    "Single sign-on is not available for this login ID or organization. Sign in "
                    "with your password, or ask your organization's admin."
                ),
            )
        else:
            config = selectors.config_of(organization=organization)
            browser, _new = _browser_value(request)
            location = services.request_start(
                config=config,
                urls=sp_urls(request, organization),
                browser=browser,
                next_url=next_url,
            )
            return _to_idp(request, location, browser)
    return render(request, "sso/start.html", {"form": form, "next": next_url})


def _refused(request: HttpRequest, status: int) -> HttpResponse:
    return render(request, "sso/refused.html", status=status)


@csrf_exempt  # the identity provider posts here; the signed response is the authentication
@require_POST
def acs(request: HttpRequest, slug: str) -> HttpResponse:
    organization = Organization.objects.filter(slug=slug[:50]).first()
    if organization is None:
        raise Http404
    config = selectors.config_of(organization=organization)
    ip_address = client_ip(request)
    browser = request.COOKIES.get(BROWSER_COOKIE, "")
    if config is None:
        services.refusal_record(organization=organization, code="not_set_up", ip_address=ip_address)
        return _refused(request, 400)
    urls = sp_urls(request, organization)
    verified = None
    try:
        xml = saml.decode_response(str(request.POST.get("SAMLResponse", "")))
        verified = saml.verify_response(
            config,
            urls,
            xml=xml,
            outstanding=selectors.outstanding(
                organization=organization, browser_hash=services.browser_hash(browser)
            ),
        )
        accepted = services.response_accept(config=config, verified=verified, browser=browser)
    except saml.Refused as refusal:
        services.refusal_record(
            organization=organization,
            code=refusal.code,
            ip_address=ip_address,
            identity=services.identity_of(config, verified) if verified else "",
        )
        status = 400 if refusal.code in ("malformed", "doctype", "encoding") else 403
        return _refused(request, status)
    if accepted.test_by is not None:
        messages.success(
            request,
            _("The test sign-in worked: you can now turn single sign-on on."),
        )
        return redirect("sso:settings")
    if request.user.is_authenticated and request.user.pk != accepted.user.pk:
        # Another user's session in this browser ends before this one starts.
        request.session.flush()
    next_url = mfa_flow.complete_sign_in(
        request,
        user=accepted.user,
        method="sso",
        backend=LOGIN_BACKEND,
        next_url=accepted.next_url or None,
    )
    return redirect(next_url)


@require_GET
def sp_metadata(request: HttpRequest, slug: str) -> HttpResponse:
    organization = get_object_or_404(Organization, slug=slug[:50])
    config = selectors.config_of(organization=organization)
    xml = saml.sp_metadata(config, sp_urls(request, organization))
    response = HttpResponse(xml, content_type="application/samlmetadata+xml; charset=utf-8")
    if request.GET.get("download"):
        name = f"miitel-{organization.slug}-sp.xml"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


# --- The admins' Single sign-on page ------------------------------------------------------------


def _options_form(organization: Organization, config: SsoConfig | None, data=None) -> OptionsForm:
    initial = {}
    if config is not None:
        initial = {
            "enabled": config.enabled,
            "allow_idp_initiated": config.allow_idp_initiated,
            "match_by": config.match_by,
            "match_attribute": config.match_attribute,
            "require_sso": config.require_sso,
            "break_glass": [u.pk for u in selectors.break_glass_admins(config=config)],
        }
    return OptionsForm(data, organization=organization, initial=initial)


def _page(request, *, metadata_form=None, options_form=None, status=200) -> HttpResponse:
    organization = request.organization
    config = selectors.config_of(organization=organization)
    urls = sp_urls(request, organization)
    return render(
        request,
        "sso/settings.html",
        {
            "config": config,
            "tested": selectors.is_tested(config) if config else False,
            "certificates": certificate_states(config.certificates) if config else [],
            "urls": urls,
            "metadata_form": metadata_form or MetadataForm(),
            "options_form": options_form or _options_form(organization, config),
            "nav_section": "sso",
        },
        status=status,
    )


@admin_required
@require_http_methods(["GET", "POST"])
def settings_page(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _page(request)
    form = MetadataForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            services.metadata_set(
                actor=Actor.from_request(request),
                organization=request.organization,
                xml=form.cleaned_data["xml"],
            )
        except MetadataError as error:
            form.add_error(None, error.message)
        else:
            messages.success(
                request,
                _("The identity provider's metadata was saved. Run “Test sign-in” next."),
            )
            return redirect("sso:settings")
    return _page(request, metadata_form=form)


@admin_required
@require_POST
def options(request: HttpRequest) -> HttpResponse:
    organization = request.organization
    config = selectors.config_of(organization=organization)
    form = _options_form(organization, config, request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            changed = services.options_set(
                actor=Actor.from_request(request),
                organization=organization,
                options=services.Options(
                    enabled=data["enabled"],
                    require_sso=data["require_sso"],
                    allow_idp_initiated=data["allow_idp_initiated"],
                    match_by=data["match_by"],
                    match_attribute=data["match_attribute"],
                    break_glass=list(data["break_glass"]),
                ),
            )
        except ValidationError as error:
            for field, errors in error.message_dict.items():
                for message in errors:
                    form.add_error(field if field in form.fields else None, message)
        else:
            if changed:
                messages.success(request, _("The single sign-on settings were saved."))
            else:
                messages.info(request, _("Nothing was changed."))
            return redirect("sso:settings")
    return _page(request, options_form=form)


@admin_required
@require_POST
def test_sign_in(request: HttpRequest) -> HttpResponse:
    """A full round trip for the admin who asks: the identity provider must answer with this
    admin's own login ID before single sign-on can be turned on."""
    organization = request.organization
    config = selectors.config_of(organization=organization)
    if config is None:
        messages.error(request, _("Add your identity provider's metadata first."))
        return redirect("sso:settings")
    browser, _new = _browser_value(request)
    location = services.request_start(
        config=config, urls=sp_urls(request, organization), browser=browser, test_by=request.user
    )
    return _to_idp(request, location, browser)
