"""Field rules of docs/rules.md, one place for forms, commands and CSV import.

Every message names the field and the rule, and carries a `code` so callers (and tests) can tell
rules apart without parsing text.
"""

import re
import string
import unicodedata

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.deconstruct import deconstructible
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

# The published symbol sets (the published help page), one character each.
LOGIN_ID_SYMBOLS = "@!#$%&*+-/=?^_`{|}~."
PASSWORD_SYMBOLS = "^$*.[]{}()?\"!@#%&/\\,><':;|_~`=+-"  # noqa: S105

ASCII_LETTERS = frozenset(string.ascii_letters)
ASCII_DIGITS = frozenset(string.digits)
LOGIN_ID_ALLOWED = ASCII_LETTERS | ASCII_DIGITS | frozenset(LOGIN_ID_SYMBOLS)
PASSWORD_ALLOWED = ASCII_LETTERS | ASCII_DIGITS | frozenset(PASSWORD_SYMBOLS)

LOGIN_ID_MAX_LENGTH = 254
LOCAL_PART_MAX_LENGTH = 64
DOMAIN_LABEL_MAX_LENGTH = 63
USER_NAME_MAX_LENGTH = 30
PASSWORD_MIN_LENGTH = 8
PASSWORD_MAX_LENGTH = 128

_DOMAIN_LABEL = re.compile(r"\A[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\Z")
_EXTENSION = re.compile(r"\A[0-9]{3,6}\Z")


def _quoted_list(chars) -> str:
    """Characters as the message shows them: each in quotes, in first-seen order, at most 10."""
    seen: list[str] = []
    for ch in chars:
        shown = repr(ch)[1:-1] if not ch.isprintable() or ch.isspace() else ch
        if shown not in seen:
            seen.append(shown)
    text = " ".join(f"“{c}”" for c in seen[:10])
    return text + (" …" if len(seen) > 10 else "")


def normalize_login_id(value: str) -> str:
    """The key a login ID is unique and looked up by: trimmed and lower-cased (ASCII only)."""
    return value.strip().lower()


def validate_login_id(value: str) -> None:
    if not value:
        raise ValidationError(_("Login ID is required."), code="required")
    if len(value) > LOGIN_ID_MAX_LENGTH:
        raise ValidationError(
            _("Login ID must be at most %(max)d characters (it has %(length)d).")
            % {"max": LOGIN_ID_MAX_LENGTH, "length": len(value)},
            code="login_id_too_long",
        )
    bad = [ch for ch in value if ch not in LOGIN_ID_ALLOWED]
    if bad:
        raise ValidationError(
            _(
                "Login ID contains characters that are not allowed: %(bad)s. Use only letters "
                "(a–z, A–Z), digits and these symbols: %(symbols)s"
            )
            % {"symbols": " ".join(LOGIN_ID_SYMBOLS), "bad": _quoted_list(bad)},
            code="login_id_characters",
        )
    if value.count("@") != 1:
        raise ValidationError(
            _("Login ID must be in email format, with exactly one “@”."),
            code="login_id_at_sign",
        )
    local, domain = value.split("@")
    if not local:
        raise ValidationError(
            _("Login ID needs a part before the “@”."), code="login_id_local_empty"
        )
    if len(local) > LOCAL_PART_MAX_LENGTH:
        raise ValidationError(
            _("The part of the login ID before the “@” must be at most %(max)d characters.")
            % {"max": LOCAL_PART_MAX_LENGTH},
            code="login_id_local_too_long",
        )
    if local.startswith(".") or local.endswith(".") or ".." in local:
        raise ValidationError(
            _(
                "The part of the login ID before the “@” cannot start or end with “.” "
                "or contain “..”."
            ),
            code="login_id_local_dots",
        )
    labels = domain.split(".")
    if len(labels) < 2 or any(not label for label in labels):
        raise ValidationError(
            _(
                "The domain of the login ID (after the “@”) must be labels separated by "
                "single dots, such as example.com."
            ),
            code="login_id_domain_format",
        )
    for label in labels:
        if len(label) > DOMAIN_LABEL_MAX_LENGTH:
            raise ValidationError(
                _("Each part of the login ID's domain must be at most %(max)d characters.")
                % {"max": DOMAIN_LABEL_MAX_LENGTH},
                code="login_id_domain_label_too_long",
            )
        if not _DOMAIN_LABEL.match(label):
            raise ValidationError(
                _(
                    "Each part of the login ID's domain may contain only letters, digits and "
                    "“-”, and cannot start or end with “-”."
                ),
                code="login_id_domain_label",
            )
    if labels[-1].isdigit():
        raise ValidationError(
            _("The last part of the login ID's domain cannot be all digits."),
            code="login_id_domain_numeric",
        )


