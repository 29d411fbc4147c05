"""One rule set, every channel (docs/rules.md): each rule, broken the same way
through the Add/Edit user form, the operators' commands, the CSV import's dry run and apply, and
the change service called directly, gets the same verdict (refused, nothing written) and the
same message. The service's own problem gives the expected message; every channel must show it.

A channel that cannot express an input (the CSV has no column for an unknown service; an
operator has no "yourself"; the edit form does not offer your own role) is left out of that
row, with the reason beside it."""

import csv
import io
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import translation

from accounts.models import Contract, User
from audit.models import AuditEvent
from audit.services import Actor
from exports import importing
from permissions import catalog
from permissions.models import ServiceGrant
from permissions.services import field_name, grants_of
from tests.factories import AdminFactory, GrantFactory, UserFactory
from users.changes import Change, apply_changes

PASSWORD = "Kx7#pq92Lm"
CHANNELS = ("service", "form", "command", "import_dry_run", "import_apply")
CSV_HEADER = [
    "Login ID",
    "User name",
    "Extension number",
    "Locale",
    "Time zone",
    "Administrative privileges",
    "Monitoring privileges",
    "MiiTel Phone",
    "MiiTel Phone Mobile",
    "Edit meeting access permission",
    "Active",
    "Temporary password",
]
SERVICE_COLUMNS = {
    catalog.MONITORING: "Monitoring privileges",
    catalog.PHONE: "MiiTel Phone",
    catalog.PHONE_MOBILE: "MiiTel Phone Mobile",
}

# Why a channel is absent from some rows: it cannot say what the row says.
CSV_CODE = "the CSV carries it as a code: an unknown code is the file's own reading error"
NO_SELF_IN_FORM = "the edit form does not offer your own role or active flag"
NO_SELF_IN_COMMANDS = "an operator's command acts as no user"


@dataclass
class Case:
    code: str
    id: str
    # A new user's values, or, with `target`, the changes to an existing user.
    fields: dict = field(default_factory=dict)
    grants: dict | None = None
    password: str | None = PASSWORD
    target: str | None = None  # "member" or "other_admin": who is changed
    setup: str | None = None
    # Channel families ("form", "command", "import") that cannot express this row, and why.
    without: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.id


NEW = {"login_id": "taro.yamada@a.example.com", "name": "山田 太郎"}

CASES = [
    Case("required", "name-blank", {**NEW, "name": "   "}),
    Case("login_id_characters", "login-id-space", {**NEW, "login_id": "yamada taro@a.example.com"}),
    Case("login_id_domain_numeric", "login-id-numeric-tld", {**NEW, "login_id": "x@example.123"}),
    Case("user_name_too_long", "name-31", {**NEW, "name": "あ" * 31}),
    Case("user_name_control", "name-tab", {**NEW, "name": "Tab\there"}),
    Case("user_name_bidi", "name-bidi", {**NEW, "name": "Taro\u202eoraT"}),
    Case("extension_format", "extension-2-digits", {**NEW, "extension": "12"}),
    Case("time_zone_not_offered", "time-zone", {**NEW, "time_zone": "Europe/London"}),
    Case("role_invalid", "role", {**NEW, "role": "owner"}, without={"import": CSV_CODE}),
    Case("locale_invalid", "locale", {**NEW, "locale": "fr"}, without={"import": CSV_CODE}),
    Case("password_too_short", "password-short", NEW, password="Ab1!x"),
    Case("password_letters_only", "password-letters", NEW, password="abcdefghij"),
    Case("password_too_common", "password-common", NEW, password="password1"),
    Case("password_too_similar", "password-similar", NEW, password="Yamada#2024"),
    Case("password_context_word", "password-context", NEW, password="Miitel#2024"),
    Case("login_id_taken", "login-id-elsewhere", {**NEW, "login_id": "ADMIN@b.example.com"}),
    Case("extension_taken", "extension-taken", {**NEW, "extension": "300"}, setup="ext300"),
    Case(
        "service_not_in_contract",
        "mobile-not-contracted",
        NEW,
        grants={catalog.PHONE_MOBILE: ""},
        setup="no_mobile",
        without={"form": "the form offers only the contract's services"},
    ),
    Case("service_requires", "monitoring-alone", NEW, grants={catalog.MONITORING: ""}),
    Case("seat_limit", "phone-seats", NEW, grants={catalog.PHONE: ""}, setup="phone_full"),
    Case("user_limit", "users-full", NEW, setup="users_full"),
    Case(
        "service_unknown",
        "unknown-service",
        NEW,
        grants={"teleport": ""},
        without={
            "import": "the CSV has no column for an unknown service",
            "form": "the form offers only the catalog's services",
        },
    ),
    Case(
        "service_level",
        "meeting-level",
        NEW,
        grants={catalog.MEETING_ACCESS: "owner"},
        without={"import": CSV_CODE},
    ),
    Case(
        "last_admin",
        "last-admin-deactivated",
        {"is_active": False},
        password=None,
        target="other_admin",
        setup="actor_not_admin",
        without={"form": "the acting admin is an active admin, so the target is never the last"},
    ),
    Case(
        "self_deactivate",
        "deactivate-yourself",
        {"is_active": False},
        password=None,
        target="self",
        without={"form": NO_SELF_IN_FORM, "command": NO_SELF_IN_COMMANDS},
    ),
    Case(
        "self_demote",
        "demote-yourself",
        {"role": "member"},
        password=None,
        target="self",
        without={"form": NO_SELF_IN_FORM, "command": NO_SELF_IN_COMMANDS},
    ),
    Case(
        "extension_taken",
        "update-extension-taken",
        {"extension": "300"},
        password=None,
        target="member",
        setup="ext300",
    ),
]


