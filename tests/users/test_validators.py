"""The field rules of docs/rules.md at their boundaries: accounts.validators, and the same
rules through the Add new user form (the form reads, the change service decides)."""

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.utils import translation

from accounts.models import Organization, User
from accounts.validators import (
    PublishedPasswordRuleValidator,
    normalize_login_id,
    normalize_user_name,
    password_rule_errors,
    validate_extension,
    validate_login_id,
    validate_user_name,
)
from audit.services import Actor
from users.changes import apply_changes
from users.forms import UserForm

# The published symbol sets exactly as docs/rules.md prints them, one character each.
PUBLISHED_LOGIN_ID_SYMBOLS = "@ ! # $ % & * + - / = ? ^ _ ` { | } ~ ."
PUBLISHED_PASSWORD_SYMBOLS = "^ $ * . [ ] { } ( ) ? \" ! @ # % & / \\ , > < ' : ; | _ ~ ` = + -"
LOGIN_ID_SYMBOLS = PUBLISHED_LOGIN_ID_SYMBOLS.split()
PASSWORD_SYMBOLS = PUBLISHED_PASSWORD_SYMBOLS.split()
GOOD_PASSWORD = "Tq7#vLp2!xZm"


@pytest.fixture(autouse=True)
def _english():
    """Messages are asserted in English (LANGUAGE_CODE is ja)."""
    with translation.override("en"):
        yield


def _login_id_error(value: str) -> ValidationError:
    with pytest.raises(ValidationError) as excinfo:
        validate_login_id(value)
    return excinfo.value


def _user_name_error(raw: str) -> ValidationError:
    with pytest.raises(ValidationError) as excinfo:
        validate_user_name(normalize_user_name(raw))
    return excinfo.value


def _codes(errors: list[ValidationError]) -> list[str]:
    return [error.code for error in errors]


def _domain_of_length(length: int) -> str:
    """A valid domain of exactly `length` characters: labels of at most 63, last one letters."""
    labels = []
    remaining = length
    while remaining > 63:
        take = min(63, remaining - 2)  # leave room for the dot and a one-character last label
        labels.append("d" * take)
        remaining -= take + 1
    labels.append("c" * remaining)
    domain = ".".join(labels)
    assert len(domain) == length
    assert all(1 <= len(label) <= 63 for label in labels)
    assert len(labels) >= 2
    return domain


def _login_id_of_length(length: int) -> str:
    login_id = "a" * 64 + "@" + _domain_of_length(length - 65)
    assert len(login_id) == length
    return login_id


# --- Login ID: lengths -------------------------------------------------------------------------


def test_login_id_local_part_of_64_characters_is_accepted():
    validate_login_id("a" * 64 + "@example.com")


def test_login_id_local_part_of_65_characters_is_refused():
    error = _login_id_error("a" * 65 + "@example.com")
    assert error.code == "login_id_local_too_long"
    assert "64" in error.message


def test_login_id_of_254_characters_is_accepted():
    validate_login_id(_login_id_of_length(254))


def test_login_id_of_255_characters_is_refused():
    error = _login_id_error(_login_id_of_length(255))
    assert error.code == "login_id_too_long"
    assert "254" in error.message
    assert "255" in error.message


def test_login_id_domain_label_of_63_characters_is_accepted():
    validate_login_id("a@" + "b" * 63 + ".com")


def test_login_id_domain_label_of_64_characters_is_refused():
    error = _login_id_error("a@" + "b" * 64 + ".com")
    assert error.code == "login_id_domain_label_too_long"
    assert "63" in error.message


def test_login_id_last_domain_label_of_64_characters_is_refused():
    assert _login_id_error("a@example." + "c" * 64).code == "login_id_domain_label_too_long"


# --- Login ID: characters ----------------------------------------------------------------------


@pytest.mark.parametrize("symbol", [s for s in LOGIN_ID_SYMBOLS if s not in "@."])
@pytest.mark.parametrize("template", ["{}ab", "a{}b", "ab{}", "{}"])
def test_login_id_published_symbol_is_accepted_in_local_part(symbol, template):
    validate_login_id(template.format(symbol) + "@example.com")


@pytest.mark.parametrize("local", ["a.b", "a.b.c", "taro.yamada", "a.-b"])
def test_login_id_dot_is_accepted_inside_local_part(local):
    validate_login_id(local + "@example.com")


