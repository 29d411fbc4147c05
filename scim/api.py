"""The SCIM 2.0 endpoints (RFC 7644) under /scim/v2/.

Each view parses the request with scim2-models, turns it into changes for the one change
service (users.changes.apply_changes) and turns the verdict back into SCIM: the SCIM layer
parses and answers, the change service decides. Requests carry a bearer token and no cookies,
so these views are exempt from CSRF (a signed-in console session gets nothing from them: a
request without a token is answered 401 whatever cookies it carries)."""

import json
import logging
from collections import defaultdict
from dataclasses import dataclass
from functools import wraps
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import translation
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from pydantic import ValidationError
from scim2_models import (
    AuthenticationScheme,
    Bulk,
    ChangePassword,
    Context,
    Error,
    ETag,
    Filter,
    InvalidSyntaxException,
    InvalidValueException,
    ListResponse,
    MutabilityException,
    NotFoundException,
    NotImplementedException,
    Patch,
    PatchOp,
    ResourceType,
    Schema,
    SCIMException,
    ScimPolicy,
    SearchRequest,
    ServiceProviderConfig,
    Sort,
)

from accounts.models import Organization, User
from accounts.problems import Problem
from accounts.validators import offered_time_zones
from audit.models import AuditEvent
from audit.services import Actor, client_ip
from permissions.models import SeatCount, ServiceGrant
from permissions.services import Grants, grants_of
from users.changes import Change, ChangeResult, apply_changes

from . import groups as group_services
from . import mapping
from .filters import CustomGroupQuery, GroupQuery, UserQuery
from .models import ScimGroup, ScimToken
from .schema import Group, MiitelUser
from .schema import User as UserResource
from .tokens import throttle, token_for

logger = logging.getLogger("scim")

CONTENT_TYPE = "application/scim+json"
DEFAULT_COUNT = 100
MAX_RESULTS = 200

# What the service provider tolerates from identity providers: attributes it does not keep are
# ignored (Entra ID and Okta send many), Entra ID's `remove` with a value, and Entra ID's
# `emails[type eq "work"].value` on a user with no such entry.
POLICY = ScimPolicy(
    unknown=ScimPolicy.Unknown.ignore,
    remove_value_as_filter=ScimPolicy.RemoveValue.apply,
    unmatched_path_filter=ScimPolicy.UnmatchedPathFilter.create,
)

# Rules of the change service (docs/rules.md) by the SCIM status and scimType they answer.
CONFLICTS = {
    "login_id_taken": "uniqueness",
    "login_id_duplicate": "uniqueness",
    "extension_taken": "uniqueness",
    "user_limit": None,
    "seat_limit": None,
    "last_admin": None,
    "self_deactivate": None,
    "self_demote": None,
    "self_delete": None,
}


@dataclass
class Scim:
    """The request as SCIM sees it: which token, for which organization, acting as whom."""

    token: ScimToken
    organization: Organization
    actor: Actor
    base: str  # absolute URL of /scim/v2, for meta.location and $ref


# --- Responses ------------------------------------------------------------------------------------


def scim_response(data: Any, status: int = 200, headers: dict | None = None) -> HttpResponse:
    response = HttpResponse(
        json.dumps(data, ensure_ascii=False, default=str),
        status=status,
        content_type=CONTENT_TYPE,
    )
    for name, value in (headers or {}).items():
        response[name] = value
    add_never_cache_headers(response)
    return response


def error_response(
    status: int, detail: str, scim_type: str | None = None, headers: dict | None = None
) -> HttpResponse:
    error = Error(status=status, scim_type=scim_type, detail=detail)
    return scim_response(error.model_dump(), status=status, headers=headers)


def _from_error(error: Error) -> HttpResponse:
    status = int(error.status or 400)
    return error_response(status, error.detail or "", error.scim_type)