# The message of Django's own NUL check (every form CharField runs it). Django's Japanese
# catalogue renders it as "enter some characters", which sends an admin looking for the wrong
# problem; naming the msgid here keeps the correct translation in this project's catalogue,
# which takes precedence over Django's.
NULL_CHARACTERS_MESSAGE = gettext_lazy("Null characters are not allowed.")


def validate_no_surrogates(value: str) -> None:
    """A lone surrogate (U+D800–U+DFFF) is not a character: it cannot be encoded as UTF-8, so
    no database can be asked about it. HTTP cannot carry one (Django decodes requests with
    replacement characters), but text from anywhere else can. Django's CharField refuses NUL
    itself; this is the other half of "text the database can take"."""
    if any("\ud800" <= ch <= "\udfff" for ch in value):
        raise ValidationError(_("Text that is not valid Unicode is not allowed."), code="surrogate")


def normalize_user_name(value: str) -> str:
    return unicodedata.normalize("NFC", value.strip())


def _is_control(ch: str) -> bool:
    return unicodedata.category(ch) in {"Cc", "Cs", "Zl", "Zp"}


def _is_visible(ch: str) -> bool:
    return not ch.isspace() and unicodedata.category(ch) not in {"Cc", "Cf", "Cs", "Zl", "Zp", "Zs"}


# The characters whose Unicode property Bidi_Control is Yes: marks, embeddings, overrides and
# isolates. They reorder what follows them on screen, so a name holding one can display as
# another user's name (in the User List, a confirmation page or the audit log).
BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f"
    + "".join(chr(c) for c in range(0x202A, 0x202F))
    + "".join(chr(c) for c in range(0x2066, 0x206A))
)


def _bidi_error(value: str, message: str, code: str) -> ValidationError | None:
    bad = [ch for ch in value if ch in BIDI_CONTROLS]
    if not bad:
        return None
    return ValidationError(message % {"bad": _quoted_list(bad)}, code=code)


def validate_user_name(value: str) -> None:
    """`value` is already normalised (normalize_user_name)."""
    if not value or not any(_is_visible(ch) for ch in value):
        raise ValidationError(_("User name is required."), code="required")
    if len(value) > USER_NAME_MAX_LENGTH:
        raise ValidationError(
            _("User name must be at most %(max)d characters (it has %(length)d).")
            % {"max": USER_NAME_MAX_LENGTH, "length": len(value)},
            code="user_name_too_long",
        )
    if any(_is_control(ch) for ch in value):
        raise ValidationError(
            _("User name cannot contain control characters such as tabs or line breaks."),
            code="user_name_control",
        )
    error = _bidi_error(
        value,
        _(
            "User name cannot contain characters that change the direction of text (%(bad)s): "
            "they make a name display as a different one."
        ),
        "user_name_bidi",
    )
    if error:
        raise error


def validate_organization_name(value: str) -> None:
    """The rules of a user name that are not about its length (an organization name's is the
    model field's): something visible, no control characters (no NUL, no undecodable byte from
    a terminal), no characters that change the direction of text."""
    if not value or not any(_is_visible(ch) for ch in value):
        raise ValidationError(_("Organization name is required."), code="required")
    if any(_is_control(ch) for ch in value):
        raise ValidationError(
            _("Organization name cannot contain control characters such as tabs or line breaks."),
            code="organization_name_control",
        )
    error = _bidi_error(
        value,
        _(
            "Organization name cannot contain characters that change the direction of text "
            "(%(bad)s): they make a name display as a different one."
        ),
        "organization_name_bidi",
    )
    if error:
        raise error


