"""Who may touch what. Every console view goes through `admin_required`, and every user named in
a URL or in form data is fetched through `get_managed_user_or_404`, scoped to the signed-in
admin's organization: another organization's ID answers exactly like an ID that does not exist."""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest

from .models import User


def admin_required(view):
    """Signed in (else the sign-in page), then an admin (else 403)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        if not request.user.is_admin:
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return login_required(wrapper)


def get_managed_user_or_404(request: HttpRequest, user_id) -> User:
    try:
        return User.objects.select_related("organization").get(
            pk=int(user_id), organization=request.organization
        )
    except (User.DoesNotExist, ValueError, TypeError, OverflowError):
        raise Http404 from None


def acting_on_self(actor, target) -> bool:
    """An admin may not delete, deactivate or demote themselves (docs/rules.md): the change
    service refuses it, and the pages offer no such action."""
    return actor is not None and target is not None and actor.id == target.id


def can_delete_user(actor: User, target: User) -> bool:
    return not acting_on_self(actor, target)


def can_deactivate_user(actor: User, target: User) -> bool:
    return not acting_on_self(actor, target) and target.is_active


def can_activate_user(actor: User, target: User) -> bool:
    return not target.is_active
