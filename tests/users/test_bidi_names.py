"""Names that read as someone else: the Unicode bidirectional controls
(U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069) reorder what follows them, so
"Admin\u202eB rewoP" shows as "AdminPower B" in lists and the audit log. User names and
organization names refuse them with a message naming the field and the rule, on every channel:
the add and edit forms, the CSV import, and the operators' commands. Organization names also
refuse control characters (a NUL or an undecodable byte from a terminal was a 500)."""

import io
import json

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import translation

from accounts.models import Organization, User
from accounts.validators import (
    BIDI_CONTROLS,
    normalize_user_name,
    validate_organization_name,
    validate_user_name,
)
from audit.models import AuditEvent
from exports import importing
from tests.exports.test_import import make_csv, row
from tests.forms import edit_data, new_user_data

# Every character whose Unicode property Bidi_Control is Yes (Unicode 15.1 PropList.txt).
BIDI = {
    "ALM": "\u061c",
    "LRM": "\u200e",
    "RLM": "\u200f",
    "LRE": "\u202a",
    "RLE": "\u202b",
    "PDF": "\u202c",
    "LRO": "\u202d",
    "RLO": "\u202e",
    "LRI": "\u2066",
    "RLI": "\u2067",
    "FSI": "\u2068",
    "PDI": "\u2069",
}
# Their neighbours in the code charts, and the joiners emoji sequences need: accepted.
NEIGHBOURS = {
    "ZWNJ": "\u200c",
    "ZWJ": "\u200d",
    "NNBSP": "\u202f",
    "inhibit-swapping": "\u206a",
    "arabic-semicolon": "\u061b",
    "arabic-triple-dot": "\u061e",
}
SPOOF = "Admin\u202eB rewoP"


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


def test_the_set_is_exactly_unicodes_bidi_controls():
    assert set(BIDI_CONTROLS) == set(BIDI.values())


@pytest.mark.parametrize("char", BIDI.values(), ids=BIDI.keys())
@pytest.mark.parametrize("where", ["start", "middle", "end"])
def test_a_user_name_with_a_bidi_control_is_refused(char, where):
    name = {"start": char + "山田", "middle": "山田" + char + "太郎", "end": "Taro" + char}[where]
    with pytest.raises(ValidationError) as excinfo:
        validate_user_name(normalize_user_name(name))
    assert excinfo.value.code == "user_name_bidi"
    message = excinfo.value.messages[0]
    assert message.startswith("User name cannot contain characters that change the direction")
    assert repr(char)[1:-1] in message  # the character is named, escaped: it cannot be seen


@pytest.mark.parametrize("char", NEIGHBOURS.values(), ids=NEIGHBOURS.keys())
def test_a_user_name_with_a_neighbouring_character_is_accepted(char):
    validate_user_name(normalize_user_name("山田" + char + "太郎"))
    validate_user_name(normalize_user_name("👨\u200d👩\u200d👧 Family"))


@pytest.mark.parametrize("char", BIDI.values(), ids=BIDI.keys())
def test_an_organization_name_with_a_bidi_control_is_refused(char):
    with pytest.raises(ValidationError) as excinfo:
        validate_organization_name(f"Acme{char} Corp")
    assert excinfo.value.code == "organization_name_bidi"
    assert excinfo.value.messages[0].startswith(
        "Organization name cannot contain characters that change the direction"
    )


@pytest.mark.parametrize(
    "char",
    ["\x00", "\t", "\n", "\x1b", "\x7f", "\x85", "\u2028", "\u2029", "\udcff"],
    ids=["NUL", "tab", "LF", "ESC", "DEL", "NEL", "LS", "PS", "undecodable-byte"],
)
def test_an_organization_name_with_a_control_character_is_refused(char):
    with pytest.raises(ValidationError) as excinfo:
        validate_organization_name(f"Acme{char}Corp")
    assert excinfo.value.code == "organization_name_control"
    assert "Organization name" in excinfo.value.messages[0]


@pytest.mark.parametrize("name", ["", " ", "\u3000", "\u200b"])
def test_an_organization_name_without_a_visible_character_is_refused(name):
    with pytest.raises(ValidationError) as excinfo:
        validate_organization_name(name)
    assert excinfo.value.code == "required"