@pytest.mark.parametrize(
    "char",
    [
        "'",
        " ",
        ",",
        '"',
        "(",
        ")",
        "[",
        "]",
        "\\",
        ":",
        ";",
        "<",
        ">",
        "é",
        "ａ",  # full-width a
        "１",  # full-width 1
        "＠",  # full-width @
        "　",  # ideographic space
        "漢",
        "\x00",
        "\t",
    ],
)
def test_login_id_refused_character_is_refused(char):
    error = _login_id_error(f"ta{char}ro@example.com")
    assert error.code == "login_id_characters"
    shown = repr(char)[1:-1] if not char.isprintable() or char.isspace() else char
    assert f"“{shown}”" in error.message


@pytest.mark.parametrize("char", ["'", "é", "ａ", "_"])
def test_login_id_refused_character_is_refused_in_domain(char):
    error = _login_id_error(f"taro@exa{char}mple.com")
    assert error.code in {"login_id_characters", "login_id_domain_label"}


def test_login_id_apostrophe_is_refused_even_as_email_allows_it():
    assert _login_id_error("o'brien@example.com").code == "login_id_characters"


def test_login_id_uppercase_is_accepted():
    validate_login_id("Taro.YAMADA@Example.COM")


# --- Login ID: structure -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("", "required"),
        ("taro.example.com", "login_id_at_sign"),
        ("taro@yamada@example.com", "login_id_at_sign"),
        ("@@example.com", "login_id_at_sign"),
        ("@example.com", "login_id_local_empty"),
        (".taro@example.com", "login_id_local_dots"),
        ("taro.@example.com", "login_id_local_dots"),
        ("ta..ro@example.com", "login_id_local_dots"),
        (".@example.com", "login_id_local_dots"),
        ("taro@", "login_id_domain_format"),
        ("taro@localhost", "login_id_domain_format"),
        ("taro@example..com", "login_id_domain_format"),
        ("taro@.example.com", "login_id_domain_format"),
        ("taro@example.com.", "login_id_domain_format"),
        ("taro@-example.com", "login_id_domain_label"),
        ("taro@example-.com", "login_id_domain_label"),
        ("taro@example.-com", "login_id_domain_label"),
        ("taro@example.com-", "login_id_domain_label"),
        ("taro@example.123", "login_id_domain_numeric"),
        ("taro@192.168.0.1", "login_id_domain_numeric"),
    ],
)
def test_login_id_structure_rule_is_enforced(value, code):
    error = _login_id_error(value)
    assert error.code == code
    assert "login id" in error.message.lower()


@pytest.mark.parametrize(
    "value",
    [
        "a@b.co",
        "taro@mail.example.co.jp",
        "taro@ex-am-ple.com",
        "taro@123.example.com",
        "taro@example.c0m",
        "taro@x.y",
    ],
)
def test_login_id_valid_domain_is_accepted(value):
    validate_login_id(value)


def test_login_id_surrounding_whitespace_is_not_the_validators_job():
    """The form trims first (tested below); the bare validator sees a space as a character."""
    assert _login_id_error(" taro@example.com").code == "login_id_characters"


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("  Taro.Yamada@Example.COM  ", "taro.yamada@example.com"),
        ("\tTARO@EXAMPLE.COM\n", "taro@example.com"),
        ("taro@example.com", "taro@example.com"),
    ],
)
def test_normalize_login_id_strips_and_lower_cases(raw, key):
    assert normalize_login_id(raw) == key


# --- User name ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["漢" * 30, "a" * 30, "か\u3099" * 30, "  " + "漢" * 30 + "\u3000"]
)
def test_user_name_of_30_characters_is_accepted(name):
    validate_user_name(normalize_user_name(name))


@pytest.mark.parametrize("name", ["漢" * 31, "a" * 31, "か\u3099" * 31])
def test_user_name_of_31_characters_is_refused(name):
    error = _user_name_error(name)
    assert error.code == "user_name_too_long"
    assert "User name" in error.message
    assert "30" in error.message


def test_user_name_is_nfc_normalised():
    decomposed = "か\u3099"
    assert len(decomposed) == 2
    assert normalize_user_name(decomposed) == "が"
    assert normalize_user_name("山田 " + decomposed * 2) == "山田 がが"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  山田 太郎  ", "山田 太郎"),
        ("\u3000山田 太郎\u3000", "山田 太郎"),
        ("\tTaro Yamada\n", "Taro Yamada"),
    ],
)
def test_user_name_surrounding_whitespace_is_trimmed(raw, expected):
    assert normalize_user_name(raw) == expected


@pytest.mark.parametrize("name", ["", " ", "   ", "\u3000", "\t\n"])
def test_user_name_blank_is_refused(name):
    error = _user_name_error(name)
    assert error.code == "required"
    assert "User name" in error.message


