"""Pages of 2-step verification: the sign-in steps (second factor, enrolment), the user's own
security page, an admin's reset of another user's methods and the organization's policy."""

import base64

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import access
from accounts.models import User
from audit.models import AuditEvent
from audit.services import Actor, audit_record, client_ip

from . import crypto, flow, passkeys, recovery, selectors, services, totp
from .forms import (
    PasskeyAddForm,
    PasskeyVerifyForm,
    PasswordConfirmForm,
    PolicyForm,
    RecoveryCodeForm,
    TOTPSetupForm,
    VerifyCodeForm,
)
from .models import TOTPDevice, WebAuthnCredential

# Session keys: the secret of an authenticator app being set up (encrypted) and the challenge of
# a WebAuthn ceremony in progress. Each belongs to one user and one purpose.
SETUP_KEY = "_mfa_totp_setup"
# The passkey form's field IDs: the enrolment page shows it beside the app's form.
PASSKEY_IDS = "passkey_%s"
CHALLENGE_KEY = "_mfa_webauthn"


def _posted(request: HttpRequest):
    """The form data of a POST (even an empty one, which must still be validated), else None."""
    return request.POST if request.method == "POST" else None


def _pending_actor(request: HttpRequest, user: User) -> Actor:
    """The user acting on their own behalf before their session is signed in."""
    return Actor(user=user, label=user.login_id, ip_address=client_ip(request))


def _setup_secret(request: HttpRequest, user: User) -> str:
    """The authenticator-app secret this user is setting up: the same one until it is confirmed,
    so a reload does not invalidate a QR code already scanned."""
    held = request.session.get(SETUP_KEY)
    if isinstance(held, dict) and held.get("user") == user.pk:
        try:
            return crypto.decrypt_secret(held["secret"])[0]
        except (crypto.SecretUnreadable, KeyError, TypeError):
            pass
    secret = totp.new_secret()
    request.session[SETUP_KEY] = {"user": user.pk, "secret": crypto.encrypt_secret(secret)}
    return secret


def _totp_setup_context(request: HttpRequest, user: User) -> dict:
    secret = _setup_secret(request, user)
    uri = totp.provisioning_uri(secret=secret, account=user.login_id)
    return {"qr": totp.qr_data_uri(uri), "secret": totp.grouped(secret)}


def _new_challenge(request: HttpRequest, *, user: User, purpose: str, challenge: bytes) -> None:
    request.session[CHALLENGE_KEY] = {
        "user": user.pk,
        "purpose": purpose,
        "challenge": base64.urlsafe_b64encode(challenge).decode(),
    }


def _take_challenge(request: HttpRequest, *, user: User, purpose: str) -> bytes | None:
    """The challenge of this user's ceremony, used once (removed whatever the outcome)."""
    held = request.session.pop(CHALLENGE_KEY, None)
    if not isinstance(held, dict) or held.get("user") != user.pk or held.get("purpose") != purpose:
        return None
    try:
        return base64.urlsafe_b64decode(held["challenge"])
    except (KeyError, TypeError, ValueError):
        return None


def _registration_context(request: HttpRequest, user: User) -> dict:
    rp = passkeys.relying_party(request)
    options, challenge = passkeys.registration_options(
        user=user,
        rp=rp,
        existing=WebAuthnCredential.objects.filter(user=user).only("credential_id", "transports"),
    )
    _new_challenge(request, user=user, purpose="register", challenge=challenge)
    return {"passkey_options": options, "passkeys_usable": rp.usable}


def _recovery_codes_page(request: HttpRequest, *, codes: list[str], next_url: str) -> HttpResponse:
    """New recovery codes, in this response only (never stored in clear, never shown again)."""
    return render(
        request, "mfa/recovery_codes.html", {"codes": codes, "next_url": next_url, "fresh": True}
    )


# --- Sign-in: the second step -------------------------------------------------------------------