def problems_response(problems: list[Problem], *, group: bool = False) -> HttpResponse:
    """The change service's refusal as one SCIM error: the most significant status, every
    problem's message in `detail` (the product's own words, in the request's language)."""
    codes = {p.code for p in problems}
    detail = " ".join(dict.fromkeys(p.text for p in problems))
    if codes & {"user_missing", "user_deleted"}:
        if group:
            return error_response(400, detail, "invalidValue")
        return error_response(404, detail)
    if "stale" in codes:
        return error_response(412, detail)
    conflicts = [code for code in CONFLICTS if code in codes]
    if conflicts:
        return error_response(409, detail, CONFLICTS[conflicts[0]])
    return error_response(400, detail, "invalidValue")


def _not_found(detail: str | None = None) -> NotFoundException:
    return NotFoundException(detail=detail or _("No such resource in this organization."))


# --- The endpoint decorator -----------------------------------------------------------------------


def _language(request: HttpRequest) -> str:
    """English unless the client's Accept-Language prefers Japanese (identity providers show
    `detail` to their admins as it comes)."""
    for item in request.headers.get("Accept-Language", "").split(","):
        code = item.split(";")[0].strip().lower()
        if code.startswith("ja"):
            return "ja"
        if code.startswith("en"):
            return "en"
    return "en"


def scim_endpoint(*methods: str):
    """A SCIM view: method check (405), bearer token (401), throttle (429), then the view with
    errors answered as SCIM errors; an unexpected exception is logged and answered with a
    generic 500 body (no exception text, no SQL reaches the client)."""

    def decorator(view):
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            with translation.override(_language(request)):
                if request.method not in methods:
                    return error_response(
                        405,
                        _("Method %(method)s is not allowed here.") % {"method": request.method},
                        headers={"Allow": ", ".join(methods)},
                    )
                token = token_for(request.headers.get("Authorization", ""))
                if token is None:
                    return error_response(
                        401,
                        _("A valid SCIM bearer token is required."),
                        headers={"WWW-Authenticate": 'Bearer realm="MiiTel SCIM"'},
                    )
                retry_after = throttle(token)
                if retry_after is not None:
                    return error_response(
                        429,
                        _("Too many requests with this token. Try again in %(seconds)d seconds.")
                        % {"seconds": retry_after},
                        headers={"Retry-After": str(retry_after)},
                    )
                scim = Scim(
                    token=token,
                    organization=token.organization,
                    actor=Actor(
                        user=None,
                        label=token.name,
                        ip_address=client_ip(request),
                        channel=AuditEvent.Channel.SCIM,
                    ),
                    base=request.build_absolute_uri(reverse("scim:root")).rstrip("/"),
                )
                try:
                    with POLICY:
                        return view(request, scim, *args, **kwargs)
                except SCIMException as error:
                    return _from_error(error.to_error())
                except ValidationError as error:
                    return _from_error(Error.from_validation_errors(error)[0])
                except RequestDataTooBig:
                    return error_response(413, _("The request body is too large."))
                except Exception:
                    logger.exception(
                        "SCIM %s %s failed (token %s)", request.method, request.path, token.pk
                    )
                    return error_response(500, _("An internal error occurred."))

        return csrf_exempt(wrapper)

    return decorator


def _json(request: HttpRequest) -> dict:
    try:
        data = json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError):
        data = None
    if not isinstance(data, dict):
        raise InvalidSyntaxException(detail=_("The request body must be a JSON object."))
    return data


def _search(request: HttpRequest, model) -> SearchRequest:
    """filter, startIndex, count, attributes and excludedAttributes of a GET (RFC 7644 §3.4.2),
    parsed and checked against `model` by scim2-models."""
    names = {"filter", "startindex", "count", "attributes", "excludedattributes"}
    given = {k: v for k, v in request.GET.items() if k.lower() in names}
    return SearchRequest[model].model_validate(given, scim_ctx=Context.SEARCH_REQUEST)


def _page(search: SearchRequest) -> tuple[int, int]:
    start = max(search.start_index or 1, 1)
    count = DEFAULT_COUNT if search.count is None else min(max(search.count, 0), MAX_RESULTS)
    return start, count


def _list(resources: list, total: int, start: int, search: SearchRequest, model) -> HttpResponse:
    listing = ListResponse[model](
        total_results=total,
        start_index=start,
        items_per_page=len(resources),
        resources=resources or None,
    )
    data = listing.model_dump(scim_ctx=Context.SEARCH_RESPONSE, response_parameters=search)
    data.setdefault("Resources", [])
    return scim_response(data)


