"""Shared fixtures of the security suite (docs/security.md): two organizations with similar data,
a payload that a missing check would turn into a write for every URL of the policy registry, and
a dump of every tenant-owned table to compare before and after a request."""

import functools
import io
import json
import subprocess
import uuid
from pathlib import Path

import pyotp
import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from accounts.models import Contract, User, UserSession
from analytics.models import CallRecord, Meeting, MeetingParticipant
from audit.models import AuditEvent, ChangeBatch
from audit.services import Actor
from exports.models import ActiveTransfer, ImportJob
from mfa.models import OrganizationPolicy, RecoveryCode, TOTPDevice, WebAuthnCredential
from miitel_admin.url_policy import POLICY
from permissions import catalog
from permissions.models import ServiceGrant
from scim.models import ScimToken
from scim.tokens import token_create
from sso import services as sso_services
from sso.models import SsoConfig, UsedAssertion
from tests.analytics.factories import (
    ByUserDailyFactory,
    CallRecordFactory,
    MeetingFactory,
    MeetingParticipantFactory,
)
from tests.factories import PASSWORD, AdminFactory, GrantFactory, UserFactory
from tests.mfa.factories import PasskeyFactory, TOTPDeviceFactory
from tests.sso.idp import TestIdp
from users import bulk
from users.changes import BatchSpec, Change, apply_changes

NEW_PASSWORD = "Qv7#mZp2Lx9w"
# Organization A's identity provider metadata (a real one, from the SSO tests' IdP).
TEST_IDP_METADATA = TestIdp().metadata_xml
IMPORT_CSV = (
    b"Login ID,User name,Locale,Time zone,Administrative privileges,Active\r\n"
    b"imported@a.example.com,Imported User,0,Asia/Tokyo,0,1\r\n"
)


def client_for(user, **kwargs) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client


def pending_client(world: dict, name: str = "mfa:verify", **kwargs) -> Client:
    """A browser that passed the password and waits at the second step `name` belongs to: admin
    A's second factor, or, for the enrolment URLs, an admin of A who must set one up."""
    if name.startswith("mfa:enrol"):
        OrganizationPolicy.objects.update_or_create(
            organization=world["org_a"], defaults={"admins_must_use_mfa": True}
        )
        if "enrolling_a" not in world:
            world["enrolling_a"] = AdminFactory(
                organization=world["org_a"], login_id="enrolling@a.example.com"
            )
        user, step = world["enrolling_a"], "mfa:enrol"
    else:
        user, step = world["admin_a"], "mfa:verify"
    client = Client(**kwargs)
    data = {"username": user.login_id, "password": PASSWORD}
    if kwargs.get("enforce_csrf_checks"):
        client.get(reverse("login"))
        data["csrfmiddlewaretoken"] = client.cookies[settings.CSRF_COOKIE_NAME].value
    response = client.post(reverse("login"), data)
    assert response.status_code == 302 and response["Location"] == reverse(step), response
    return client


def build_world(org_a, org_b, admin_a, member_a, admin_b) -> dict:
    """Organization A and B with the same kinds of data: a target member with a grant, a
    deactivated member, calls, a meeting with a participant, a validated import job holding
    generated passwords, and the admin's own authenticator app and passkey."""
    world = {"org_a": org_a, "org_b": org_b, "admin_a": admin_a, "member_a": member_a}
    world["admin_b"] = admin_b
    for key, org, admin in (("a", org_a, admin_a), ("b", org_b, admin_b)):
        target = UserFactory(
            organization=org, login_id=f"target@{key}.example.com", name=f"Target {key.upper()}"
        )
        GrantFactory(user=target, service=catalog.PHONE)
        inactive = UserFactory(
            organization=org,
            login_id=f"inactive@{key}.example.com",
            name=f"Inactive {key.upper()}",
            is_active=False,
        )
        CallRecordFactory(user=target, counterpart=f"03-0000-000{ord(key) % 10}")
        ByUserDailyFactory(user=target)
        meeting = MeetingFactory(host=target, title=f"Meeting of {key.upper()}")
        MeetingParticipantFactory(meeting=meeting, user=inactive)
        job = ImportJob.objects.create(
            organization=org,
            admin=admin,
            filename="users.csv",
            encoding="utf-8",
            content=IMPORT_CSV,
            report={},
            status=ImportJob.Status.VALIDATED,
            generated_passwords=[[f"gen@{key}.example.com", "Gx4#generated"]],
        )
        world[f"target_{key}"] = target
        world[f"inactive_{key}"] = inactive
        world[f"meeting_{key}"] = meeting
        world[f"job_{key}"] = job
        world[f"totp_{key}"] = TOTPDeviceFactory(user=admin)
        world[f"passkey_{key}"] = PasskeyFactory(user=admin)
        new = token_create(
            organization=org, actor=Actor.operator("test"), name=f"Entra ID {key.upper()}"
        )
        batched = UserFactory(organization=org, login_id=f"batched@{key}.example.com")
        world[f"batch_{key}"] = apply_changes(
            organization=org,
            actor=Actor.operator("test"),
            changes=[Change(user_id=batched.pk, fields={"is_active": False})],
            batch=BatchSpec(kind=ChangeBatch.Kind.DEACTIVATE),
        ).batch
        world[f"token_{key}"] = new.token
        world[f"token_secret_{key}"] = new.secret
        world[f"sso_{key}"] = sso_services.metadata_set(
            actor=Actor.operator("test"),
            organization=org,
            xml=TestIdp(entity_id=f"https://idp.example.test/{key}").metadata_xml.encode(),
        )
    return world