@pytest.mark.parametrize(
    "name", ["Acme", "株式会社 RevComm", "Ａｃｍｅ ①", "O'Brien & Co. (東京)", "😀" * 100]
)
def test_ordinary_organization_names_are_accepted(name):
    validate_organization_name(name)


# --- every channel ------------------------------------------------------------------------------


def users_and_audit():
    return list(User.all_objects.order_by("pk").values()), AuditEvent.objects.count()


@pytest.mark.django_db
def test_the_add_form_refuses_a_bidi_name(admin_client_a):
    User.objects.filter(login_id="admin@a.example.com").update(locale="en")
    before = users_and_audit()

    response = admin_client_a.post(reverse("users:create"), new_user_data(name=SPOOF))

    assert response.status_code == 200
    assert any("direction" in message for message in response.context["form"].errors["name"])
    assert users_and_audit() == before


@pytest.mark.django_db
def test_the_edit_form_refuses_a_bidi_name(admin_client_a, member_a):
    before = users_and_audit()

    response = admin_client_a.post(
        reverse("users:edit", args=[member_a.pk]), edit_data(member_a, name=SPOOF)
    )

    assert response.status_code == 200
    assert response.context["form"].errors["name"]
    assert users_and_audit() == before


@pytest.mark.django_db
def test_the_import_reports_a_bidi_name_as_a_row_error(org_a, admin_a, member_a):
    before = users_and_audit()
    data = make_csv([row("new@a.example.com", SPOOF), row(member_a.login_id, "Mem\u2067ber")])

    report = importing.validate_file(
        organization=org_a, data=data, encoding="utf-8", acting_user=admin_a, language="en"
    )

    assert not report.ok
    assert [(r.line, r.errors[0][0]) for r in report.error_rows] == [
        (2, "User name"),
        (3, "User name"),
    ]
    assert all("direction" in r.errors[0][1] for r in report.error_rows)
    assert users_and_audit() == before


def run(*args) -> str:
    with pytest.raises(CommandError) as excinfo:
        call_command(*args, stdout=io.StringIO(), stderr=io.StringIO())
    return str(excinfo.value)


@pytest.mark.django_db
def test_create_user_and_update_user_refuse_a_bidi_name(org_a, admin_a, member_a):
    before = users_and_audit()

    created = run(
        "create_user",
        "--organization",
        "org-a",
        "--login-id",
        "spoof@a.example.com",
        "--name",
        SPOOF,
        "--role",
        "member",
    )
    updated = run(
        "update_user", "--organization", "org-a", "--login-id", member_a.login_id, "--name", SPOOF
    )

    for message in (created, updated):
        assert message.startswith("name: User name cannot contain characters that change")
    assert users_and_audit() == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    "name",
    [SPOOF, "Acme\u2066Corp", "Acme\x00Corp"],
    ids=["RLO", "LRI", "NUL"],
)
def test_create_organization_refuses_the_name(name):
    audit_before = AuditEvent.objects.count()

    message = run(
        "create_organization", "--slug", "spoof", "--name", name, "--user-limit", "5", "--json"
    )

    assert message.startswith("name: Organization name cannot contain")
    assert not Organization.objects.filter(slug="spoof").exists()
    assert AuditEvent.objects.count() == audit_before


@pytest.mark.django_db
def test_create_organization_refuses_bytes_that_are_not_utf8_before_reading_them():
    """Every operator command refuses such an argument (users.management.base), naming it."""
    message = run(
        "create_organization", "--slug", "spoof", "--name", "Acme\udcffCorp", "--user-limit", "5"
    )
    assert message == "name: not valid text (bytes that are not UTF-8)."
    assert not Organization.objects.filter(slug="spoof").exists()


@pytest.mark.django_db
def test_create_organization_still_accepts_an_ordinary_name():
    out = io.StringIO()
    call_command(
        "create_organization",
        "--slug",
        "fine",
        "--name",
        "株式会社 Fine",
        "--user-limit",
        "5",
        "--json",
        stdout=out,
    )
    assert json.loads(out.getvalue())["name"] == "株式会社 Fine"
