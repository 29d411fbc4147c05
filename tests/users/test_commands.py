"""Operators' commands (README.md): create_organization, set_contract, create_user, seed_demo.

Each command is a thin wrapper over the services the views use, so the same rules hold. Errors are
CommandError (stderr, exit status 1, no traceback) with one "field: message" line per problem, and
a refused command writes nothing.
"""

import io
import json
import os
import re
import sqlite3
import subprocess
import sys

import pytest
from django.conf import settings
from django.contrib.auth import password_validation
from django.core.management import CommandError, call_command

from accounts.models import Contract, Organization, User
from accounts.validators import password_rule_errors, validate_login_id
from audit.models import AuditEvent
from permissions import catalog
from permissions.models import ServiceGrant
from tests.factories import GrantFactory, OrganizationFactory, UserFactory

STRONG_PASSWORD = "Vq7#mZ2!pLx9"
TEMPORARY_PASSWORD_LINE = re.compile(r"^Temporary password: (\S+)$", re.MULTILINE)


# --- helpers ----------------------------------------------------------------------------------


def run(*args: str) -> tuple[str, str]:
    """Run a command as an operator types it (argv strings); return (stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def run_error(*args: str) -> list[str]:
    """Run a command that must be refused; return the lines of the operator's message."""
    with pytest.raises(CommandError) as excinfo:
        run(*args)
    lines = str(excinfo.value).splitlines()
    assert lines, "a refusal must say why"
    assert all(line.strip() for line in lines)
    return lines


def snapshot() -> dict[str, int]:
    """Row counts of everything the commands write."""
    return {
        "organizations": Organization.objects.count(),
        "contracts": Contract.objects.count(),
        "users": User.all_objects.count(),
        "grants": ServiceGrant.objects.count(),
        "audit": AuditEvent.objects.count(),
    }


def printed_password(stdout: str) -> str:
    matches = TEMPORARY_PASSWORD_LINE.findall(stdout)
    assert len(matches) == 1, stdout
    return matches[0]


def grants_of(user: User) -> dict[str, str]:
    return dict(ServiceGrant.objects.filter(user=user).values_list("service", "level"))


@pytest.fixture
def acme(db):
    """An organization with a full contract: 100 users, every service, 50 MiiTel Phone seats."""
    return OrganizationFactory(slug="acme", name="Acme")


def contract_of(slug: str) -> Contract:
    return Contract.objects.get(organization__slug=slug)


# --- create_organization ----------------------------------------------------------------------


@pytest.mark.django_db
def test_create_organization_creates_organization_and_contract():
    stdout, _ = run(
        "create_organization",
        "--slug",
        "acme",
        "--name",
        "Acme 株式会社",
        "--user-limit",
        "25",
        "--services",
        "phone,monitoring,call_history",
        "--service-limit",
        "phone=10",
    )

    organization = Organization.objects.get(slug="acme")
    assert organization.name == "Acme 株式会社"
    contract = organization.contract
    assert contract.user_limit == 25
    assert sorted(contract.services) == ["call_history", "monitoring", "phone"]
    assert contract.service_limits == {"phone": 10}
    assert "Created organization acme" in stdout
    assert User.all_objects.count() == 0


@pytest.mark.django_db
def test_create_organization_without_services_contracts_the_default_services():
    run("create_organization", "--slug", "acme", "--name", "Acme", "--user-limit", "5")

    contract = contract_of("acme")
    assert sorted(contract.services) == sorted(catalog.DEFAULT_CONTRACT_SERVICES)
    # The defaults leave out what needs a separate contract.
    assert catalog.PHONE_MOBILE not in contract.services
    assert catalog.MEETING_ACCESS not in contract.services
    assert contract.service_limits == {}


@pytest.mark.django_db
def test_create_organization_json_output_parses():
    stdout, _ = run(
        "create_organization",
        "--slug",
        "acme",
        "--name",
        "Acme",
        "--user-limit",
        "30",
        "--services",
        "phone,call_history",
        "--service-limit",
        "phone=7",
        "--json",
    )

    data = json.loads(stdout)
    assert data["slug"] == "acme"
    assert data["name"] == "Acme"
    assert data["user_limit"] == 30
    assert sorted(data["services"]) == ["call_history", "phone"]
    assert data["service_limits"] == {"phone": 7}