def _params():
    for case in CASES:
        for channel in CHANNELS:
            family = "import" if channel.startswith("import") else channel
            if family in case.without:
                continue
            yield pytest.param(case, channel, id=f"{case.id}-{channel}")


# --- the world each row starts from ---------------------------------------------------------------


@pytest.fixture
def world(org_a, admin_a, member_a, admin_b):
    User.objects.filter(pk=admin_a.pk).update(locale=User.Locale.ENGLISH)
    admin_a.refresh_from_db()
    return {"org": org_a, "admin": admin_a, "member": member_a}


def _setup(case: Case, world: dict) -> None:
    org = world["org"]
    contract = Contract.objects.get(organization=org)
    if case.setup == "ext300":
        UserFactory(organization=org, login_id="holder@a.example.com", extension="300")
    elif case.setup == "no_mobile":
        contract.services = [c for c in contract.services if c != catalog.PHONE_MOBILE]
    elif case.setup == "phone_full":
        holder = UserFactory(organization=org, login_id="holder@a.example.com")
        GrantFactory(user=holder, service=catalog.PHONE)
        contract.service_limits = {catalog.PHONE: 1}
    elif case.setup == "users_full":
        contract.user_limit = User.objects.filter(organization=org).count()
    elif case.setup == "actor_not_admin":
        world["other_admin"] = AdminFactory(
            organization=org, login_id="other.admin@a.example.com", name="Other Admin"
        )
    contract.save()
    org.refresh_from_db()
    world["org"] = org
    if case.target == "other_admin" and "other_admin" not in world:
        world["other_admin"] = AdminFactory(organization=org, login_id="other.admin@a.example.com")
    if case.setup == "actor_not_admin":
        # The only other admin is the one being deactivated: the rows below act as an operator,
        # a file without an acting admin, or the service with no user.
        User.objects.filter(pk=world["admin"].pk).update(role=User.Role.MEMBER)


def _target(case: Case, world: dict) -> User | None:
    if case.target is None:
        return None
    key = {"self": "admin", "member": "member", "other_admin": "other_admin"}[case.target]
    return User.objects.get(pk=world[key].pk)


def _acting(case: Case, world: dict) -> User | None:
    return None if case.setup == "actor_not_admin" else world["admin"]