# --- Users ----------------------------------------------------------------------------------------


def _user_id(value: str) -> int:
    if not value.isdigit() or len(value) > 18:
        raise _not_found()
    return int(value)


def _scoped_user(scim: Scim, user_id: str) -> User:
    """A user of the token's organization; another organization's id answers exactly like an
    id that does not exist."""
    user = User.objects.filter(organization=scim.organization, pk=_user_id(user_id)).first()
    if user is None:
        raise _not_found()
    user.organization = scim.organization
    return user


def _resource(scim: Scim, user: User, grants: Grants, custom_groups=None) -> UserResource:
    """`custom_groups`: the identity provider's groups the user is in (read when None)."""
    if custom_groups is None:
        custom_groups = group_services.memberships_of(scim.organization, [user.pk]).get(user.pk, [])
    return mapping.user_resource(
        user,
        grants,
        contract=scim.organization.contract,
        base=scim.base,
        custom_groups=custom_groups,
    )


def _user_answer(scim: Scim, user: User, *, status: int = 200, context=None) -> HttpResponse:
    """The user as stored now (re-read: the change service bumps version and times)."""
    user = User.objects.get(pk=user.pk)
    resource = _resource(scim, user, grants_of(user))
    headers = {"ETag": mapping.version_tag(user.version)}
    if status == 201:
        headers["Location"] = resource.meta.location
    data = resource.model_dump(scim_ctx=context or Context.RESOURCE_QUERY_RESPONSE)
    return scim_response(data, status=status, headers=headers)


def _apply(scim: Scim, changes: list[Change]) -> ChangeResult:
    return apply_changes(organization=scim.organization, actor=scim.actor, changes=changes)


def _if_match(request: HttpRequest) -> int | None:
    return mapping.parse_version(request.headers.get("If-Match"))


@scim_endpoint("GET", "POST")
def users(request: HttpRequest, scim: Scim) -> HttpResponse:
    if request.method == "POST":
        return _user_create(request, scim)
    search = _search(request, UserResource)
    start, count = _page(search)
    qs = User.objects.filter(organization=scim.organization)
    if search.filter is not None:
        qs = qs.filter(UserQuery().visit(search.filter.ast))
        total = qs.count()
    else:
        # Every user that is not deleted: the trigger-kept seat counter, without a count(*).
        total = SeatCount.used_of(organization_id=scim.organization.pk, code=SeatCount.USERS)
    rows = list(qs.order_by("pk")[start - 1 : start - 1 + count]) if count else []
    grants: dict[int, Grants] = defaultdict(dict)
    for user_id, code, level in ServiceGrant.objects.filter(
        organization=scim.organization, user_id__in=[u.pk for u in rows]
    ).values_list("user_id", "service", "level"):
        grants[user_id][code] = level
    joined = group_services.memberships_of(scim.organization, [u.pk for u in rows])
    resources = [_resource(scim, user, grants[user.pk], joined.get(user.pk, [])) for user in rows]
    return _list(resources, total, start, search, UserResource)


def _user_create(request: HttpRequest, scim: Scim) -> HttpResponse:
    payload = mapping.complete(mapping.strip_readonly(_json(request)), None)
    resource = UserResource.model_validate(payload, scim_ctx=Context.RESOURCE_CREATION_REQUEST)
    change = mapping.change_for(user=None, grants={}, before=None, after=resource)
    result = _apply(scim, [change])
    if not result.ok:
        return problems_response(result.problems)
    return _user_answer(
        scim, result.outcomes[0].user, status=201, context=Context.RESOURCE_CREATION_RESPONSE
    )


