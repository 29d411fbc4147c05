"""Shared plumbing of the operator commands: resolve organizations and users, print errors one
per line on stderr (CommandError: exit status 1, no traceback), JSON output for scripts."""

import json
import sys

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import translation

from accounts.models import Organization, User
from accounts.validators import normalize_login_id
from audit.services import Actor
from permissions import catalog
from permissions.services import Grants


class OperatorCommand(BaseCommand):
    """Messages are in English for operators (the console's users get their own language)."""

    requires_system_checks = []

    def execute(self, *args, **options):
        with translation.override("en"):
            return super().execute(*args, **options)

    def actor(self) -> Actor:
        return Actor.operator(self.command_name())

    def command_name(self) -> str:
        return self.__class__.__module__.rsplit(".", 1)[-1]

    def get_organization(self, slug: str) -> Organization:
        try:
            return Organization.objects.select_related("contract").get(slug=slug)
        except Organization.DoesNotExist:
            raise CommandError(f"organization: no organization with the slug “{slug}”.") from None

    def get_user(self, organization: Organization, login_id: str) -> User:
        try:
            return User.objects.select_related("organization", "organization__contract").get(
                organization=organization, login_id_key=normalize_login_id(login_id)
            )
        except User.DoesNotExist:
            raise CommandError(
                f"login-id: no user “{login_id}” in the organization “{organization.slug}”."
            ) from None

    def write_json(self, data) -> None:
        self.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def error_lines(error: ValidationError, names: dict[str, str] | None = None) -> list[str]:
    """One "field: message" line per problem."""
    names = names or {}
    if hasattr(error, "error_dict"):
        lines = []
        for field, errors in error.error_dict.items():
            label = names.get(field, field.replace("_", "-"))
            for e in errors:
                for message in e.messages:
                    lines.append(message if field == "__all__" else f"{label}: {message}")
        return lines
    return list(error.messages)


def form_error_lines(form, names: dict[str, str] | None = None) -> list[str]:
    names = names or {}
    lines = []
    for field, errors in form.errors.items():
        label = names.get(field, field.replace("_", "-"))
        for message in errors:
            lines.append(message if field == "__all__" else f"{label}: {message}")
    return lines


def fail(lines: list[str]) -> CommandError:
    return CommandError("\n".join(lines))


def parse_services(text: str | None) -> Grants | None:
    """ "phone,monitoring,meeting_access=host" -> {"phone": "", "monitoring": "", ...}."""
    if text is None:
        return None
    grants: Grants = {}
    unknown = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        code, _, level = item.partition("=")
        code = code.strip()
        service = catalog.BY_CODE.get(code)
        if service is None or not service.grantable:
            unknown.append(code)
            continue
        grants[code] = level.strip() if service.has_levels else ""
        if service.has_levels and not level:
            grants[code] = service.levels[-1].value
    if unknown:
        raise fail(
            [
                "services: unknown service code(s): "
                + ", ".join(unknown)
                + ". Known: "
                + ", ".join(sorted(catalog.GRANTABLE_CODES))
                + "."
            ]
        )
    return grants


def parse_limits(items: list[str] | None) -> dict[str, int] | None:
    if not items:
        return None
    limits: dict[str, int] = {}
    for item in items:
        code, sep, number = item.partition("=")
        if not sep:
            raise fail([f"service-limit: “{item}” is not CODE=N."])
        try:
            value = int(number)
        except ValueError:
            raise fail([f"service-limit: “{number}” is not a whole number."]) from None
        if value < 0:
            raise fail([f"service-limit: the limit of {code} cannot be negative."])
        limits[code.strip()] = value
    return limits


def is_tty(stream) -> bool:
    return hasattr(stream, "isatty") and stream.isatty() and sys.stdin.isatty()


def form_and_services(form, services_text: str | None, names: dict[str, str]):
    """Validate a user form and a --services value together, so that every problem of both
    is reported at once; return the parsed grants (None when --services was not given)."""
    problems = []
    try:
        grants = parse_services(services_text)
    except CommandError as error:
        problems.append(str(error))
        grants = None
    if not form.is_valid():
        problems = form_error_lines(form, names) + problems
    if problems:
        raise fail(problems)
    return grants