def _state(org) -> tuple:
    """Users (but the sign-in time the form's session stamps), grants and audit records."""
    columns = [f.attname for f in User._meta.concrete_fields if f.name != "last_login"]
    return (
        list(User.all_objects.filter(organization=org).order_by("pk").values(*columns)),
        list(ServiceGrant.objects.filter(organization=org).order_by("pk").values()),
        AuditEvent.objects.exclude(action=AuditEvent.Action.LOGIN).count(),
    )


def _change(case: Case, target: User | None) -> Change:
    if target is None:
        return Change(
            fields=dict(case.fields), grants=dict(case.grants or {}), password=case.password
        )
    return Change(user_id=target.pk, fields=dict(case.fields), grants=case.grants)


def _expected(case: Case, world: dict, target: User | None) -> str:
    """The rule's message, as the change service states it (its dry run, nothing written)."""
    result = apply_changes(
        organization=world["org"],
        actor=Actor(user=_acting(case, world), label="test"),
        changes=[_change(case, target)],
        commit=False,
    )
    problems = [p for p in result.problems if p.code == case.code]
    assert problems, [(p.code, p.message) for p in result.problems]
    return problems[0].message


# --- the channels -----------------------------------------------------------------------------


def _via_service(case, world, target) -> str:
    result = apply_changes(
        organization=world["org"],
        actor=Actor(user=_acting(case, world), label="test"),
        changes=[_change(case, target)],
    )
    assert not result.ok and not result.committed
    return " ".join(p.text for p in result.problems)


def _form_data(case: Case, target: User | None) -> dict:
    if target is None:
        data = {"locale": "ja", "time_zone": "Asia/Tokyo", "role": "member", "extension": ""}
        data.update(case.fields)
        data["password"] = case.password or ""
        for code, level in (case.grants or {}).items():
            data[field_name(code)] = level or "on"
        return data
    data = {
        "login_id": target.login_id,
        "name": target.name,
        "locale": target.locale,
        "time_zone": target.time_zone,
        "role": target.role,
        "extension": target.extension,
        "version": target.version,
    }
    if target.is_active:
        data["is_active"] = "on"
    for code, level in grants_of(target).items():
        data[field_name(code)] = level or "on"
    for key, value in case.fields.items():
        if key == "is_active":
            data.pop("is_active", None) if not value else data.update(is_active="on")
        else:
            data[key] = value
    return data


def _via_form(case, world, target) -> str:
    client = Client()
    client.force_login(world["admin"])
    url = reverse("users:edit", args=[target.pk]) if target else reverse("users:create")
    response = client.post(url, _form_data(case, target))
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def _services_option(grants: dict) -> str:
    return ",".join(f"{code}={level}" if level else code for code, level in grants.items())


def _via_command(case, world, target) -> str:
    org = world["org"]
    if target is None:
        args = ["create_user", "--organization", org.slug]
        options = {"login_id": "--login-id", "name": "--name", "time_zone": "--time-zone"}
        for key, value in case.fields.items():
            args += [options.get(key, f"--{key}"), value]
        if case.password:
            args += ["--password", case.password]
        if case.grants:
            args += ["--services", _services_option(case.grants)]
    elif case.fields == {"is_active": False}:
        args = ["deactivate_user", "--organization", org.slug, "--login-id", target.login_id]
    else:
        args = ["update_user", "--organization", org.slug, "--login-id", target.login_id]
        for key, value in case.fields.items():
            args += [f"--{key.replace('_', '-')}", value]
    with pytest.raises(CommandError) as refused:
        call_command(*args, stdout=io.StringIO(), stderr=io.StringIO())
    return str(refused.value)


