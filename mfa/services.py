"""Writes to the MFA tables. The console's views, the sign-in steps and the operators' commands
call these, so every rule and every audit record applies to all of them.

Verifications (a code, a passkey, a recovery code) consume what they accept in one conditional
UPDATE, so two requests racing with the same code cannot both pass."""

from dataclasses import dataclass, field
from enum import Enum

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from webauthn.helpers import bytes_to_base64url

from accounts.models import Organization, User
from accounts.sessions import user_sessions_end
from audit.models import AuditEvent
from audit.services import Actor, audit_record

from . import crypto, passkeys, recovery, selectors, totp
from .models import OrganizationPolicy, RecoveryCode, TOTPDevice, WebAuthnCredential

# --- Adding factors -----------------------------------------------------------------------------


@dataclass
class Enrolled:
    factor: TOTPDevice | WebAuthnCredential
    # The user's first recovery codes, made with their first factor (shown once), else empty.
    recovery_codes: list[str] = field(default_factory=list)


def _lock_user(user: User) -> User:
    """Serialise MFA changes of one user (two removals racing must not both see "one left")."""
    return User.objects.select_for_update().get(pk=user.pk)


def _after_enrolment(*, actor: Actor, user: User, factor, kind: str) -> Enrolled:
    codes = []
    if not RecoveryCode.objects.filter(user=user).exists():
        codes = _recovery_codes_replace(user=user)
    audit_record(
        actor=actor,
        action=AuditEvent.Action.MFA_ENROLL,
        organization=user.organization,
        target=user,
        detail=f"{kind}: {factor.name}",
    )
    return Enrolled(factor=factor, recovery_codes=codes)


@transaction.atomic
def totp_device_add(*, actor: Actor, user: User, name: str, secret: str, code: str) -> Enrolled:
    """Save an authenticator app once it has shown it holds `secret`: `code` must be its
    current code. That code's step counts as used."""
    step = totp.matching_step(secret=secret, code=code)
    if step is None:
        raise ValidationError(
            {
                "code": _(
                    "The code does not match. Check that your app shows “MiiTel Admin” with "
                    "your login ID and enter the code it shows now."
                )
            },
            code="totp_mismatch",
        )
    user = _lock_user(user)
    device = TOTPDevice.objects.create(
        user=user,
        name=name,
        secret=crypto.encrypt_secret(secret),
        last_step=step,
        last_used_at=timezone.now(),
    )
    return _after_enrolment(actor=actor, user=user, factor=device, kind="totp")


@transaction.atomic
def passkey_add(
    *,
    actor: Actor,
    user: User,
    name: str,
    response: str,
    challenge: bytes,
    rp: passkeys.RelyingParty,
) -> Enrolled:
    """Save a passkey from the browser's answer to navigator.credentials.create()."""
    try:
        verified = passkeys.verify_registration(response=response, challenge=challenge, rp=rp)
    except passkeys.PasskeyRefused as refused:
        raise ValidationError(
            _("The passkey could not be added. Try again, or use another passkey."),
            code="passkey_refused",
        ) from refused
    user = _lock_user(user)
    try:
        with transaction.atomic():
            credential = WebAuthnCredential.objects.create(
                user=user,
                name=name,
                credential_id=bytes_to_base64url(verified.credential_id),
                public_key=verified.credential_public_key,
                sign_count=verified.sign_count,
                transports=passkeys.response_transports(response),
            )
    except IntegrityError:
        raise ValidationError(
            _("This passkey is already registered."), code="passkey_exists"
        ) from None
    return _after_enrolment(actor=actor, user=user, factor=credential, kind="passkey")


# --- Verifying ----------------------------------------------------------------------------------


class Outcome(Enum):
    ACCEPTED = "accepted"
    WRONG = "wrong"
    REPLAYED = "replayed"


@dataclass(frozen=True)
class Verification:
    outcome: Outcome
    factor: TOTPDevice | WebAuthnCredential | None = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.ACCEPTED


def totp_verify(*, user: User, code: str, at: float | None = None) -> Verification:
    """Check `code` against each of the user's authenticator apps. A code is accepted once: its
    time step is stored and that step and earlier ones are refused afterwards."""
    replayed = None
    for device in TOTPDevice.objects.filter(user=user):
        try:
            secret, current = crypto.decrypt_secret(device.secret)
        except crypto.SecretUnreadable:
            continue  # written under a SECRET_KEY that is no longer configured
        step = totp.matching_step(secret=secret, code=code, at=at)
        if step is None:
            continue
        now = timezone.now()
        updates = {"last_step": step, "last_used_at": now}
        if not current:
            updates["secret"] = crypto.encrypt_secret(secret)
        taken = TOTPDevice.objects.filter(pk=device.pk, last_step__lt=step).update(**updates)
        if taken:
            device.last_step, device.last_used_at = step, now
            return Verification(Outcome.ACCEPTED, device)
        replayed = device
    if replayed is not None:
        return Verification(Outcome.REPLAYED, replayed, detail="totp: code already used")
    return Verification(Outcome.WRONG, detail="totp: wrong code")


