"""Shared plumbing of the operator commands: resolve organizations and users, print errors one
per line on stderr (CommandError: exit status 1, no traceback), JSON output for scripts."""

import json
import sys
from datetime import datetime
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import translation

from accounts.dates import parse_schedule
from accounts.models import Organization, User
from accounts.problems import GENERAL
from accounts.validators import normalize_login_id
from audit.services import Actor
from permissions import catalog
from permissions.services import Grants
from users.changes import ChangeResult, apply_changes


class OperatorCommand(BaseCommand):
    """Messages are in English for operators (the console's users get their own language)."""

    requires_system_checks = []

    def execute(self, *args, **options):
        # Bytes a terminal sent that are not UTF-8 arrive as lone surrogates: refused here,
        # naming the option, before anything reads them (they cannot be stored or looked up).
        for name, value in options.items():
            if isinstance(value, str) and any("\ud800" <= ch <= "\udfff" for ch in value):
                raise CommandError(
                    f"{name.replace('_', '-')}: not valid text (bytes that are not UTF-8)."
                )
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

    def apply(
        self, organization: Organization, changes, *, names=None, commit: bool = True
    ) -> ChangeResult:
        """Hand `changes` to the change service as this operator; any problem is an error
        (exit status 1), one line each."""
        result = apply_changes(
            organization=organization, actor=self.actor(), changes=changes, commit=commit
        )
        if not result.ok:
            raise fail(problem_lines(result.problems, names))
        return result

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


def problem_lines(problems, names: dict[str, str] | None = None) -> list[str]:
    """The change service's problems as "option: message" lines, with an operator's advice
    (run set_contract) where an admin would be told to contact us."""
    names = names or {}
    lines = []
    for problem in problems:
        text = problem.operator_text
        if problem.field == GENERAL:
            lines.append(text)
        elif problem.field.startswith("service_"):
            # A service's problems are about the --services (or --grant) option.
            lines.append(f"services: {text}")
        else:
            option = names.get(problem.field, problem.field.replace("_", "-"))
            lines.append(f"{option}: {text}")
    return lines


def fail(lines: list[str]) -> CommandError:
    return CommandError("\n".join(lines))


def parse_services(text: str | None) -> Grants | None:
    """ "phone,monitoring,meeting_access=host" -> {"phone": "", "monitoring": "", ...}. A
    service with levels given without one gets its highest level. Codes are checked by the
    change service, like any other channel's."""
    if text is None:
        return None
    grants: Grants = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        code, _, level = item.partition("=")
        code = code.strip()
        service = catalog.BY_CODE.get(code)
        if service is not None and service.has_levels and not level:
            grants[code] = service.levels[-1].value
        else:
            grants[code] = level.strip()
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


def schedule_option(text: str, organization: Organization):
    """A --deactivate-at value: "none" (cancel), a date and time in the organization's time
    zone, or ISO 8601 with an offset."""
    text = text.strip()
    if text.lower() in ("none", ""):
        return None
    moment = parse_schedule(text, organization)
    if moment is None:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            moment = None
    if moment is None or (moment.tzinfo is None and len(text) <= 10):
        raise CommandError(
            f"deactivate-at: “{text}” is not a date and time (YYYY-MM-DD HH:MM, in "
            f"{organization.time_zone}), or none."
        )
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(organization.time_zone))
    return moment