@pytest.mark.django_db
def test_create_organization_stores_each_service_once():
    run(
        "create_organization",
        "--slug",
        "acme",
        "--name",
        "Acme",
        "--user-limit",
        "5",
        "--services",
        "phone,call_history,phone",
    )

    assert sorted(contract_of("acme").services) == ["call_history", "phone"]


@pytest.mark.django_db
def test_create_organization_writes_an_audit_event():
    run(
        "create_organization",
        "--slug",
        "acme",
        "--name",
        "Acme",
        "--user-limit",
        "25",
        "--services",
        "phone,call_history",
        "--service-limit",
        "phone=10",
    )

    organization = Organization.objects.get(slug="acme")
    event = AuditEvent.objects.get(action=AuditEvent.Action.ORGANIZATION_CREATE)
    assert event.organization == organization
    assert event.target_label == "acme"
    assert event.actor is None
    assert event.actor_label.startswith("operator:create_organization")
    assert event.changes["user_limit"] == [None, 25]
    assert event.changes["services"] == [None, ["call_history", "phone"]]
    assert event.changes["service_limits"] == [None, {"phone": 10}]


@pytest.mark.django_db
def test_create_organization_refuses_a_duplicate_slug_and_creates_nothing():
    OrganizationFactory(slug="acme", name="The first Acme", contract__user_limit=7)
    before = snapshot()

    lines = run_error(
        "create_organization", "--slug", "acme", "--name", "Other", "--user-limit", "3"
    )

    assert len(lines) == 1
    assert lines[0].startswith("slug:")
    assert "acme" in lines[0]
    assert snapshot() == before
    existing = Organization.objects.get(slug="acme")
    assert existing.name == "The first Acme"
    assert existing.contract.user_limit == 7


@pytest.mark.django_db
def test_create_organization_refuses_an_unknown_service_code_naming_it():
    before = snapshot()

    lines = run_error(
        "create_organization",
        "--slug",
        "acme",
        "--name",
        "Acme",
        "--user-limit",
        "3",
        "--services",
        "phone,teleport",
    )

    assert len(lines) == 1
    assert lines[0].startswith("services:")
    assert "teleport" in lines[0]
    assert snapshot() == before


@pytest.mark.django_db
def test_create_organization_refuses_a_limit_for_a_service_without_seats():
    before = snapshot()

    lines = run_error(
        "create_organization",
        "--slug",
        "acme",
        "--name",
        "Acme",
        "--user-limit",
        "3",
        "--service-limit",
        "call_history=5",
    )

    assert len(lines) == 1
    assert lines[0].startswith("service-limit")
    assert "call_history" in lines[0]
    assert snapshot() == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("options", "field"),
    [
        (["--user-limit", "-1"], "user-limit:"),
        (["--user-limit", "3", "--service-limit", "phone=-2"], "service-limit"),
    ],
    ids=["negative-user-limit", "negative-phone-limit"],
)
def test_create_organization_refuses_negative_limits(options, field):
    before = snapshot()

    lines = run_error("create_organization", "--slug", "acme", "--name", "Acme", *options)

    assert len(lines) == 1
    assert lines[0].startswith(field)
    assert "negative" in lines[0]
    assert snapshot() == before


@pytest.mark.django_db
def test_create_organization_refuses_an_invalid_slug():
    before = snapshot()

    lines = run_error(
        "create_organization", "--slug", "not a slug", "--name", "X", "--user-limit", "1"
    )

    assert len(lines) == 1
    assert lines[0].startswith("slug:")
    assert snapshot() == before