def validate_extension(value: str) -> None:
    if value and not _EXTENSION.match(value):
        raise ValidationError(
            _("Extension number must be 3 to 6 digits (0–9)."), code="extension_format"
        )


def password_rule_errors(password: str) -> list[ValidationError]:
    """Every way `password` breaks the published rule (docs/rules.md), in a stable order."""
    errors = []
    if len(password) < PASSWORD_MIN_LENGTH:
        errors.append(
            ValidationError(
                _("Password must be at least %(min)d characters (it has %(length)d).")
                % {"min": PASSWORD_MIN_LENGTH, "length": len(password)},
                code="password_too_short",
            )
        )
    if len(password) > PASSWORD_MAX_LENGTH:
        errors.append(
            ValidationError(
                _("Password must be at most %(max)d characters (it has %(length)d).")
                % {"max": PASSWORD_MAX_LENGTH, "length": len(password)},
                code="password_too_long",
            )
        )
    bad = [ch for ch in password if ch not in PASSWORD_ALLOWED]
    if bad:
        errors.append(
            ValidationError(
                _(
                    "Password contains characters that are not allowed: %(bad)s. Use only "
                    "letters, digits and these symbols: %(symbols)s"
                )
                % {"symbols": " ".join(PASSWORD_SYMBOLS), "bad": _quoted_list(bad)},
                code="password_characters",
            )
        )
    elif password and all(ch in ASCII_LETTERS for ch in password):
        errors.append(
            ValidationError(
                _("Password cannot be letters only: add a digit or a symbol."),
                code="password_letters_only",
            )
        )
    elif password and all(ch in ASCII_DIGITS for ch in password):
        errors.append(
            ValidationError(
                _("Password cannot be digits only: add a letter or a symbol."),
                code="password_digits_only",
            )
        )
    return errors


@deconstructible
class PublishedPasswordRuleValidator:
    """AUTH_PASSWORD_VALIDATORS entry for the published rule (see docs/security-deviations.md)."""

    def validate(self, password: str, user=None) -> None:
        errors = password_rule_errors(password)
        if errors:
            raise ValidationError(errors)

    def get_help_text(self) -> str:
        return _(
            "%(min)d to %(max)d characters: letters, digits and the symbols %(symbols)s; "
            "not letters only and not digits only."
        ) % {
            "min": PASSWORD_MIN_LENGTH,
            "max": PASSWORD_MAX_LENGTH,
            "symbols": " ".join(PASSWORD_SYMBOLS),
        }


@deconstructible
class ContextWordsValidator:
    """Refuses passwords that contain the product's name or the organization's name or slug."""

    min_word_length = 4

    def _words(self, user) -> list[str]:
        words = ["miitel", "revcomm"]
        organization = getattr(user, "organization", None) if user is not None else None
        if organization is not None:
            words += [organization.slug, *re.split(r"[\s\-_.]+", organization.name)]
        return [w.lower() for w in words if w and len(w) >= self.min_word_length]

    def validate(self, password: str, user=None) -> None:
        lowered = password.lower()
        for word in self._words(user):
            if word in lowered:
                raise ValidationError(
                    _("Password cannot contain the word “%(word)s”.") % {"word": word},
                    code="password_context_word",
                )

    def get_help_text(self) -> str:
        return _("Not the product's or your organization's name.")


# Lazily translated labels, shared by forms, CSV headers and commands.
FIELD_LABELS = {
    "login_id": gettext_lazy("Login ID"),
    "name": gettext_lazy("User name"),
    "password": gettext_lazy("Temporary password"),
    "locale": gettext_lazy("Locale"),
    "time_zone": gettext_lazy("Time zone"),
    "role": gettext_lazy("Role"),
    "extension": gettext_lazy("Extension number"),
    "is_active": gettext_lazy("Activate user"),
    "deactivate_at": gettext_lazy("Scheduled deactivation"),
    "external_id": gettext_lazy("External ID"),
}


def offered_time_zones() -> list[str]:
    return list(settings.USER_TIME_ZONES)