@pytest.fixture
def world(org_a, org_b, admin_a, member_a, admin_b):
    return build_world(org_a, org_b, admin_a, member_a, admin_b)


# --- URLs of the registry -----------------------------------------------------------------------

# The kwarg each scoped object is named by in its URL.
SCOPED_KWARG = {
    "user": "user_id",
    "meeting": "meeting_id",
    "import_job": "job_id",
    "totp_device": "factor_id",
    "passkey": "factor_id",
    "scim_token": "token_id",
    "batch": "batch_id",
}
SCOPED_MODEL = {
    "user": User,
    "meeting": Meeting,
    "totp_device": TOTPDevice,
    "passkey": WebAuthnCredential,
    "scim_token": ScimToken,
}
# The path arguments of the token-authenticated (SCIM) URLs: organization A's objects.
TOKEN_KWARGS = {
    "scim:resource_type": lambda world: {"type_id": "User"},
    "scim:schema": lambda world: {"schema_id": "urn:ietf:params:scim:schemas:core:2.0:User"},
    "scim:user": lambda world: {"user_id": world["target_a"].pk},
    "scim:group": lambda world: {"group_id": catalog.PHONE},
    "scim:unknown": lambda world: {"rest": "Nothing"},
    # Single sign-on's public URLs, per organization: organization A's.
    "sso:acs": lambda world: {"slug": world["org_a"].slug},
    "sso:metadata": lambda world: {"slug": world["org_a"].slug},
}


def scoped_object(name: str, world: dict, key: str = "a"):
    """The object of organization `key` that URL `name` acts on."""
    policy = POLICY[name]
    if policy.scoped == "user":
        return world[f"inactive_{key}"] if name == "users:activate" else world[f"target_{key}"]
    if policy.scoped == "meeting":
        return world[f"meeting_{key}"]
    if policy.scoped == "import_job":
        return world[f"job_{key}"]
    if policy.scoped == "totp_device":
        return world[f"totp_{key}"]
    if policy.scoped == "passkey":
        return world[f"passkey_{key}"]
    if policy.scoped == "scim_token":
        return world[f"token_{key}"]
    if policy.scoped == "batch":
        return world[f"batch_{key}"]
    return None


