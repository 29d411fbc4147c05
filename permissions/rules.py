"""The rules of services and seats (docs/rules.md), as functions of a contract and
the state a change would leave. The change service (users.changes) calls them once per batch;
nothing here reads or writes the database.

Seat counts come from the trigger-kept counters (permissions.models.SeatCount), read by the
caller under the contract lock."""

from collections.abc import Iterable

from django.utils.translation import gettext as _

from accounts.problems import GENERAL, Problem

from . import catalog
from .services import Grants, field_name


def _service_problem(code: str, message: str, rule: str, **extra) -> Problem:
    return Problem(field=field_name(code), message=message, code=rule, **extra)


def grant_problems(*, contract, desired: Grants, current: Grants) -> list[Problem]:
    """What is wrong with giving a user `desired` (code -> level) when they hold `current`:
    unknown services, services outside the contract (a grant kept from before a contract change
    may stay; adding or changing one is refused), levels, and dependencies. Seats are counted
    over the whole batch by seat_refusals()."""
    problems: list[Problem] = []
    for code, level in desired.items():
        service = catalog.BY_CODE.get(code)
        if service is None or not service.grantable:
            problems.append(
                _service_problem(
                    code, _("Unknown service “%(code)s”.") % {"code": code}, "service_unknown"
                )
            )
            continue
        if not contract.has_service(code) and current.get(code) != level:
            problems.append(
                _service_problem(
                    code,
                    _("%(service)s is not in your organization's contract.")
                    % {"service": service.label},
                    "service_not_in_contract",
                    advice=_("To add it, please contact us."),
                    operator_advice=(
                        f"Add it to the contract with: manage.py set_contract "
                        f"{contract.organization.slug} --services …,{code}"
                    ),
                )
            )
            continue
        if service.has_levels and service.level(level) is None:
            problems.append(
                _service_problem(
                    code,
                    _("%(service)s must be one of: %(levels)s.")
                    % {
                        "service": service.label,
                        "levels": ", ".join(lvl.label for lvl in service.levels),
                    },
                    "service_level",
                )
            )
        for required in service.requires:
            if required not in desired:
                problems.append(
                    _service_problem(
                        code,
                        _("%(service)s requires %(required)s: enable %(required)s too.")
                        % {"service": service.label, "required": catalog.get(required).label},
                        "service_requires",
                    )
                )
    return problems


def seat_refusals[T](
    *, contract, code: str, held_after_releases: int, takers: Iterable[T]
) -> list[tuple[T, Problem]]:
    """The takers of a seat-limited service that would not get a seat.

    `held_after_releases` counts the seats still held once the batch's releases are done (the
    users who keep their seat, wherever they are in the batch); the takers then get the free
    seats in order, and the rest are refused."""
    limit = contract.seat_limit(code)
    if limit is None:
        return []
    service = catalog.get(code)
    refused = []
    count = held_after_releases
    for taker in takers:
        count += 1
        if count > limit:
            refused.append(
                (
                    taker,
                    _service_problem(
                        code,
                        _("All %(limit)d %(service)s seats in your contract would be in use.")
                        % {"limit": limit, "service": service.label},
                        "seat_limit",
                        advice=_("To change your contract, please contact us."),
                        operator_advice=(
                            f"Raise the limit with: manage.py set_contract "
                            f"{contract.organization.slug} --service-limit {code}=N"
                        ),
                        params={"limit": limit, "service": code},
                    ),
                )
            )
    return refused


def user_limit_refusals[T](*, contract, used: int, adds: Iterable[T]) -> list[tuple[T, Problem]]:
    """The new users beyond the contract's user limit. Every user that is not deleted takes a
    seat, active or not; `used` already leaves out the users the batch deletes."""
    refused = []
    for n, add in enumerate(adds, start=used + 1):
        if n > contract.user_limit:
            refused.append(
                (
                    add,
                    Problem(
                        field=GENERAL,
                        message=_("Your contract allows %(limit)d users: this would be user %(n)d.")
                        % {"limit": contract.user_limit, "n": n},
                        code="user_limit",
                        advice=_(
                            "To change the number of users in your contract, please contact us."
                        ),
                        operator_advice=(
                            f"Raise the limit with: manage.py set_contract "
                            f"{contract.organization.slug} --user-limit N"
                        ),
                        params={"limit": contract.user_limit, "n": n},
                    ),
                )
            )
    return refused