@scim_endpoint("GET", "PUT", "PATCH", "DELETE")
def user(request: HttpRequest, scim: Scim, user_id: str) -> HttpResponse:
    target = _scoped_user(scim, user_id)
    if request.method == "GET":
        search = _search(request, UserResource)
        resource = _resource(scim, target, grants_of(target))
        data = resource.model_dump(
            scim_ctx=Context.RESOURCE_QUERY_RESPONSE, response_parameters=search
        )
        return scim_response(data, headers={"ETag": mapping.version_tag(target.version)})
    if request.method == "DELETE":
        change = Change(user_id=target.pk, delete=True, version=_if_match(request))
        result = _apply(scim, [change])
        if not result.ok:
            return problems_response(result.problems)
        return HttpResponse(status=204)

    grants = grants_of(target)
    current = _resource(scim, target, grants)
    if request.method == "PUT":
        payload = mapping.complete(mapping.strip_readonly(_json(request)), current)
        after = UserResource.model_validate(payload, scim_ctx=Context.RESOURCE_REPLACEMENT_REQUEST)
        context = Context.RESOURCE_REPLACEMENT_RESPONSE
    else:
        body = _json(request)
        operations = _user_operations(body)
        after = current.model_copy(deep=True)
        if operations:
            patch = PatchOp[UserResource].model_validate(
                {**body, "Operations": operations}, scim_ctx=Context.RESOURCE_PATCH_REQUEST
            )
            patch.patch(after)
        context = Context.RESOURCE_PATCH_RESPONSE
    change = mapping.change_for(
        user=target, grants=grants, before=current, after=after, version=_if_match(request)
    )
    result = _apply(scim, [change])
    if not result.ok:
        return problems_response(result.problems)
    return _user_answer(scim, target, context=context)


def _user_operations(body: dict) -> list:
    """The PATCH operations of `body` without those on emails (read-only here, derived from the
    login ID: ignored like in a POST or a PUT rather than failing the whole request)."""
    key = next((k for k in body if isinstance(k, str) and k.lower() == "operations"), None)
    operations = body.get(key) if key else None
    if not isinstance(operations, list) or not operations:
        raise InvalidValueException(detail=_("A PATCH request needs a list of Operations."))
    kept = []
    for operation in operations:
        if not isinstance(operation, dict):
            kept.append(operation)
            continue
        path = next((v for k, v in operation.items() if str(k).lower() == "path"), None)
        if isinstance(path, str) and mapping.strip_readonly({path.strip(): None}) == {}:
            continue
        value_key = next((k for k in operation if str(k).lower() == "value"), None)
        if path is None and value_key and isinstance(operation[value_key], dict):
            stripped = mapping.strip_readonly(operation[value_key])
            if not stripped:
                continue
            operation = {**operation, value_key: stripped}
        kept.append(operation)
    return kept


# --- Groups: the contract's services and the admin role -------------------------------------------


def _members(scim: Scim, code: str) -> list[tuple[int, str]]:
    if code == mapping.ADMIN_GROUP:
        qs = User.objects.filter(organization=scim.organization, role=User.Role.ADMIN)
        return list(qs.order_by("pk").values_list("pk", "name"))
    return list(
        ServiceGrant.objects.filter(
            organization=scim.organization, service=code, user__deleted_at__isnull=True
        )
        .order_by("user_id")
        .values_list("user_id", "user__name")
    )


def _wants_members(search: SearchRequest) -> bool:
    def names(paths) -> set[str]:
        return {str(p).split(".")[0].lower() for p in paths or []}

    if search.attributes and "members" not in names(search.attributes):
        return False
    return "members" not in names(search.excluded_attributes)


def _group(scim: Scim, code: str, *, members: bool = True) -> Group:
    names = mapping.group_names(scim.organization.contract)
    if code not in names:
        raise _not_found()
    return mapping.group_resource(
        code, names[code], _members(scim, code) if members else [], base=scim.base
    )


def _service_groups_refused() -> HttpResponse:
    return error_response(
        400,
        _(
            "This group is a service of your organization's contract (or the administrators): "
            "it cannot be deleted through SCIM. Assign users to it instead."
        ),
        "mutability",
    )