# --- set_contract -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_set_contract_changes_only_the_user_limit_when_only_it_is_given(acme):
    services_before = sorted(contract_of("acme").services)

    stdout, stderr = run("set_contract", "acme", "--user-limit", "40")

    contract = contract_of("acme")
    assert contract.user_limit == 40
    assert sorted(contract.services) == services_before
    assert contract.service_limits == {"phone": 50}
    assert "Contract of acme saved." in stdout
    assert stderr == ""


@pytest.mark.django_db
def test_set_contract_changes_only_the_seat_limit_when_only_it_is_given(acme):
    services_before = sorted(contract_of("acme").services)

    run("set_contract", "acme", "--service-limit", "phone=5")

    contract = contract_of("acme")
    assert contract.user_limit == 100
    assert sorted(contract.services) == services_before
    assert contract.service_limits == {"phone": 5}


@pytest.mark.django_db
def test_set_contract_json_output_parses(acme):
    UserFactory(organization=acme)

    stdout, _ = run("set_contract", "acme", "--user-limit", "9", "--json")

    data = json.loads(stdout)
    assert data["slug"] == "acme"
    assert data["user_limit"] == 9
    assert data["users"] == 1


@pytest.mark.django_db
def test_set_contract_below_usage_warns_and_removes_nobody(acme):
    users = [UserFactory(organization=acme) for _ in range(3)]
    users[2].is_active = False
    users[2].save()
    for user in users[:2]:
        GrantFactory(user=user, service=catalog.PHONE)

    stdout, stderr = run("set_contract", "acme", "--user-limit", "2", "--service-limit", "phone=1")

    assert "Warning" in stderr
    assert "3" in stderr and "2" in stderr
    assert "MiiTel Phone" in stderr
    assert "Warning" not in stdout
    contract = contract_of("acme")
    assert contract.user_limit == 2
    assert contract.service_limits == {"phone": 1}
    assert User.objects.filter(organization=acme).count() == 3
    assert User.objects.filter(organization=acme, is_active=True).count() == 2
    assert ServiceGrant.objects.filter(organization=acme, service=catalog.PHONE).count() == 2

    # Adding is refused until usage is under the limit again.
    lines = run_error(
        "create_user", "--organization", "acme", "--login-id", "new@acme.example.com", "--name", "N"
    )
    # Operators are the vendor: they are told what to run, not to contact themselves.
    assert any("set_contract acme --user-limit" in line for line in lines)
    assert not any("contact us" in line for line in lines)
    assert User.objects.filter(organization=acme).count() == 3


@pytest.mark.django_db
def test_set_contract_unknown_slug_is_an_error_naming_it(acme):
    before = snapshot()

    lines = run_error("set_contract", "nope", "--user-limit", "3")

    assert len(lines) == 1
    assert lines[0].startswith("organization:")
    assert "nope" in lines[0]
    assert snapshot() == before


@pytest.mark.django_db
def test_set_contract_replacing_services_drops_the_limit_of_a_removed_service(acme):
    run("set_contract", "acme", "--services", "call_history,dashboard")

    contract = contract_of("acme")
    assert sorted(contract.services) == ["call_history", "dashboard"]
    assert contract.service_limits == {}
    assert contract.user_limit == 100


@pytest.mark.django_db
def test_set_contract_refuses_a_contract_that_breaks_a_rule_and_changes_nothing(acme):
    before = snapshot()
    contract_before = contract_of("acme")

    lines = run_error("set_contract", "acme", "--services", "monitoring,call_history")

    assert len(lines) == 1
    assert lines[0].startswith("services:")
    assert "monitoring" in lines[0]
    assert snapshot() == before
    contract = contract_of("acme")
    assert sorted(contract.services) == sorted(contract_before.services)
    assert contract.service_limits == contract_before.service_limits


@pytest.mark.django_db
def test_set_contract_refuses_a_negative_user_limit(acme):
    before = snapshot()

    lines = run_error("set_contract", "acme", "--user-limit=-5")

    assert len(lines) == 1
    assert lines[0].startswith("user-limit:")
    assert snapshot() == before
    assert contract_of("acme").user_limit == 100