def _pending_or_redirect(request: HttpRequest, expected: flow.Step) -> User | HttpResponse:
    was_pending = flow.PENDING_KEY in request.session
    user = flow.pending_user(request)
    if user is None:
        if was_pending:
            messages.info(
                request, _("Your sign-in expired. Enter your login ID and password again.")
            )
        return redirect("login")
    step = flow.next_step(user=user)
    if step is None:
        # The methods were removed meanwhile (an admin's reset): start again.
        flow.clear_pending(request)
        messages.info(request, _("Enter your login ID and password again."))
        return redirect("login")
    if step is not expected:
        return redirect(step.value)
    if flow.is_locked_out(request, user=user):
        return flow.lockout_response(request, user=user)
    return user


def _verify_page(
    request: HttpRequest, user: User, form, *, passkey_error: str = "", status: int = 200
) -> HttpResponse:
    factors = selectors.factors_of(user=user)
    context = {"form": form, "factors": factors, "passkey_error": passkey_error}
    if factors.passkeys:
        rp = passkeys.relying_party(request)
        options, challenge = passkeys.authentication_options(
            credentials=WebAuthnCredential.objects.filter(user=user).only(
                "credential_id", "transports"
            ),
            rp=rp,
        )
        _new_challenge(request, user=user, purpose="authenticate", challenge=challenge)
        context["passkey_options"] = options
        context["passkeys_usable"] = rp.usable
    return render(request, "mfa/verify.html", context, status=status)


_TOTP_ERRORS = {
    services.Outcome.WRONG: lambda: _(
        "That code is not right. Enter the code your app shows now (check your phone's clock "
        "if it keeps failing)."
    ),
    services.Outcome.REPLAYED: lambda: _(
        "That code was already used. Wait for your app to show a new code, then enter it."
    ),
}


def _second_factor(request: HttpRequest, user: User, method: str, check) -> tuple:
    """Check the factor and, if it passes, sign in, in one transaction: what the check consumes
    (a code's time step, a passkey's counter, a recovery code) commits with the new session, in
    the commit the sign-in makes anyway. Returns (the verification, where to go next)."""
    with transaction.atomic():
        result = check()
        next_url = flow.complete_sign_in(request, user=user, method=method) if result.ok else None
    return result, next_url


@require_http_methods(["GET", "POST"])
def verify(request: HttpRequest) -> HttpResponse:
    user = _pending_or_redirect(request, flow.Step.VERIFY)
    if isinstance(user, HttpResponse):
        return user
    form = VerifyCodeForm(_posted(request))
    if request.method == "POST" and form.is_valid():
        result, next_url = _second_factor(
            request,
            user,
            "totp",
            lambda: services.totp_verify(user=user, code=form.cleaned_data["code"]),
        )
        if result.ok:
            return redirect(next_url)
        form.add_error("code", _TOTP_ERRORS[result.outcome]())
        flow.second_factor_failed(request, user=user, detail=result.detail)
    return _verify_page(request, user, form)


@require_POST
def verify_passkey(request: HttpRequest) -> HttpResponse:
    user = _pending_or_redirect(request, flow.Step.VERIFY)
    if isinstance(user, HttpResponse):
        return user
    form = PasskeyVerifyForm(request.POST)
    challenge = _take_challenge(request, user=user, purpose="authenticate")
    if not form.is_valid():
        return _verify_page(
            request, user, VerifyCodeForm(), passkey_error=form.errors["credential"][0]
        )
    result, next_url = _second_factor(
        request,
        user,
        "passkey",
        lambda: services.passkey_verify(
            user=user,
            response=form.cleaned_data["credential"],
            challenge=challenge,
            rp=passkeys.relying_party(request),
        ),
    )
    if result.ok:
        return redirect(next_url)
    flow.second_factor_failed(request, user=user, detail=result.detail)
    return _verify_page(
        request,
        user,
        VerifyCodeForm(),
        passkey_error=_("The passkey was not accepted. Try again, or use another method."),
    )