@scim_endpoint("GET", "POST")
def groups(request: HttpRequest, scim: Scim) -> HttpResponse:
    if request.method == "POST":
        return _custom_create(request, scim)
    search = _search(request, Group)
    start, count = _page(search)
    names = mapping.group_names(scim.organization.contract)
    codes = list(names)
    custom = ScimGroup.objects.filter(organization=scim.organization)
    if search.filter is not None:
        found = GroupQuery(names).visit(search.filter.ast)
        codes = [code for code in codes if code in found]
        custom = custom.filter(CustomGroupQuery().visit(search.filter.ast))
    # The service groups first, then the identity provider's by name (the unique index).
    offset = start - 1
    page = codes[offset : offset + count]
    room = count - len(page)
    skip = max(offset - len(codes), 0)
    rows = list(custom.order_by("name_key")[skip : skip + room]) if room > 0 else []
    total = len(codes) + custom.count()
    with_members = _wants_members(search)
    resources = [_group(scim, code, members=with_members) for code in page]
    members = group_services.members_of(
        scim.organization, [g.pk for g in rows] if with_members else []
    )
    resources += [
        mapping.custom_group_resource(g, members.get(g.pk, []), base=scim.base) for g in rows
    ]
    return _list(resources, total, start, search, Group)


@scim_endpoint("GET", "PUT", "PATCH", "DELETE")
def group(request: HttpRequest, scim: Scim, group_id: str) -> HttpResponse:
    if group_id not in mapping.group_names(scim.organization.contract):
        return _custom_group(request, scim, group_id)
    if request.method == "DELETE":
        return _service_groups_refused()
    if request.method == "GET":
        search = _search(request, Group)
        resource = _group(scim, group_id, members=_wants_members(search))
        data = resource.model_dump(
            scim_ctx=Context.RESOURCE_QUERY_RESPONSE, response_parameters=search
        )
        return scim_response(data)

    current = _group(scim, group_id)
    if request.method == "PUT":
        payload = _json(request)
        replacement = Group.model_validate(
            {**payload, "displayName": current.display_name},
            scim_ctx=Context.RESOURCE_REPLACEMENT_REQUEST,
        )
        after_ids = mapping.member_ids(replacement)
    else:
        after = current.model_copy(deep=True)
        patch = PatchOp[Group].model_validate(
            _member_operations(_json(request)), scim_ctx=Context.RESOURCE_PATCH_REQUEST
        )
        patch.patch(after)
        if after.display_name != current.display_name:
            raise MutabilityException(detail=_("Service groups cannot be renamed."))
        after_ids = mapping.member_ids(after)
    before_ids = mapping.member_ids(current)
    changes = [_membership(group_id, pk, True) for pk in sorted(after_ids - before_ids)]
    changes += [_membership(group_id, pk, False) for pk in sorted(before_ids - after_ids)]
    if changes:
        result = _apply(scim, changes)
        if not result.ok:
            return problems_response(result.problems, group=True)
    if request.method == "PATCH" and request.GET.get("attributes") is None:
        # RFC 7644 §3.5.2: 204 when the client asked for no attributes back; a group of
        # thousands of members is not sent back after each membership change.
        return HttpResponse(status=204)
    return scim_response(
        _group(scim, group_id).model_dump(scim_ctx=Context.RESOURCE_REPLACEMENT_RESPONSE)
    )


# --- Groups the identity provider created (scim.groups) -------------------------------------------


def _custom_answer(
    scim: Scim, group_id, *, status: int = 200, context=None, search: SearchRequest | None = None
) -> HttpResponse:
    """The group as stored now, with its members unless the request excluded them."""
    found = group_services.scoped(scim.organization, str(group_id))
    wanted = search is None or _wants_members(search)
    members = group_services.members_of(scim.organization, [found.pk] if wanted else [])
    resource = mapping.custom_group_resource(found, members.get(found.pk, []), base=scim.base)
    headers = {"ETag": mapping.version_tag(found.version)}
    if status == 201:
        headers["Location"] = resource.meta.location
    data = resource.model_dump(
        scim_ctx=context or Context.RESOURCE_QUERY_RESPONSE, response_parameters=search
    )
    return scim_response(data, status=status, headers=headers)