@pytest.mark.django_db
def test_set_contract_writes_an_audit_event_with_before_and_after(acme):
    run("set_contract", "acme", "--user-limit", "40", "--services", "phone,call_history")

    event = AuditEvent.objects.get(action=AuditEvent.Action.CONTRACT_CHANGE)
    assert event.organization == acme
    assert event.target_label == "acme"
    assert event.actor_label.startswith("operator:set_contract")
    assert event.changes["user_limit"] == [100, 40]
    assert event.changes["services"] == [sorted(catalog.GRANTABLE_CODES), ["call_history", "phone"]]
    assert "service_limits" not in event.changes  # phone stays, and so does its limit


@pytest.mark.django_db
@pytest.mark.parametrize(
    "options",
    [[], ["--user-limit", "100"], ["--service-limit", "phone=50"]],
    ids=["no-options", "same-user-limit", "same-phone-limit"],
)
def test_set_contract_writes_no_audit_event_when_nothing_changed(acme, options):
    run("set_contract", "acme", *options)

    assert not AuditEvent.objects.filter(action=AuditEvent.Action.CONTRACT_CHANGE).exists()
    contract = contract_of("acme")
    assert contract.user_limit == 100
    assert contract.service_limits == {"phone": 50}


# --- create_user ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_create_user_with_every_option(acme):
    stdout, stderr = run(
        "create_user",
        "--organization",
        "acme",
        "--login-id",
        "Taro.Yamada@Example.com",
        "--name",
        "山田 太郎",
        "--password",
        STRONG_PASSWORD,
        "--role",
        "admin",
        "--locale",
        "en",
        "--extension",
        "1234",
        "--services",
        "phone,monitoring,call_history,meeting_access=host",
    )

    user = User.objects.get(login_id_key="taro.yamada@example.com")
    assert user.organization == acme
    assert user.login_id == "Taro.Yamada@Example.com"
    assert user.name == "山田 太郎"
    assert user.role == User.Role.ADMIN
    assert user.locale == User.Locale.ENGLISH
    assert user.time_zone == "Asia/Tokyo"
    assert user.extension == "1234"
    assert user.is_active
    assert user.must_change_password is True
    assert user.check_password(STRONG_PASSWORD)
    assert grants_of(user) == {
        "phone": "",
        "monitoring": "",
        "call_history": "",
        "meeting_access": "host",
    }
    assert "Added Taro.Yamada@Example.com" in stdout
    # A password the operator chose is not echoed back.
    assert STRONG_PASSWORD not in stdout + stderr
    assert "Temporary password" not in stdout

    event = AuditEvent.objects.get(action=AuditEvent.Action.USER_CREATE)
    assert event.target == user
    assert event.actor_label.startswith("operator:create_user")
    assert "password" not in event.changes
    assert STRONG_PASSWORD not in json.dumps(event.changes)


@pytest.mark.django_db
def test_create_user_defaults_to_a_japanese_member_without_services(acme):
    run(
        "create_user",
        "--organization",
        "acme",
        "--login-id",
        "m@acme.example.com",
        "--name",
        "Member",
        "--password",
        STRONG_PASSWORD,
    )

    user = User.objects.get(login_id_key="m@acme.example.com")
    assert user.role == User.Role.MEMBER
    assert user.locale == User.Locale.JAPANESE
    assert user.extension == ""
    assert user.must_change_password is True
    assert grants_of(user) == {}


@pytest.mark.django_db
def test_create_user_generates_a_temporary_password_that_satisfies_the_rule_and_verifies(acme):
    stdout, _ = run(
        "create_user", "--organization", "acme", "--login-id", "g@acme.example.com", "--name", "G"
    )

    password = printed_password(stdout)
    assert password_rule_errors(password) == []
    user = User.objects.get(login_id_key="g@acme.example.com")
    password_validation.validate_password(password, user)  # raises when refused
    assert user.check_password(password)
    assert user.must_change_password is True
    assert password not in json.dumps(AuditEvent.objects.get(target=user).changes)