def passkey_verify(
    *, user: User, response: str, challenge: bytes | None, rp: passkeys.RelyingParty
) -> Verification:
    """Check a browser's answer to navigator.credentials.get() against the challenge this
    user's page was given (None: no ceremony was started, or its challenge was used)."""
    if challenge is None:
        return Verification(Outcome.WRONG, detail="passkey: no challenge for this answer")
    credential_id = passkeys.response_credential_id(response)
    stored = (
        WebAuthnCredential.objects.filter(user=user, credential_id=credential_id).first()
        if credential_id
        else None
    )
    if stored is None:
        return Verification(Outcome.WRONG, detail="passkey: not one of this user's passkeys")
    try:
        verified = passkeys.verify_authentication(
            response=response,
            challenge=challenge,
            rp=rp,
            public_key=bytes(stored.public_key),
            sign_count=stored.sign_count,
        )
    except passkeys.PasskeyRefused as refused:
        # A counter that did not go up is the sign of a cloned authenticator: the library
        # refuses it, and the reason is kept in the audit record.
        return Verification(Outcome.WRONG, stored, detail=f"passkey {stored.name}: {refused}")
    now = timezone.now()
    taken = WebAuthnCredential.objects.filter(pk=stored.pk, sign_count=stored.sign_count).update(
        sign_count=verified.new_sign_count, last_used_at=now
    )
    if not taken:
        return Verification(Outcome.REPLAYED, stored, detail="passkey: used concurrently")
    stored.sign_count, stored.last_used_at = verified.new_sign_count, now
    return Verification(Outcome.ACCEPTED, stored)


def recovery_code_use(*, user: User, code: str) -> Verification:
    """Spend one recovery code (once: the UPDATE only takes an unused one)."""
    if not recovery.is_well_formed(code):
        return Verification(Outcome.WRONG, detail="recovery code: malformed")
    taken = RecoveryCode.objects.filter(
        user=user, code_hash__in=recovery.hashes(code), used_at__isnull=True
    ).update(used_at=timezone.now())
    if not taken:
        return Verification(Outcome.WRONG, detail="recovery code: wrong or already used")
    return Verification(Outcome.ACCEPTED)


# --- Recovery codes -----------------------------------------------------------------------------


def _recovery_codes_replace(*, user: User) -> list[str]:
    codes = recovery.new_codes()
    RecoveryCode.objects.filter(user=user).delete()
    RecoveryCode.objects.bulk_create(
        [RecoveryCode(user=user, code_hash=recovery.hashes(code)[0]) for code in codes]
    )
    return codes


@transaction.atomic
def recovery_codes_regenerate(*, actor: Actor, user: User) -> list[str]:
    """A new set of ten codes; every earlier code stops working. Returned once, never stored."""
    user = _lock_user(user)
    if not selectors.has_mfa(user=user):
        raise ValidationError(
            _("Add an authenticator app or a passkey first: recovery codes back them up."),
            code="no_factor",
        )
    codes = _recovery_codes_replace(user=user)
    audit_record(
        actor=actor,
        action=AuditEvent.Action.MFA_RECOVERY_NEW,
        organization=user.organization,
        target=user,
    )
    return codes


# --- Removing -----------------------------------------------------------------------------------


@transaction.atomic
def factor_remove(*, actor: Actor, factor: TOTPDevice | WebAuthnCredential) -> None:
    """Remove one of a user's factors. An admin of an organization that requires MFA for admins
    cannot remove their last one; removing the last one otherwise also removes the recovery
    codes (sign-in is then by password alone)."""
    user = _lock_user(factor.user)
    kind = "totp" if isinstance(factor, TOTPDevice) else "passkey"
    remaining = (
        TOTPDevice.objects.filter(user=user).count()
        + WebAuthnCredential.objects.filter(user=user).count()
    )
    if remaining <= 1 and selectors.mfa_required_for(user=user):
        raise ValidationError(
            _(
                "Your organization requires 2-step verification for admins: add another method "
                "before you remove this one."
            ),
            code="last_factor_required",
        )
    type(factor).objects.filter(pk=factor.pk).delete()
    if remaining <= 1:
        RecoveryCode.objects.filter(user=user).delete()
    audit_record(
        actor=actor,
        action=AuditEvent.Action.MFA_REMOVE,
        organization=user.organization,
        target=user,
        detail=f"{kind}: {factor.name}",
    )