def _custom_create(request: HttpRequest, scim: Scim) -> HttpResponse:
    payload = _member_operations_value(_json(request))
    resource = Group.model_validate(payload, scim_ctx=Context.RESOURCE_CREATION_REQUEST)
    created = group_services.group_create(
        organization=scim.organization,
        actor=scim.actor,
        display_name=resource.display_name,
        external_id=resource.external_id,
        member_ids=mapping.member_ids(resource),
    )
    return _custom_answer(scim, created.pk, status=201, context=Context.RESOURCE_CREATION_RESPONSE)


def _custom_group(request: HttpRequest, scim: Scim, group_id: str) -> HttpResponse:
    if request.method == "GET":
        return _custom_answer(scim, group_id, search=_search(request, Group))
    if request.method == "DELETE":
        group_services.group_delete(
            organization=scim.organization,
            actor=scim.actor,
            group_id=group_id,
            version=_if_match(request),
        )
        return HttpResponse(status=204)
    group_services.scoped(scim.organization, group_id)  # 404 before reading the body
    if request.method == "PUT":
        payload = _member_operations_value(_json(request))
        replacement = Group.model_validate(payload, scim_ctx=Context.RESOURCE_REPLACEMENT_REQUEST)

        def change(current: Group) -> Group:
            return replacement

        context = Context.RESOURCE_REPLACEMENT_RESPONSE
    else:
        patch = PatchOp[Group].model_validate(
            _member_operations(_json(request)), scim_ctx=Context.RESOURCE_PATCH_REQUEST
        )

        def change(current: Group) -> Group:
            after = current.model_copy(deep=True)
            patch.patch(after)
            return after

        context = Context.RESOURCE_PATCH_RESPONSE
    updated = group_services.group_update(
        organization=scim.organization,
        actor=scim.actor,
        group_id=group_id,
        version=_if_match(request),
        change=change,
    )
    if request.method == "PATCH" and request.GET.get("attributes") is None:
        return HttpResponse(status=204)
    return _custom_answer(scim, updated.pk, context=context)


def _member_operations_value(payload: dict) -> dict:
    """A group payload whose members are named by their value alone (see below)."""
    key = next((k for k in payload if isinstance(k, str) and k.lower() == "members"), None)
    if key is None or not isinstance(payload[key], list):
        return payload
    return {
        **payload,
        key: [{"value": m.get("value")} if isinstance(m, dict) else m for m in payload[key]],
    }


def _member_operations(body: dict) -> dict:
    """Members named by their value alone: a member's `display` and `$ref` are the server's
    (Entra ID sends "$ref": null, Okta a display name), and a `remove` that carries them would
    otherwise select no member."""
    key = next((k for k in body if isinstance(k, str) and k.lower() == "operations"), None)
    operations = body.get(key) if key else None
    if not isinstance(operations, list):
        return body
    cleaned = []
    for operation in operations:
        if isinstance(operation, dict):
            path = next((v for k, v in operation.items() if str(k).lower() == "path"), None)
            value_key = next((k for k in operation if str(k).lower() == "value"), None)
            value = operation.get(value_key) if value_key else None
            if (
                isinstance(path, str)
                and path.strip().lower() == "members"
                and isinstance(value, list)
            ):
                value = [
                    {"value": item.get("value")} if isinstance(item, dict) else item
                    for item in value
                ]
                operation = {**operation, value_key: value}
        cleaned.append(operation)
    return {**body, key: cleaned}


def _membership(code: str, user_id: int, joining: bool) -> Change:
    if code == mapping.ADMIN_GROUP:
        role = User.Role.ADMIN if joining else User.Role.MEMBER
        return Change(user_id=user_id, fields={"role": role})
    if joining:
        return Change(user_id=user_id, grant={code: ""})
    return Change(user_id=user_id, revoke=[code])


# --- Discovery (RFC 7644 §4) ----------------------------------------------------------------------


def _meta(scim: Scim, kind: str, path: str) -> dict:
    return {"resourceType": kind, "location": f"{scim.base}/{path}"}