def _recovery_code_used(actor: Actor, user: User, code: str) -> services.Verification:
    result = services.recovery_code_use(user=user, code=code)
    if result.ok:
        audit_record(
            actor=actor,
            action=AuditEvent.Action.MFA_RECOVERY_USED,
            organization=user.organization,
            target=user,
        )
    return result


@require_http_methods(["GET", "POST"])
def verify_recovery(request: HttpRequest) -> HttpResponse:
    user = _pending_or_redirect(request, flow.Step.VERIFY)
    if isinstance(user, HttpResponse):
        return user
    form = RecoveryCodeForm(_posted(request))
    if request.method == "POST" and form.is_valid():
        actor = _pending_actor(request, user)
        result, next_url = _second_factor(
            request,
            user,
            "recovery_code",
            lambda: _recovery_code_used(actor, user, form.cleaned_data["code"]),
        )
        if result.ok:
            left = selectors.recovery_codes_left(user=user)
            text = ngettext(
                "You signed in with a recovery code; it cannot be used again. %(count)d code "
                "is left.",
                "You signed in with a recovery code; it cannot be used again. %(count)d codes "
                "are left.",
                left,
            ) % {"count": left}
            if left < recovery.LOW:
                text += " " + _("Create new recovery codes on your security page.")
            messages.warning(request, text)
            return redirect(next_url)
        form.add_error("code", _("That recovery code is not right, or it has already been used."))
        flow.second_factor_failed(request, user=user, detail=result.detail)
    return render(request, "mfa/verify_recovery.html", {"form": form})


# --- Sign-in: enrolment required by the organization --------------------------------------------


def _enrol_page(request: HttpRequest, user: User, form, *, passkey_form=None) -> HttpResponse:
    context = {
        "form": form,
        "passkey_form": passkey_form or PasskeyAddForm(recheck_password=False, auto_id=PASSKEY_IDS),
        "enrolling": True,
        **_totp_setup_context(request, user),
        **_registration_context(request, user),
    }
    return render(request, "mfa/enrol.html", context)