@pytest.mark.django_db
def test_create_user_generated_passwords_differ_between_runs(acme):
    first, _ = run(
        "create_user", "--organization", "acme", "--login-id", "a@acme.example.com", "--name", "A"
    )
    second, _ = run(
        "create_user", "--organization", "acme", "--login-id", "b@acme.example.com", "--name", "B"
    )

    password_a, password_b = printed_password(first), printed_password(second)
    assert password_a != password_b
    assert User.objects.get(login_id_key="a@acme.example.com").check_password(password_a)
    assert not User.objects.get(login_id_key="b@acme.example.com").check_password(password_a)


@pytest.mark.django_db
def test_create_user_json_contains_the_temporary_password_only_when_generated(acme):
    generated, _ = run(
        "create_user",
        "--organization",
        "acme",
        "--login-id",
        "gen@acme.example.com",
        "--name",
        "Gen",
        "--services",
        "phone,call_history",
        "--json",
    )
    given, _ = run(
        "create_user",
        "--organization",
        "acme",
        "--login-id",
        "given@acme.example.com",
        "--name",
        "Given",
        "--password",
        STRONG_PASSWORD,
        "--json",
    )

    data = json.loads(generated)
    assert data["organization"] == "acme"
    assert data["login_id"] == "gen@acme.example.com"
    assert data["role"] == "member"
    assert sorted(data["services"]) == ["call_history", "phone"]
    assert User.objects.get(login_id_key="gen@acme.example.com").check_password(
        data["temporary_password"]
    )
    data = json.loads(given)
    assert data["login_id"] == "given@acme.example.com"
    assert "temporary_password" not in data
    assert STRONG_PASSWORD not in given


@pytest.mark.django_db
def test_create_user_extension_may_repeat_in_another_organization(acme):
    other = OrganizationFactory(slug="other")
    UserFactory(organization=other, extension="200")

    run(
        "create_user",
        "--organization",
        "acme",
        "--login-id",
        "x@acme.example.com",
        "--name",
        "X",
        "--password",
        STRONG_PASSWORD,
        "--extension",
        "200",
    )

    assert User.objects.get(login_id_key="x@acme.example.com").extension == "200"


def _base_user_args(**overrides) -> list[str]:
    values = {
        "--organization": "acme",
        "--login-id": "new.user@acme.example.com",
        "--name": "New User",
        "--password": STRONG_PASSWORD,
    }
    values.update(overrides)
    args = ["create_user"]
    for key, value in values.items():
        if value is not None:
            args += [key, value]
    return args


