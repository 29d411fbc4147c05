"""Shorthands for tests that change one user through the change service (users.changes), in
the shapes the tests read best: the created user, the audit changes, whether anything changed,
and a refusal raised as a ValidationError keyed by field (as a form would show it)."""

from django.core.exceptions import ValidationError

from accounts.problems import GENERAL
from users.changes import Change, apply_changes, problem_message


class ChangeRefused(ValidationError):
    """The problems of a refused change: one GENERAL problem as a plain error with its rule
    code, else an error per field; `result` is the change service's result."""

    def __init__(self, result):
        problems = result.problems
        if len(problems) == 1 and problems[0].field == GENERAL:
            super().__init__(problem_message(problems[0]), code=problems[0].code)
        else:
            errors: dict[str, list[ValidationError]] = {}
            for problem in problems:
                errors.setdefault(problem.field, []).append(
                    ValidationError(problem_message(problem), code=problem.code)
                )
            super().__init__(errors)
        self.result = result


def change(*, organization, actor, change: Change):
    result = apply_changes(organization=organization, actor=actor, changes=[change])
    if not result.ok:
        raise ChangeRefused(result)
    return result.outcomes[0]


def create_user(*, actor, organization, password=None, grants=None, **fields):
    new = Change(
        fields=fields, grants=grants or {}, password=password, generate_password=password is None
    )
    return change(organization=organization, actor=actor, change=new).user


def update_user(*, actor, user, data=None, grants=None, password=None) -> dict:
    edit = Change(user_id=user.pk, fields=data or {}, grants=grants, password=password)
    return change(organization=user.organization, actor=actor, change=edit).changes


def set_active(*, actor, user, active: bool) -> bool:
    edit = Change(user_id=user.pk, fields={"is_active": active})
    return bool(change(organization=user.organization, actor=actor, change=edit).changes)


def user_delete(*, actor, user, version=None) -> dict[str, int]:
    gone = Change(user_id=user.pk, delete=True, version=version)
    return change(organization=user.organization, actor=actor, change=gone).removed