def _csv(case: Case, target: User | None) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    if target is None:
        values = {"login_id": "", "name": "", "extension": "", "locale": "ja", **case.fields}
        grants = case.grants or {}
        active, admin = True, values.get("role") == User.Role.ADMIN
        password = case.password or ""
    else:
        values = {
            "login_id": target.login_id,
            "name": target.name,
            "extension": target.extension,
            "locale": target.locale,
            "time_zone": target.time_zone,
            **case.fields,
        }
        grants = grants_of(target) if case.grants is None else case.grants
        active = case.fields.get("is_active", target.is_active)
        admin = case.fields.get("role", target.role) == User.Role.ADMIN
        password = ""
    writer.writerow(
        [
            values["login_id"],
            values["name"],
            values["extension"],
            {"ja": "0", "en": "1"}.get(values["locale"], values["locale"]),
            values.get("time_zone", "Asia/Tokyo"),
            "1" if admin else "0",
            *("1" if code in grants else "0" for code in SERVICE_COLUMNS),
            {"host": "1", "all": "2"}.get(grants.get(catalog.MEETING_ACCESS, ""), "0"),
            "1" if active else "0",
            password,
        ]
    )
    return buffer.getvalue().encode()


def _via_import(case, world, target, *, apply: bool) -> str:
    data = _csv(case, target)
    acting = _acting(case, world)
    with translation.override("en"):
        if not apply:
            report = importing.validate_file(
                organization=world["org"],
                data=data,
                encoding="utf-8",
                acting_user=acting,
                language="en",
            )
        else:
            report, result = importing.apply_file(
                organization=world["org"],
                data=data,
                encoding="utf-8",
                language="en",
                actor=Actor(user=acting, label="test"),
            )
            assert result is None
    assert not report.ok
    return " ".join(message for row in report.rows for _column, message in row.errors)


VIA = {
    "service": _via_service,
    "form": _via_form,
    "command": _via_command,
    "import_dry_run": lambda case, world, target: _via_import(case, world, target, apply=False),
    "import_apply": lambda case, world, target: _via_import(case, world, target, apply=True),
}


@pytest.mark.parametrize(("case", "channel"), list(_params()))
def test_every_channel_gives_the_same_verdict_and_message(world, case, channel):
    _setup(case, world)
    target = _target(case, world)
    before = _state(world["org"])

    with translation.override("en"):
        expected = _expected(case, world, target)
        shown = VIA[channel](case, world, target)

    assert (escape(expected) if channel == "form" else expected) in shown, shown[:3000]
    assert _state(world["org"]) == before


def test_every_rule_of_docs_rules_md_has_a_row_here():
    """A rule added to docs/rules.md without a row here (or one removed from the service) fails."""
    text = (Path(__file__).resolve().parent.parent / "docs" / "rules.md").read_text()
    documented = set()
    for line in text.splitlines():
        if line.startswith("| `"):
            first_cell = line.split("|")[1]
            documented |= {part.strip(" `") for part in first_cell.split(",")}
    tested = {case.code for case in CASES}
    # Rules with their own, deeper tests (named here so that none is forgotten).
    elsewhere = {
        "login_id_too_long": "tests/users/test_validators.py",
        "login_id_at_sign": "tests/users/test_validators.py",
        "login_id_local_empty": "tests/users/test_validators.py",
        "login_id_local_too_long": "tests/users/test_validators.py",
        "login_id_local_dots": "tests/users/test_validators.py",
        "login_id_domain_format": "tests/users/test_validators.py",
        "login_id_domain_label_too_long": "tests/users/test_validators.py",
        "login_id_domain_label": "tests/users/test_validators.py",
        "password_too_long": "tests/users/test_validators.py",
        "password_characters": "tests/users/test_validators.py",
        "password_digits_only": "tests/users/test_validators.py",
        "external_id_invalid": "tests/users/test_changes.py",
        "deactivate_at_past": "tests/users/test_changes.py",
        "login_id_duplicate": "tests/users/test_changes.py",
        "self_delete": "tests/analytics/test_delete_service.py",
        "stale": "tests/users/test_stale_changes.py",
        "user_deleted": "tests/users/test_stale_changes.py",
        "user_missing": "tests/users/test_changes.py",
    }
    assert documented == tested | set(elsewhere), documented ^ (tested | set(elsewhere))
    root = Path(__file__).resolve().parent.parent
    for code, path in elsewhere.items():
        assert f'"{code}"' in (root / path).read_text(), f"{path} does not test {code}"