@pytest.mark.parametrize(
    "char",
    ["\t", "\n", "\r", "\x00", "\x1b", "\x7f", "\x85", "\u2028", "\u2029", "\ud800"],
    ids=["tab", "LF", "CR", "NUL", "ESC", "DEL", "NEL", "LS", "PS", "surrogate"],
)
def test_user_name_control_character_is_refused(char):
    error = _user_name_error(f"山田{char}太郎")
    assert error.code == "user_name_control"
    assert "User name" in error.message


@pytest.mark.parametrize("name", ["山田😀", "👍🏽" * 10, "Taro 🎉 Yamada", "😀" * 30])
def test_user_name_emoji_is_accepted(name):
    validate_user_name(normalize_user_name(name))


def test_user_name_with_inner_spaces_and_symbols_is_accepted():
    validate_user_name(normalize_user_name("O'Brien, Jr. (営業部)"))


# --- Extension number --------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["", "123", "0012", "123456", "000"])
def test_extension_accepted(value):
    validate_extension(value)


@pytest.mark.parametrize(
    "value",
    ["1", "12", "1234567", "12a", "abc", "１２３", "١٢٣", "12 3", "-123", "+8112", "123\n", "12.3"],
)
def test_extension_refused(value):
    with pytest.raises(ValidationError) as excinfo:
        validate_extension(value)
    assert excinfo.value.code == "extension_format"
    assert "Extension number" in excinfo.value.message


# --- Password: the published rule --------------------------------------------------------------


def test_password_of_7_characters_is_too_short():
    assert _codes(password_rule_errors("abcd123")) == ["password_too_short"]


def test_password_of_8_characters_is_accepted():
    assert password_rule_errors("abcd1234") == []


def test_password_of_128_characters_is_accepted():
    assert password_rule_errors("a" * 127 + "1") == []


def test_password_of_129_characters_is_too_long():
    assert _codes(password_rule_errors("a" * 128 + "1")) == ["password_too_long"]


def test_password_letters_only_is_refused():
    assert _codes(password_rule_errors("abcdEFGH")) == ["password_letters_only"]


def test_password_digits_only_is_refused():
    assert _codes(password_rule_errors("12345678")) == ["password_digits_only"]


@pytest.mark.parametrize("password", ["abcd1234", "1234abcd", "abcdefg!", "1234567!", "!@#$%^&*"])
def test_password_mixed_classes_are_accepted(password):
    assert password_rule_errors(password) == []


@pytest.mark.parametrize("symbol", PASSWORD_SYMBOLS)
def test_password_published_symbol_is_accepted(symbol):
    assert password_rule_errors("Abcdef1" + symbol) == []


@pytest.mark.parametrize(
    "char",
    [" ", "é", "ａ", "１", "　", "\t", "\x00"],
    ids=["space", "e-acute", "fullwidth-a", "fullwidth-1", "ideographic-space", "tab", "NUL"],
)
def test_password_refused_character_is_refused(char):
    errors = password_rule_errors("Abcdef1" + char)
    assert _codes(errors) == ["password_characters"]
    assert "Password" in errors[0].message


def test_password_length_is_counted_in_code_points():
    # 8 code points but 9 UTF-8 bytes: not too short (only the character is wrong).
    assert _codes(password_rule_errors("Abcdef1é")) == ["password_characters"]
    # 7 code points, 8 bytes: too short.
    assert "password_too_short" in _codes(password_rule_errors("Abcde1é"))
    # 128 code points, 129 bytes: not too long.
    assert _codes(password_rule_errors("a" * 126 + "1é")) == ["password_characters"]


def test_password_rule_reports_every_broken_rule():
    assert _codes(password_rule_errors("")) == ["password_too_short"]
    assert _codes(password_rule_errors("abc")) == ["password_too_short", "password_letters_only"]
    assert _codes(password_rule_errors("1 2")) == ["password_too_short", "password_characters"]


def test_published_password_rule_validator_raises_every_error():
    validator = PublishedPasswordRuleValidator()
    assert validator.validate("abcd1234") is None
    with pytest.raises(ValidationError) as excinfo:
        validator.validate("abc")
    assert _codes(excinfo.value.error_list) == ["password_too_short", "password_letters_only"]
    assert "8" in validator.get_help_text()
    assert "128" in validator.get_help_text()


# --- Password: Django's AUTH_PASSWORD_VALIDATORS -----------------------------------------------


def _probe_user(login_id="hanako.tanaka@example.com", name="山田 太郎"):
    organization = Organization(name="Blue Harbor", slug="blue-harbor")
    return User(login_id=login_id, name=name, organization=organization)


