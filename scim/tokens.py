"""SCIM bearer tokens: created (shown once), revoked, looked up and throttled.

A token is `mtscim_` and 43 URL-safe characters (256 random bits). The database holds its
SHA-256 only; a presented token is hashed and found by that hash through the unique index,
then the stored and computed hashes are compared in constant time."""

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Organization
from audit.models import AuditEvent
from audit.services import Actor, audit_record

from .models import ScimToken

TOKEN_PREFIX = "mtscim_"  # noqa: S105 (a marker, not a secret)
NAME_MAX_LENGTH = ScimToken._meta.get_field("name").max_length
WINDOW_SECONDS = 60


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass
class NewToken:
    token: ScimToken
    secret: str  # shown once, never stored


def _clean_name(name: str) -> str:
    name = " ".join(str(name or "").split())
    if not name:
        raise ValidationError(
            {"name": _("Give the token a name (for example “Microsoft Entra ID”).")},
            code="required",
        )
    if len(name) > NAME_MAX_LENGTH or not name.isprintable():
        raise ValidationError(
            {
                "name": _("The token name must be at most %(max)d printable characters.")
                % {"max": NAME_MAX_LENGTH}
            },
            code="invalid",
        )
    return name


def token_create(*, organization: Organization, actor: Actor, name: str) -> NewToken:
    """A new token for `organization`; its secret is returned once, here."""
    name = _clean_name(name)
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    taken = ValidationError(
        {"name": _("A token with this name already exists.")}, code="token_name_taken"
    )
    if ScimToken.objects.live().filter(organization=organization, name=name).exists():
        raise taken
    try:
        with transaction.atomic():
            token = ScimToken.objects.create(
                organization=organization,
                name=name,
                token_hash=hash_token(secret),
                prefix=secret[: len(TOKEN_PREFIX) + 4],
                created_by=actor.user,
                created_by_label=actor.label[:300],
            )
            audit_record(
                actor=actor,
                action=AuditEvent.Action.SCIM_TOKEN_CREATE,
                organization=organization,
                target_label=name,
            )
    except IntegrityError:
        # Another request created the same name meanwhile (the conditional unique constraint).
        raise taken from None
    return NewToken(token=token, secret=secret)


def token_revoke(*, token: ScimToken, actor: Actor) -> bool:
    """Revoke `token` at once (the next request with it gets 401). False if it already was."""
    with transaction.atomic():
        revoked = ScimToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        if revoked:
            audit_record(
                actor=actor,
                action=AuditEvent.Action.SCIM_TOKEN_REVOKE,
                organization=token.organization,
                target_label=token.name,
            )
    token.refresh_from_db(fields=["revoked_at"])
    return bool(revoked)


def token_for(authorization: str) -> ScimToken | None:
    """The live token an `Authorization: Bearer …` header names, or None."""
    scheme, _sep, secret = (authorization or "").strip().partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or not secret or len(secret) > 200:
        return None
    digest = hash_token(secret)
    token = (
        ScimToken.objects.live()
        .select_related("organization", "organization__contract")
        .filter(token_hash=digest)
        .first()
    )
    if token is None or not hmac.compare_digest(token.token_hash, digest):
        return None
    return token


def throttle(token: ScimToken) -> int | None:
    """Count one request of `token`; None when it is within the rate, else the seconds until
    the next window. One UPDATE: the counter is reset in a new window, raised in the current
    one only while under the limit, and the last-used time is set with it."""
    limit = settings.SCIM_REQUESTS_PER_MINUTE
    now = time.time()
    window = int(now // WINDOW_SECONDS)
    counted = (
        ScimToken.objects.filter(pk=token.pk)
        .filter(~Q(window=window) | Q(window_count__lt=limit))
        .update(
            window_count=Case(
                When(window=window, then=F("window_count") + 1),
                default=Value(1),
            ),
            window=window,
            last_used_at=timezone.now(),
        )
    )
    if counted:
        return None
    return max(1, int((window + 1) * WINDOW_SECONDS - now + 0.999))