BAD_INPUT = [
    # (id, options, field prefix of every line, text the message must contain)
    ("invalid-login-id", {"--login-id": "not-an-email"}, "login-id:", "Login ID"),
    ("login-id-apostrophe", {"--login-id": "o'neil@example.com"}, "login-id:", "Login ID"),
    ("name-31-chars", {"--name": "あ" * 31}, "name:", "30"),
    ("name-blank", {"--name": "   "}, "name:", "User name"),
    ("extension-too-short", {"--extension": "12"}, "extension:", "3 to 6"),
    ("extension-not-digits", {"--extension": "12a4"}, "extension:", "3 to 6"),
    ("password-letters-only", {"--password": "abcdefghij"}, "password:", "letters only"),
    ("password-digits-only", {"--password": "8302916475"}, "password:", "digits only"),
    ("password-too-short", {"--password": "a1!"}, "password:", "at least 8"),
    ("password-bad-characters", {"--password": "Abc 1234567"}, "password:", "not allowed"),
    ("time-zone-not-offered", {"--time-zone": "Mars/Olympus"}, "time-zone:", "Mars/Olympus"),
    ("unknown-service", {"--services": "phone,teleport"}, "services:", "teleport"),
    ("admin-is-not-a-grant", {"--services": "admin"}, "services:", "admin"),
    ("monitoring-without-phone", {"--services": "monitoring"}, "services:", "Phone"),
    ("bad-meeting-level", {"--services": "meeting_access=owner"}, "services:", "Host"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("options", "field", "text"),
    [case[1:] for case in BAD_INPUT],
    ids=[case[0] for case in BAD_INPUT],
)
def test_create_user_bad_input_names_the_field_and_writes_nothing(acme, options, field, text):
    UserFactory(organization=acme, login_id="existing@acme.example.com", extension="300")
    before = snapshot()

    lines = run_error(*_base_user_args(**options))

    assert all(line.startswith(field) for line in lines), lines
    assert any(text in line for line in lines), lines
    assert snapshot() == before


@pytest.mark.django_db
def test_create_user_several_problems_give_one_line_each(acme):
    before = snapshot()

    lines = run_error(
        *_base_user_args(
            **{"--login-id": "nope", "--name": "x" * 31, "--extension": "1", "--password": "short"}
        )
    )

    fields = sorted(line.split(":", 1)[0] for line in lines)
    assert {"login-id", "name", "extension", "password"} <= set(fields)
    assert fields.count("login-id") == 1
    assert fields.count("name") == 1
    assert fields.count("extension") == 1
    assert snapshot() == before


@pytest.mark.django_db
def test_create_user_reports_every_problem_not_only_the_service_one(acme):
    """A bad name and an unknown service code in one command: both are reported."""
    before = snapshot()

    lines = run_error(*_base_user_args(**{"--name": "x" * 31, "--services": "teleport"}))

    assert any(line.startswith("name:") for line in lines), lines
    assert any(line.startswith("services:") and "teleport" in line for line in lines), lines
    assert snapshot() == before


@pytest.mark.django_db
def test_create_user_refuses_a_service_outside_the_contract(acme):
    contract = acme.contract
    contract.services = [c for c in contract.services if c != catalog.PHONE_MOBILE]
    contract.save()
    before = snapshot()

    lines = run_error(*_base_user_args(**{"--services": "call_history,phone_mobile"}))

    assert len(lines) == 1
    assert lines[0].startswith("services:")
    assert "MiiTel Phone Mobile" in lines[0]
    assert "set_contract acme --services" in lines[0]
    assert snapshot() == before


@pytest.mark.django_db
def test_create_user_refuses_a_login_id_used_in_another_organization_case_insensitively(acme):
    other = OrganizationFactory(slug="other")
    UserFactory(organization=other, login_id="Taken.User@Example.com")
    before = snapshot()

    lines = run_error(*_base_user_args(**{"--login-id": "taken.user@EXAMPLE.COM"}))

    assert len(lines) == 1
    assert lines[0].startswith("login-id:")
    assert "already in use" in lines[0]
    assert snapshot() == before


@pytest.mark.django_db
def test_create_user_refuses_a_login_id_with_surrounding_spaces_that_is_taken(acme):
    UserFactory(organization=acme, login_id="taken@acme.example.com")
    before = snapshot()

    lines = run_error(*_base_user_args(**{"--login-id": "  TAKEN@acme.example.com "}))

    assert len(lines) == 1
    assert lines[0].startswith("login-id:")
    assert snapshot() == before


@pytest.mark.django_db
def test_create_user_refuses_an_extension_used_in_the_same_organization(acme):
    UserFactory(organization=acme, extension="300")
    before = snapshot()

    lines = run_error(*_base_user_args(**{"--extension": "300"}))

    assert len(lines) == 1
    assert lines[0].startswith("extension:")
    assert "already used" in lines[0]
    assert snapshot() == before


@pytest.mark.django_db
def test_create_user_refuses_when_the_user_limit_is_reached(acme):
    contract = acme.contract
    contract.user_limit = 2
    contract.save()
    UserFactory(organization=acme)
    UserFactory(organization=acme, is_active=False)  # a deactivated user keeps their seat
    before = snapshot()

    lines = run_error(*_base_user_args())

    assert len(lines) == 1
    assert "set_contract acme --user-limit" in lines[0]
    assert "contact us" not in lines[0]
    assert "2" in lines[0]
    assert snapshot() == before


@pytest.mark.django_db
def test_create_user_refuses_when_the_phone_seats_are_taken(acme):
    contract = acme.contract
    contract.service_limits = {catalog.PHONE: 1}
    contract.save()
    GrantFactory(user=UserFactory(organization=acme), service=catalog.PHONE)
    before = snapshot()

    lines = run_error(*_base_user_args(**{"--services": "phone,call_history"}))

    assert len(lines) == 1
    assert lines[0].startswith("services:")
    assert "MiiTel Phone" in lines[0]
    assert "seats" in lines[0]
    assert "set_contract acme --service-limit phone=" in lines[0]
    assert snapshot() == before

    # Without MiiTel Phone the same user fits.
    run(*_base_user_args(**{"--services": "call_history"}))
    assert User.objects.filter(login_id_key="new.user@acme.example.com").exists()


@pytest.mark.django_db
def test_create_user_unknown_organization_is_an_error_naming_it(acme):
    before = snapshot()

    lines = run_error(*_base_user_args(**{"--organization": "nope"}))

    assert lines == ["organization: no organization with the slug “nope”."]
    assert snapshot() == before


# --- seed_demo --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_migrate_alone_creates_no_accounts():
    """The test database is freshly migrated: no default organization, admin or password."""
    assert User.all_objects.count() == 0
    assert Organization.objects.count() == 0


@pytest.mark.django_db
def test_seed_demo_creates_a_demo_organization_with_an_admin_and_members():
    stdout, _ = run("seed_demo")

    organization = Organization.objects.get(slug="demo")
    admin = User.objects.get(login_id_key="admin@demo.example.com")
    assert admin.organization == organization
    assert admin.role == User.Role.ADMIN
    assert admin.is_active
    assert admin.must_change_password is True
    password = printed_password(stdout)
    assert password_rule_errors(password) == []
    assert admin.check_password(password)
    assert "admin@demo.example.com" in stdout
    members = User.objects.filter(organization=organization).exclude(pk=admin.pk)
    assert members.count() == 12
    # Members get random temporary passwords that are never shown: only the printed admin can
    # sign in, and the admin's password opens no member.
    assert stdout.count("Temporary password") == 1
    assert all(member.must_change_password for member in members)
    assert not any(member.check_password(password) for member in members)


@pytest.mark.django_db
def test_seed_demo_respects_its_own_contract_and_the_user_rules():
    run("seed_demo", "--users", "40", "--seed", "7")

    organization = Organization.objects.get(slug="demo")
    contract = organization.contract
    users = list(User.objects.filter(organization=organization))
    assert len(users) == 41
    assert len(users) <= contract.user_limit
    phone = ServiceGrant.objects.filter(organization=organization, service=catalog.PHONE)
    assert phone.count() <= contract.seat_limit(catalog.PHONE)
    phone_users = set(phone.values_list("user_id", flat=True))
    monitoring_users = set(
        ServiceGrant.objects.filter(
            organization=organization, service=catalog.MONITORING
        ).values_list("user_id", flat=True)
    )
    assert monitoring_users <= phone_users
    extensions = [u.extension for u in users if u.extension]
    assert len(extensions) == len(set(extensions))
    for user in users:
        validate_login_id(user.login_id)
        assert len(user.name) <= 30


@pytest.mark.django_db
def test_seed_demo_twice_prints_different_passwords():
    first, _ = run("seed_demo", "--users", "2")
    second, _ = run("seed_demo", "--users", "2", "--slug", "demo2")

    password_1, password_2 = printed_password(first), printed_password(second)
    assert password_1 != password_2
    admin_1 = User.objects.get(login_id_key="admin@demo.example.com")
    admin_2 = User.objects.get(login_id_key="admin@demo2.example.com")
    assert admin_1.check_password(password_1)
    assert admin_2.check_password(password_2)
    assert not admin_2.check_password(password_1)


@pytest.mark.django_db
def test_seed_demo_if_empty_does_nothing_when_an_organization_exists(acme):
    before = snapshot()

    stdout, _ = run("seed_demo", "--if-empty")

    assert snapshot() == before
    assert not Organization.objects.filter(slug="demo").exists()
    assert "nothing seeded" in stdout
    assert "Temporary password" not in stdout


@pytest.mark.django_db
def test_seed_demo_if_empty_seeds_an_empty_database():
    stdout, _ = run("seed_demo", "--if-empty", "--users", "1")

    admin = User.objects.get(login_id_key="admin@demo.example.com")
    assert admin.check_password(printed_password(stdout))


@pytest.mark.django_db
def test_seed_demo_refuses_an_existing_slug(acme):
    before = snapshot()

    lines = run_error("seed_demo", "--slug", "acme")

    assert len(lines) == 1
    assert lines[0].startswith("slug:")
    assert snapshot() == before


@pytest.mark.django_db
def test_seed_demo_refuses_an_invalid_slug_with_a_command_error():
    """Not a ValidationError traceback: every refusal is a CommandError."""
    before = snapshot()

    lines = run_error("seed_demo", "--slug", "not a slug")

    assert lines[0].startswith("slug:")
    assert snapshot() == before


@pytest.mark.django_db
def test_seed_demo_slug_with_underscore_creates_only_valid_login_ids():
    """A slug may hold "_", a login ID's domain may not: refuse, or create valid IDs."""
    try:
        run("seed_demo", "--slug", "my_demo", "--users", "2")
    except CommandError:
        assert not Organization.objects.filter(slug="my_demo").exists()
        return
    for user in User.objects.filter(organization__slug="my_demo"):
        validate_login_id(user.login_id)


@pytest.mark.django_db
def test_seed_demo_refuses_when_its_admin_login_id_is_taken_and_creates_nothing():
    other = OrganizationFactory(slug="other")
    UserFactory(organization=other, login_id="admin@demo.example.com")
    before = snapshot()

    lines = run_error("seed_demo", "--users", "2")

    assert any(line.startswith("login-id:") for line in lines), lines
    assert snapshot() == before
    assert not Organization.objects.filter(slug="demo").exists()


# --- a real process: exit status, stderr, no traceback ----------------------------------------


@pytest.fixture(scope="module")
def migrated_database(tmp_path_factory):
    """A separate SQLite database that only `migrate` has touched, and the env to reach it."""
    path = tmp_path_factory.mktemp("commands") / "fresh.sqlite3"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "miitel_admin.settings_test",
        "DATABASE_URL": f"sqlite:///{path}",
        "PYTHONIOENCODING": "utf-8",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return path, env


def test_migrate_alone_leaves_no_accounts_in_a_real_database(migrated_database):
    path, _ = migrated_database
    assert (User._meta.db_table, Organization._meta.db_table) == (
        "users_user",
        "users_organization",
    )
    with sqlite3.connect(path) as connection:
        users = connection.execute("SELECT COUNT(*) FROM users_user").fetchone()[0]
        organizations = connection.execute("SELECT COUNT(*) FROM users_organization").fetchone()[0]
    assert users == 0
    assert organizations == 0


def test_create_user_for_an_unknown_organization_exits_1_without_a_traceback(migrated_database):
    _, env = migrated_database
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "create_user",
            "--organization",
            "nope",
            "--login-id",
            "someone@example.com",
            "--name",
            "Someone",
        ],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        check=False,
    )

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "organization" in lines[0]
    assert "nope" in lines[0]
    assert "Temporary password" not in result.stdout


@pytest.mark.django_db
@pytest.mark.parametrize(
    "args",
    [
        ("list_users", "--organization", "acme", "--search", "ab\udcff"),
        ("update_user", "--organization", "acme", "--login-id", "x\udcffy@acme.example.com"),
        ("deactivate_user", "--organization", "ac\udcffme", "--login-id", "a@acme.example.com"),
        ("set_contract", "ac\udcffme", "--user-limit", "3"),
    ],
    ids=["search", "login-id", "organization", "slug"],
)
def test_an_argument_that_is_not_utf8_is_refused_naming_the_option(acme, args):
    """A terminal in another encoding hands Python undecodable bytes as lone surrogates."""
    before = snapshot()
    lines = run_error(*args)
    assert len(lines) == 1
    assert "not valid text" in lines[0]
    assert snapshot() == before