def _delete_all(user: User) -> dict[str, int]:
    return {
        "totp": TOTPDevice.objects.filter(user=user).delete()[0],
        "passkeys": WebAuthnCredential.objects.filter(user=user).delete()[0],
        "recovery_codes": RecoveryCode.objects.filter(user=user).delete()[0],
    }


@transaction.atomic
def mfa_reset(*, actor: Actor, user: User) -> dict[str, int]:
    """Remove every factor and recovery code of `user` and end their sessions (an admin or an
    operator helping someone who lost their device). Not for oneself: the security page is."""
    if actor.user is not None and actor.user.pk == user.pk:
        raise ValidationError(
            _("You cannot reset your own 2-step verification. Use your security page."),
            code="reset_self",
        )
    user = _lock_user(user)
    removed = _delete_all(user)
    if not any(removed.values()):
        return removed
    removed["sessions"] = user_sessions_end(user=user)
    audit_record(
        actor=actor,
        action=AuditEvent.Action.MFA_RESET,
        organization=user.organization,
        target=user,
        detail=", ".join(f"{k}={v}" for k, v in removed.items()),
    )
    return removed


def factors_erase(*, user: User) -> int:
    """Every factor and recovery code of a user being deleted (no audit record of its own:
    the deletion's record covers it). Called inside the deletion's transaction. On PostgreSQL
    one statement for the three tables (a deletion is counted in statements:
    docs/performance.md)."""
    if connection.vendor != "postgresql":
        return sum(_delete_all(user).values())
    totp_table, passkey_table, code_table = (
        model._meta.db_table for model in (TOTPDevice, WebAuthnCredential, RecoveryCode)
    )
    # Constant SQL from the models' table names; the user's id is a parameter.
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH t AS (DELETE FROM {totp_table} WHERE user_id = %s RETURNING 1), "  # noqa: S608
            f"p AS (DELETE FROM {passkey_table} WHERE user_id = %s RETURNING 1), "
            f"c AS (DELETE FROM {code_table} WHERE user_id = %s RETURNING 1) "
            "SELECT (SELECT count(*) FROM t) + (SELECT count(*) FROM p) "
            "+ (SELECT count(*) FROM c)",
            [user.pk, user.pk, user.pk],
        )
        return cursor.fetchone()[0]


# --- The organization's policy ------------------------------------------------------------------


@dataclass(frozen=True)
class PolicyChange:
    changed: bool
    admins_must_use_mfa: bool
    # Admins without a factor when the requirement was turned on: signed out, and taken to
    # enrolment at their next sign-in.
    signed_out: list[User] = field(default_factory=list)


@transaction.atomic
def policy_set(
    *, actor: Actor, organization: Organization, admins_must_use_mfa: bool
) -> PolicyChange:
    policy = (
        OrganizationPolicy.objects.select_for_update().filter(organization=organization).first()
    )
    if policy is None:
        policy = OrganizationPolicy(organization=organization)
    if policy.admins_must_use_mfa == admins_must_use_mfa:
        return PolicyChange(changed=False, admins_must_use_mfa=admins_must_use_mfa)
    if admins_must_use_mfa and actor.user is not None and not selectors.has_mfa(user=actor.user):
        # An admin cannot require of others what they have not set up (they would lock
        # themselves into enrolment at their next sign-in without noticing).
        raise ValidationError(
            _(
                "Set up 2-step verification for yourself first (Security in the top bar), then "
                "require it for every admin."
            ),
            code="actor_without_mfa",
        )
    policy.admins_must_use_mfa = admins_must_use_mfa
    policy.save()
    signed_out = []
    if admins_must_use_mfa:
        for admin in selectors.admins_without_mfa(organization=organization):
            if actor.user is not None and admin.pk == actor.user.pk:
                continue
            user_sessions_end(user=admin)
            signed_out.append(admin)
    audit_record(
        actor=actor,
        action=(
            AuditEvent.Action.MFA_REQUIRED_ON
            if admins_must_use_mfa
            else AuditEvent.Action.MFA_REQUIRED_OFF
        ),
        organization=organization,
        target_label=organization.slug,
        detail=("signed out: " + ", ".join(a.login_id for a in signed_out) if signed_out else ""),
    )
    return PolicyChange(
        changed=True, admins_must_use_mfa=admins_must_use_mfa, signed_out=signed_out
    )