def service_provider_config_of(scim: Scim) -> ServiceProviderConfig:
    return ServiceProviderConfig(
        documentation_uri=None,
        patch=Patch(supported=True),
        bulk=Bulk(supported=False, max_operations=0, max_payload_size=0),
        filter=Filter(supported=True, max_results=MAX_RESULTS),
        change_password=ChangePassword(supported=False),
        sort=Sort(supported=False),
        etag=ETag(supported=True),
        authentication_schemes=[
            AuthenticationScheme(
                type="oauthbearertoken",
                name="Bearer token",
                description=(
                    "A token an admin creates on the Provisioning page of MiiTel Admin "
                    "(or an operator with create_scim_token), sent as Authorization: Bearer."
                ),
                primary=True,
            )
        ],
        meta=_meta(scim, "ServiceProviderConfig", "ServiceProviderConfig"),
    )


def resource_types_of(scim: Scim) -> list[ResourceType]:
    user_type = ResourceType.from_resource(UserResource)
    user_type.description = "A MiiTel user"
    user_type.meta = _meta(scim, "ResourceType", "ResourceTypes/User")
    group_type = ResourceType.from_resource(Group)
    group_type.description = (
        "A service of the organization's contract, or Administrators (membership is the "
        "grant), or a group the identity provider created (which grants nothing)"
    )
    group_type.meta = _meta(scim, "ResourceType", "ResourceTypes/Group")
    return [user_type, group_type]


def schemas_of(scim: Scim) -> list[Schema]:
    miitel = MiitelUser.to_schema()
    for attribute in miitel.attributes or []:
        if attribute.name == "services":
            # The services this organization may grant: its contract.
            attribute.canonical_values = mapping.contract_services(scim.organization.contract)
    core = UserResource.to_schema()
    for attribute in core.attributes or []:
        if attribute.name == "timezone":
            attribute.canonical_values = list(offered_time_zones())
    schemas = [
        core,
        miitel,
        Group.to_schema(),
        ServiceProviderConfig.to_schema(),
        ResourceType.to_schema(),
        Schema.to_schema(),
    ]
    for schema in schemas:
        schema.meta = _meta(scim, "Schema", f"Schemas/{schema.id}")
    return schemas


def _discovery_list(resources: list, model) -> HttpResponse:
    listing = ListResponse[model](
        total_results=len(resources),
        start_index=1,
        items_per_page=len(resources),
        resources=resources,
    )
    return scim_response(listing.model_dump(scim_ctx=Context.SEARCH_RESPONSE))


@scim_endpoint("GET")
def service_provider_config(request: HttpRequest, scim: Scim) -> HttpResponse:
    config = service_provider_config_of(scim)
    return scim_response(config.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE))


@scim_endpoint("GET")
def resource_types(request: HttpRequest, scim: Scim) -> HttpResponse:
    return _discovery_list(resource_types_of(scim), ResourceType)


@scim_endpoint("GET")
def resource_type(request: HttpRequest, scim: Scim, type_id: str) -> HttpResponse:
    found = next((t for t in resource_types_of(scim) if t.id == type_id), None)
    if found is None:
        raise _not_found()
    return scim_response(found.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE))


@scim_endpoint("GET")
def schemas(request: HttpRequest, scim: Scim) -> HttpResponse:
    return _discovery_list(schemas_of(scim), Schema)


@scim_endpoint("GET")
def schema(request: HttpRequest, scim: Scim, schema_id: str) -> HttpResponse:
    found = next((s for s in schemas_of(scim) if s.id == schema_id), None)
    if found is None:
        raise _not_found()
    return scim_response(found.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE))


@scim_endpoint("GET", "POST", "PUT", "PATCH", "DELETE")
def unknown(request: HttpRequest, scim: Scim, rest: str = "") -> HttpResponse:
    """Anything else under /scim/v2/: a SCIM 404, and 501 for searches across resource types
    (POST /.search), which this service provider does not offer."""
    if rest.strip("/") == ".search" and request.method == "POST":
        raise NotImplementedException(
            detail=_("Searching several resource types at once is not supported.")
        )
    raise _not_found(_("There is no SCIM endpoint here."))


@scim_endpoint("GET")
def root(request: HttpRequest, scim: Scim) -> HttpResponse:
    raise _not_found(_("There is no SCIM endpoint here."))