def missing_id(name: str):
    """An ID of the right type that names no object at all."""
    scoped = POLICY[name].scoped
    if scoped in ("import_job", "batch"):
        return uuid.uuid4()
    model = SCOPED_MODEL[scoped]
    return (model._base_manager.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1000


def url_of(name: str, world: dict, key: str = "a", object_id=None) -> str:
    policy = POLICY[name]
    if name in TOKEN_KWARGS:
        return reverse(name, kwargs=TOKEN_KWARGS[name](world))
    if policy.scoped is None:
        return reverse(name)
    if object_id is None:
        object_id = scoped_object(name, world, key).pk
    return reverse(name, kwargs={SCOPED_KWARG[policy.scoped]: object_id})


def payload(name: str, world: dict) -> dict:
    """A POST body that the view would act on (a missing check would write something)."""
    target = world["target_a"]
    if name == "login":
        return {"username": world["admin_a"].login_id, "password": PASSWORD}
    if name == "language":
        return {"language": "en", "next": "/users/"}
    if name == "password_change":
        return {
            "old_password": PASSWORD,
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        }
    if name == "users:create":
        return {
            "login_id": "created@a.example.com",
            "name": "Created User",
            "password": NEW_PASSWORD,
            "locale": "ja",
            "time_zone": "Asia/Tokyo",
            "role": "admin",
            "extension": "",
        }
    if name == "users:edit":
        return {
            "login_id": target.login_id,
            "name": "Renamed Target",
            "password": NEW_PASSWORD,
            "locale": "en",
            "time_zone": "Asia/Tokyo",
            "role": "admin",
            "extension": "",
            "is_active": "on",
        }
    if name == "users:bulk":
        return {"action": "deactivate", "scope": "selected", "ids": [target.pk]}
    if name == "users:bulk_apply":
        return {"token": bulk_token(world), "mode": "all"}
    if name in ("exports:export", "audit_export"):
        return {"encoding": "utf-8"}
    if name == "mfa:verify":
        return {"code": pyotp.TOTP(world["totp_a"].plain_secret).now()}
    if name in ("mfa:totp_add", "mfa:enrol"):
        return {"name": "Another phone", "code": "000000", "password": PASSWORD}
    if name in ("mfa:totp_remove", "mfa:passkey_remove", "mfa:recovery_regenerate"):
        return {"password": PASSWORD}
    if name == "mfa:policy":
        return {"admins_must_use_mfa": "on"}
    if name == "provisioning:tokens":
        return {"name": "Okta"}
    if name == "sso:start":
        return {"organization": world["org_a"].slug}
    if name == "sso:settings":
        return {"metadata": TEST_IDP_METADATA}
    if name == "sso:options":
        return {"enabled": "on", "match_by": "name_id", "allow_idp_initiated": "on"}
    if name == "exports:import":
        return {
            "file": SimpleUploadedFile("users.csv", IMPORT_CSV, content_type="text/csv"),
            "encoding": "utf-8",
        }
    return {}


def bulk_token(world: dict) -> str:
    """The pin of a bulk confirmation admin A was shown: deactivate the target."""
    target = world["target_a"]
    return bulk.pin_dumps(
        organization=world["org_a"],
        actor=world["admin_a"],
        pin=bulk.Pin(
            action=bulk.BulkAction(bulk.DEACTIVATE),
            pairs=[(target.pk, target.version)],
            refused=[],
        ),
    )


def request(client: Client, method: str, url: str, data: dict | None = None, **extra):
    """One request by method name; the body of PUT/PATCH/DELETE is form-encoded."""
    if method == "GET":
        return client.get(url, **extra)
    if method == "POST":
        return client.post(url, data or {}, **extra)
    body = "&".join(f"{k}={v}" for k, v in (data or {}).items() if isinstance(v, str))
    return getattr(client, method.lower())(
        url, body, content_type="application/x-www-form-urlencoded", **extra
    )


def consume(response) -> bytes:
    """The whole body (a streamed one too: the test client closes it at the end, which also
    releases what the stream holds)."""
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return response.content


def close(response) -> None:
    """Close a response as the server does when the client goes away mid-download. As the
    test client does for its own requests, the test's database connection stays open through
    the request_finished signal that closing sends."""
    from contextlib import ExitStack
    from unittest import mock

    from django.db import connections

    with ExitStack() as stack:
        for conn in connections.all(initialized_only=True):
            stack.enter_context(mock.patch.object(conn, "close_if_unusable_or_obsolete"))
        response.close()


# --- What a request may not change --------------------------------------------------------------


def _rows(qs) -> list[dict]:
    rows = []
    for row in qs.values():
        rows.append({k: bytes(v) if isinstance(v, memoryview) else v for k, v in row.items()})
    return rows


def dump(*, without_audit: bool = False) -> str:
    """Every row of the tables a request could wrongly change, as comparable text."""
    tables = {
        "users": User.all_objects.order_by("pk"),
        "grants": ServiceGrant.objects.order_by("pk"),
        "import_jobs": ImportJob.objects.order_by("pk"),
        "audit": AuditEvent.objects.order_by("pk"),
        "batches": ChangeBatch.objects.order_by("pk"),
        "transfers": ActiveTransfer.objects.order_by("pk"),
        "contracts": Contract.objects.order_by("pk"),
        "meetings": Meeting.objects.order_by("pk"),
        "participants": MeetingParticipant.objects.order_by("pk"),
        "calls": CallRecord.objects.order_by("pk"),
        "session_links": UserSession.objects.order_by("pk"),
        "totp_devices": TOTPDevice.objects.order_by("pk"),
        "passkeys": WebAuthnCredential.objects.order_by("pk"),
        "recovery_codes": RecoveryCode.objects.order_by("pk"),
        "mfa_policies": OrganizationPolicy.objects.order_by("pk"),
        "scim_tokens": ScimToken.objects.order_by("pk"),
        "sso_configs": SsoConfig.objects.order_by("pk"),
        "sso_break_glass": SsoConfig.break_glass.through.objects.order_by("pk"),
        "sso_used_assertions": UsedAssertion.objects.order_by("pk"),
    }
    if without_audit:
        del tables["audit"]
    out = io.StringIO()
    json.dump({k: _rows(v) for k, v in tables.items()}, out, default=str, sort_keys=True)
    return out.getvalue()


ROOT = Path(__file__).resolve().parents[2]


@functools.cache
def app_sources(*patterns: str) -> tuple[Path, ...]:
    """The project's own source files matching git `patterns` (tracked or new, not ignored),
    without tests, the bench and the tool folders: what the static checks scan."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", *patterns],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\0")
    skip = (".venv/", ".tools/", "tests/", "bench/")
    return tuple(ROOT / p for p in listed if p and not p.startswith(skip) and (ROOT / p).exists())