def _django_password_codes(password: str, user) -> list[str]:
    with pytest.raises(ValidationError) as excinfo:
        validate_password(password, user)
    return _codes(excinfo.value.error_list)


@pytest.mark.parametrize("password", ["password1", "qwerty123", "iloveyou1"])
def test_common_password_passing_the_published_rule_is_refused(password):
    assert password_rule_errors(password) == []
    assert "password_too_common" in _django_password_codes(password, _probe_user())


@pytest.mark.parametrize("password", ["Tanaka2024!", "Hanako#2024", "tanaka.hanako@1"])
def test_password_similar_to_login_id_is_refused(password):
    assert password_rule_errors(password) == []
    assert "password_too_similar" in _django_password_codes(password, _probe_user())


def test_password_similar_to_user_name_is_refused():
    user = _probe_user(login_id="u1@example.com", name="Kobayashi Satoshi")
    assert "password_too_similar" in _django_password_codes("Kobayashi#77", user)


@pytest.mark.parametrize(
    "password",
    ["xMiitel-2024!", "revcomm#1", "blue-harbor99", "Harbor#2024"],
    ids=["product", "company", "organization-slug", "organization-name-word"],
)
def test_password_with_context_word_is_refused(password):
    assert password_rule_errors(password) == []
    assert "password_context_word" in _django_password_codes(password, _probe_user())


def test_random_looking_password_passes_every_validator():
    assert validate_password(GOOD_PASSWORD, _probe_user()) is None


def test_django_validators_include_the_published_rule():
    assert _django_password_codes("Qwzxkvjtnm", _probe_user()) == ["password_letters_only"]


# --- UserForm ----------------------------------------------------------------------------------

TEXT_FIELDS = {
    "login_id": "Login ID",
    "name": "User name",
    "password": "Temporary password",
    "extension": "Extension number",
}
REQUIRED_FIELDS = {
    "login_id": "Login ID",
    "name": "User name",
    "password": "Temporary password",
    "locale": "Locale",
    "time_zone": "Time zone",
    "role": "Role",
}


def _form_data(**overrides) -> dict:
    data = {
        "login_id": "taro.yamada@example.com",
        "name": "山田 太郎",
        "password": GOOD_PASSWORD,
        "locale": "ja",
        "time_zone": "Asia/Tokyo",
        "role": "member",
        "extension": "",
    }
    data.update(overrides)
    return data


def _checked(form: UserForm, org) -> UserForm:
    """The console's path: the form reads the post, the change service's dry run decides, and
    its problems come back onto the form's fields."""
    if form.is_valid():
        result = apply_changes(
            organization=org,
            actor=Actor(user=None, label="test"),
            changes=[form.change()],
            commit=False,
        )
        form.add_problems(result.problems)
        form.outcome = result.outcomes[0]
    return form


def _form(org, **overrides) -> UserForm:
    return _checked(UserForm(data=_form_data(**overrides), organization=org), org)


def _saved(form: UserForm, field: str):
    """The value the change service would store for `field`."""
    return form.outcome.changes[field][1]


def _error_codes(form: UserForm, field: str) -> list[str]:
    return [error.code for error in form.errors.as_data().get(field, [])]


@pytest.mark.django_db
def test_form_baseline_is_valid(org_a):
    form = _form(org_a)
    assert form.is_valid(), form.errors


@pytest.mark.django_db
def test_form_name_of_31_characters_is_refused_with_the_rule(org_a):
    form = _form(org_a, name="漢" * 31)
    assert not form.is_valid()
    assert _error_codes(form, "name") == ["user_name_too_long"]
    assert form.errors["name"] == ["User name must be at most 30 characters (it has 31)."]


@pytest.mark.django_db
def test_form_name_is_trimmed_and_normalised(org_a):
    form = _form(org_a, name="  " + "か\u3099" * 30 + "\u3000")
    assert form.is_valid(), form.errors
    assert _saved(form, "name") == "が" * 30


@pytest.mark.django_db
def test_form_login_id_is_trimmed_but_kept_as_typed(org_a):
    form = _form(org_a, login_id="  Taro.Yamada@Example.COM \t")
    assert form.is_valid(), form.errors
    assert _saved(form, "login_id") == "Taro.Yamada@Example.COM"


@pytest.mark.django_db
def test_form_extension_is_trimmed(org_a):
    form = _form(org_a, extension=" 0123 ")
    assert form.is_valid(), form.errors
    assert _saved(form, "extension") == "0123"