@require_http_methods(["GET", "POST"])
def enrol(request: HttpRequest) -> HttpResponse:
    user = _pending_or_redirect(request, flow.Step.ENROL)
    if isinstance(user, HttpResponse):
        return user
    form = TOTPSetupForm(_posted(request), recheck_password=False)
    if request.method == "POST" and form.is_valid():
        try:
            enrolled = services.totp_device_add(
                actor=_pending_actor(request, user),
                user=user,
                name=form.cleaned_data["name"],
                secret=_setup_secret(request, user),
                code=form.cleaned_data["code"],
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            request.session.pop(SETUP_KEY, None)
            next_url = flow.complete_sign_in(request, user=user, method="totp")
            return _recovery_codes_page(request, codes=enrolled.recovery_codes, next_url=next_url)
    return _enrol_page(request, user, form)


@require_POST
def enrol_passkey(request: HttpRequest) -> HttpResponse:
    user = _pending_or_redirect(request, flow.Step.ENROL)
    if isinstance(user, HttpResponse):
        return user
    form = PasskeyAddForm(request.POST, recheck_password=False, auto_id=PASSKEY_IDS)
    challenge = _take_challenge(request, user=user, purpose="register")
    if form.is_valid():
        try:
            if challenge is None:
                raise ValidationError(_("The passkey could not be added. Try again."))
            enrolled = services.passkey_add(
                actor=_pending_actor(request, user),
                user=user,
                name=form.cleaned_data["name"],
                response=form.cleaned_data["credential"],
                challenge=challenge,
                rp=passkeys.relying_party(request),
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            next_url = flow.complete_sign_in(request, user=user, method="passkey")
            return _recovery_codes_page(request, codes=enrolled.recovery_codes, next_url=next_url)
    return _enrol_page(request, user, TOTPSetupForm(recheck_password=False), passkey_form=form)


# --- My security page ---------------------------------------------------------------------------


@login_required
@require_GET
def security(request: HttpRequest) -> HttpResponse:
    user = request.user
    return render(
        request,
        "mfa/security.html",
        {
            "factors": selectors.factors_of(user=user),
            "required": selectors.mfa_required_for(user=user),
            "method": flow.signed_in_method(request),
            "nav_section": "security",
        },
    )


def _added(request: HttpRequest, enrolled: services.Enrolled) -> HttpResponse:
    messages.success(request, _("%(name)s was added.") % {"name": enrolled.factor.name})
    if enrolled.recovery_codes:
        return _recovery_codes_page(
            request, codes=enrolled.recovery_codes, next_url=reverse("mfa:security")
        )
    return redirect("mfa:security")


@login_required
@require_http_methods(["GET", "POST"])
def totp_add(request: HttpRequest) -> HttpResponse:
    user = request.user
    form = TOTPSetupForm(_posted(request), recheck_password=True)
    if request.method == "POST" and form.is_valid():
        error = flow.password_recheck(request, user=user, password=form.cleaned_data["password"])
        if error:
            form.add_error("password", error)
        else:
            try:
                enrolled = services.totp_device_add(
                    actor=Actor.from_request(request),
                    user=user,
                    name=form.cleaned_data["name"],
                    secret=_setup_secret(request, user),
                    code=form.cleaned_data["code"],
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                request.session.pop(SETUP_KEY, None)
                return _added(request, enrolled)
    return render(
        request,
        "mfa/totp_add.html",
        {"form": form, "nav_section": "security", **_totp_setup_context(request, user)},
    )


@login_required
@require_http_methods(["GET", "POST"])
def passkey_add(request: HttpRequest) -> HttpResponse:
    user = request.user
    form = PasskeyAddForm(_posted(request), recheck_password=True, auto_id=PASSKEY_IDS)
    if request.method == "POST":
        challenge = _take_challenge(request, user=user, purpose="register")
        if form.is_valid():
            error = flow.password_recheck(
                request, user=user, password=form.cleaned_data["password"]
            )
            if error:
                form.add_error("password", error)
            else:
                try:
                    if challenge is None:
                        raise ValidationError(_("The passkey could not be added. Try again."))
                    enrolled = services.passkey_add(
                        actor=Actor.from_request(request),
                        user=user,
                        name=form.cleaned_data["name"],
                        response=form.cleaned_data["credential"],
                        challenge=challenge,
                        rp=passkeys.relying_party(request),
                    )
                except ValidationError as exc:
                    form.add_error(None, exc)
                else:
                    return _added(request, enrolled)
    return render(
        request,
        "mfa/passkey_add.html",
        {"passkey_form": form, "nav_section": "security", **_registration_context(request, user)},
    )


_FACTOR_MODELS = {"totp": TOTPDevice, "passkey": WebAuthnCredential}


def _own_factor_or_404(
    request: HttpRequest, kind: str, factor_id
) -> TOTPDevice | WebAuthnCredential:
    """One of the signed-in user's own methods; anyone else's answers like a missing one."""
    model = _FACTOR_MODELS[kind]
    try:
        return model.objects.select_related("user__organization").get(
            pk=int(factor_id), user=request.user
        )
    except (model.DoesNotExist, ValueError, TypeError, OverflowError):
        raise Http404 from None


def _factor_remove(request: HttpRequest, kind: str, factor_id) -> HttpResponse:
    factor = _own_factor_or_404(request, kind, factor_id)
    form = PasswordConfirmForm(_posted(request))
    if request.method == "POST" and form.is_valid():
        error = flow.password_recheck(
            request, user=request.user, password=form.cleaned_data["password"]
        )
        if error:
            form.add_error("password", error)
        else:
            try:
                services.factor_remove(actor=Actor.from_request(request), factor=factor)
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(request, _("%(name)s was removed.") % {"name": factor.name})
                return redirect("mfa:security")
    return render(
        request,
        "mfa/factor_confirm_remove.html",
        {
            "factor": factor,
            "kind": kind,
            "form": form,
            "last": selectors.factors_of(user=request.user).count <= 1,
            "nav_section": "security",
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def totp_remove(request: HttpRequest, factor_id: int) -> HttpResponse:
    return _factor_remove(request, "totp", factor_id)


@login_required
@require_http_methods(["GET", "POST"])
def passkey_remove(request: HttpRequest, factor_id: int) -> HttpResponse:
    return _factor_remove(request, "passkey", factor_id)


@login_required
@require_http_methods(["GET", "POST"])
def recovery_regenerate(request: HttpRequest) -> HttpResponse:
    form = PasswordConfirmForm(_posted(request))
    if request.method == "POST" and form.is_valid():
        error = flow.password_recheck(
            request, user=request.user, password=form.cleaned_data["password"]
        )
        if error:
            form.add_error("password", error)
        else:
            try:
                codes = services.recovery_codes_regenerate(
                    actor=Actor.from_request(request), user=request.user
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                return _recovery_codes_page(request, codes=codes, next_url=reverse("mfa:security"))
    return render(
        request,
        "mfa/recovery_confirm.html",
        {
            "form": form,
            "left": selectors.recovery_codes_left(user=request.user),
            "nav_section": "security",
        },
    )


# --- Admins: another user's reset, the organization's policy ------------------------------------


@access.admin_required
@require_http_methods(["GET", "POST"])
def reset(request: HttpRequest, user_id: int) -> HttpResponse:
    """GET: what the reset removes. POST: remove every method and recovery code of the user and
    sign them out everywhere."""
    target = access.get_managed_user_or_404(request, user_id)
    error = None
    if target.pk == request.user.pk:
        error = _("You cannot reset your own 2-step verification. Use your security page.")
    elif request.method == "POST":
        try:
            removed = services.mfa_reset(actor=Actor.from_request(request), user=target)
        except ValidationError as exc:
            error = " ".join(exc.messages)
        else:
            if any(removed.values()):
                messages.success(
                    request,
                    _(
                        "2-step verification of %(name)s was reset and they were signed out "
                        "everywhere."
                    )
                    % {"name": target.name},
                )
            else:
                messages.info(
                    request,
                    _("%(name)s has no 2-step verification to reset.") % {"name": target.name},
                )
            return redirect("users:edit", user_id=target.pk)
    return render(
        request,
        "mfa/reset_confirm.html",
        {
            "target": target,
            "factors": selectors.factors_of(user=target),
            "required": selectors.mfa_required_for(user=target),
            "error": error,
        },
        status=400 if error and request.method == "POST" else 200,
    )


@access.admin_required
@require_http_methods(["GET", "POST"])
def policy(request: HttpRequest) -> HttpResponse:
    organization = request.organization
    current = selectors.policy_of(organization=organization)
    form = PolicyForm(
        _posted(request), initial={"admins_must_use_mfa": current.admins_must_use_mfa}
    )
    if request.method == "POST" and form.is_valid():
        try:
            change = services.policy_set(
                actor=Actor.from_request(request),
                organization=organization,
                admins_must_use_mfa=form.cleaned_data["admins_must_use_mfa"],
            )
        except ValidationError as exc:
            form.add_error("admins_must_use_mfa", exc)
        else:
            if not change.changed:
                messages.info(request, _("Nothing was changed."))
            elif change.admins_must_use_mfa:
                messages.success(
                    request,
                    ngettext(
                        "Every admin must now use 2-step verification. %(count)d admin without "
                        "it was signed out and will set it up at their next sign-in.",
                        "Every admin must now use 2-step verification. %(count)d admins without "
                        "it were signed out and will set it up at their next sign-in.",
                        len(change.signed_out),
                    )
                    % {"count": len(change.signed_out)},
                )
            else:
                messages.success(
                    request, _("2-step verification is no longer required for admins.")
                )
            return redirect("mfa:policy")
    return render(
        request,
        "mfa/policy.html",
        {
            "form": form,
            "policy": current,
            "admins_without": list(selectors.admins_without_mfa(organization=organization)),
            "actor_has_mfa": selectors.has_mfa(user=request.user),
            "nav_section": "security",
        },
    )