@pytest.mark.django_db
@pytest.mark.parametrize(("field", "label"), REQUIRED_FIELDS.items())
@pytest.mark.parametrize("missing", ["absent", "empty"])
def test_form_missing_required_field_names_it(org_a, field, label, missing):
    data = _form_data()
    if missing == "absent":
        del data[field]
    else:
        data[field] = ""
    form = _checked(UserForm(data=data, organization=org_a), org_a)
    assert not form.is_valid()
    assert form.errors[field] == [f"{label} is required."]


@pytest.mark.django_db
@pytest.mark.parametrize(("field", "label"), [("login_id", "Login ID"), ("name", "User name")])
def test_form_whitespace_only_required_field_is_required(org_a, field, label):
    form = _form(org_a, **{field: " \u3000 "})
    assert not form.is_valid()
    assert form.errors[field] == [f"{label} is required."]


@pytest.mark.django_db
def test_form_password_is_not_stripped(org_a):
    assert _form(org_a, password=GOOD_PASSWORD).is_valid()
    form = _form(org_a, password=f" {GOOD_PASSWORD} ")
    assert not form.is_valid()
    assert _error_codes(form, "password") == ["password_characters"]
    assert "Password" in form.errors["password"][0]


@pytest.mark.django_db
def test_form_valid_password_is_kept_exactly(org_a):
    form = _form(org_a, password="x" + GOOD_PASSWORD + "-")
    assert form.is_valid(), form.errors
    assert form.cleaned_data["password"] == "x" + GOOD_PASSWORD + "-"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("abc123", "password_too_short"),
        ("abcdefgh", "password_letters_only"),
        ("password1", "password_too_common"),
        ("Yamada#2024", "password_too_similar"),
        ("Miitel#2024", "password_context_word"),
        ("org-a#2024x", "password_context_word"),
    ],
)
def test_form_invalid_password_is_refused(org_a, password, code):
    form = _form(org_a, password=password)
    assert not form.is_valid()
    assert code in _error_codes(form, "password")


@pytest.mark.django_db
def test_form_password_similarity_uses_the_submitted_login_id(org_a):
    form = _form(org_a, login_id="kobayashi.satoshi@example.com", password="Kobayashi#77")
    assert not form.is_valid()
    assert "password_too_similar" in _error_codes(form, "password")


@pytest.mark.django_db
def test_form_invalid_login_id_error_is_on_login_id(org_a):
    form = _form(org_a, login_id="o'brien@example.com")
    assert not form.is_valid()
    assert _error_codes(form, "login_id") == ["login_id_characters"]


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["12", "1234567", "１２３"])
def test_form_invalid_extension_is_refused(org_a, value):
    form = _form(org_a, extension=value)
    assert not form.is_valid()
    assert _error_codes(form, "extension") == ["extension_format"]


@pytest.mark.django_db
@pytest.mark.parametrize("field", TEXT_FIELDS)
@pytest.mark.parametrize("char", ["a", "é", "\x00"], ids=["ascii", "non-ascii", "NUL"])
def test_form_overlong_text_field_is_a_clean_error(org_a, field, char):
    form = _form(org_a, **{field: char * 10_000})
    assert not form.is_valid()
    assert set(form.errors) == {field}
    assert form.errors[field]


@pytest.mark.django_db
@pytest.mark.parametrize(("field", "label"), TEXT_FIELDS.items())
def test_form_overlong_text_field_errors_name_the_field(org_a, field, label):
    """Overlong input gets the field's own rule, which names the field (the password rule says
    "Password", whichever form the password is set on)."""
    form = _form(org_a, **{field: "a" * 10_000})
    assert not form.is_valid()
    assert form.errors[field]
    named = "Password" if field == "password" else label
    for message in form.errors[field]:
        assert named.lower() in message.lower()


@pytest.mark.django_db
@pytest.mark.parametrize("field", ["locale", "time_zone", "role"])
def test_form_overlong_choice_is_a_clean_error(org_a, field):
    form = _form(org_a, **{field: "x" * 10_000})
    assert not form.is_valid()
    assert set(form.errors) == {field}
    assert REQUIRED_FIELDS[field] in form.errors[field][0]


@pytest.mark.django_db
def test_form_overlong_input_in_every_field_at_once_is_a_clean_error(org_a):
    overlong = "x" * 10_000
    form = _checked(UserForm(data=dict.fromkeys(_form_data(), overlong), organization=org_a), org_a)
    assert not form.is_valid()
    assert set(form.errors) == set(_form_data())
    assert form.as_div()  # renders without raising


def test_published_symbol_sets_are_read_as_printed():
    assert len(LOGIN_ID_SYMBOLS) == len(set(LOGIN_ID_SYMBOLS)) == 20
    assert len(PASSWORD_SYMBOLS) == len(set(PASSWORD_SYMBOLS)) == 32
