"""Tenant scoping at the query layer (docs/security.md).

Every admin page is rendered for admin A with data in organizations A and B, and every SQL
statement it runs is recorded with the project function that ran it. A statement that reads a
tenant-owned table must bind organization_id to A's id (`organization_id = %s`, or
`organization_id IN (%s)`, or the organization row's own id for a correlated subquery); the few
statements that reach a tenant's rows another way are listed below, each with its reason. A new
unscoped query, or a query scoped to the wrong organization, fails the test."""

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import User
from analytics.models import CallRecord
from audit.services import Actor, audit_record
from exports.models import ActiveTransfer
from miitel_admin.url_policy import ADMIN, POLICY
from scim.models import ScimGroup, ScimGroupMember
from tests.analytics.factories import (
    BookmarkedFilterFactory,
    FunnelTeamMemberFactory,
    MeetingFactory,
    TableThemeFactory,
)
from tests.security.conftest import client_for, consume, url_of

ROOT = Path(__file__).resolve().parents[2]
PROJECT_PACKAGES = (
    "accounts",
    "users",
    "analytics",
    "audit",
    "exports",
    "permissions",
    "miitel_admin",
    "mfa",
    "scim",
)

# The tables the brief names as tenant-owned; every table with an organization column is added
# below, so a new tenant-owned model is covered without editing this list.
NAMED_TENANT_TABLES = re.compile(
    r"^(users_user|users_contract|permissions_servicegrant|analytics_\w+|audit_auditevent"
    r"|exports_importjob|exports_activetransfer)$"
)


def _tables_with_an_organization() -> set[str]:
    from django.apps import apps

    from accounts.models import Organization

    tables = set()
    for model in apps.get_models(include_auto_created=True):
        for column in model._meta.concrete_fields:
            if column.is_relation and column.related_model is Organization:
                tables.add(model._meta.db_table)
    return tables


ORGANIZATION_TABLES = _tables_with_an_organization()


def is_tenant_table(table: str) -> bool:
    return bool(NAMED_TENANT_TABLES.match(table)) or table in ORGANIZATION_TABLES


# Statements that read tenant-owned rows without an organization condition, by the project
# function that runs them and the tables they read. Each is safe for the reason given.
ALLOWLIST: dict[str, tuple[set[str], str]] = {
    "accounts.backends.LoginIdBackend.get_user": (
        {"users_user", "users_contract"},
        "the signed-in user by the primary key stored in their own session: the organization is "
        "what this lookup finds, it cannot be a condition of it",
    ),
    "permissions.services.grants_of": (
        {"permissions_servicegrant"},
        "the grants of one user who was fetched through get_managed_user_or_404 (scoped)",
    ),
    "analytics.selectors.deletion_impact": (
        {
            "users_user",
            "analytics_byuserdaily",
            "analytics_callrecord",
            "analytics_meeting",
            "analytics_meetingparticipant",
            "analytics_tabletheme",
            "analytics_bookmarkedfilter",
            "analytics_funnelteammember",
            "permissions_servicegrant",
        },
        "per-user counts of one user fetched through get_managed_user_or_404 (scoped)",
    ),
    "analytics.selectors.meeting_participants": (
        {"analytics_meetingparticipant", "users_user"},
        "the participants of one meeting fetched through visible_meetings (scoped); the table "
        "has no organization column",
    ),
    "analytics.selectors.funnel_teams": (
        {"analytics_funnelteammember", "users_user"},
        "members of the teams the previous, scoped statement returned (team_id IN those ids); "
        "the table has no organization column",
    ),
    "analytics.selectors.by_user_table": (
        {"users_user"},
        "names of the user IDs the scoped By-user statement returned (deleted users included, "
        "hence all_objects)",
    ),
    "analytics.selectors.video_dashboard": (
        {"users_user"},
        "hosts and uploaders of the meetings the scoped statement returned",
    ),
    "exports.limits.release": (
        {"exports_activetransfer"},
        "frees the transfer slot by the primary key that acquire() inserted, scoped, in the "
        "same request",
    ),
    "exports.views.import_upload": (
        {"exports_importjob"},
        "housekeeping: deletes every organization's expired uploads; reads nothing back",
    ),
}


@dataclass
class Statement:
    sql: str
    params: tuple
    site: str  # the innermost project function on the stack
    stack: list[str] = field(default_factory=list)

    @property
    def tables(self) -> set[str]:
        return set(re.findall(r'(?:FROM|JOIN|UPDATE|INTO)\s+"(\w+)"', self.sql))

    @property
    def tenant_tables(self) -> set[str]:
        return {t for t in self.tables if is_tenant_table(t)}

    @property
    def writes_only(self) -> bool:
        return self.sql.lstrip().upper().startswith("INSERT")

    def param_at(self, position: int):
        """The parameter bound to the placeholder that starts at `position` in the SQL."""
        index = len(re.findall(r"(?<!%)%s", self.sql[:position]))
        return self.params[index]

    def scoped_to(self, organization_id: int) -> bool:
        ok = False
        for match in re.finditer(r'"organization_id"\s*=\s*(%s)', self.sql):
            if self.param_at(match.start(1)) != organization_id:
                return False
            ok = True
        for match in re.finditer(r'"organization_id"\s+IN\s*\(([^)]*)\)', self.sql):
            values = [
                self.param_at(match.start(1) + m.start())
                for m in re.finditer(r"%s", match.group(1))
            ]
            if not values or any(v != organization_id for v in values):
                return False
            ok = True
        # A correlated subquery bound to the organization row, which is itself chosen by id.
        if re.search(r'"organization_id"\s*=\s*\("users_organization"\."id"\)', self.sql):
            for match in re.finditer(r'"users_organization"\."id"\s*=\s*(%s)', self.sql):
                if self.param_at(match.start(1)) != organization_id:
                    return False
                ok = True
        return ok


def _site(frame) -> tuple[str, list[str]]:
    stack = []
    while frame is not None:
        path = Path(frame.f_code.co_filename)
        try:
            relative = path.resolve().relative_to(ROOT)
        except ValueError:
            relative = None
        if relative is not None and relative.parts[0] in PROJECT_PACKAGES:
            module = ".".join(relative.with_suffix("").parts)
            stack.append(f"{module}.{frame.f_code.co_qualname}")
        frame = frame.f_back
    return (stack[0] if stack else "<django>"), stack


class Recorder:
    """Every statement with its parameters and the project code that ran it."""

    def __init__(self):
        self.statements: list[Statement] = []

    def __call__(self, execute, sql, params, many, context):
        site, stack = _site(sys._getframe(1))
        self.statements.append(Statement(sql, tuple(params or ()), site, stack))
        return execute(sql, params, many, context)


def run(func) -> list[Statement]:
    recorder = Recorder()
    with CaptureQueriesContext(connection) as captured, connection.execute_wrapper(recorder):
        func()
    assert len(recorder.statements) == len(captured.captured_queries)
    return recorder.statements


def violations(statements: list[Statement], organization_id: int) -> list[str]:
    found = []
    for statement in statements:
        tables = statement.tenant_tables
        if not tables or statement.writes_only or statement.scoped_to(organization_id):
            continue
        allowed_tables, _reason = ALLOWLIST.get(statement.site, (set(), ""))
        if tables <= allowed_tables:
            continue
        found.append(f"{statement.site}: {sorted(tables)}\n    {statement.sql[:400]}")
    return found


def test_every_table_with_an_organization_column_is_checked():
    found = _tables_with_an_organization()
    named = {
        "users_user",
        "users_contract",
        "permissions_servicegrant",
        "audit_auditevent",
        "exports_importjob",
        "exports_activetransfer",
        "analytics_callrecord",
        "analytics_meeting",
    }
    assert named <= found
    assert all(is_tenant_table(t) for t in found)


# --- the data: both organizations have everything ------------------------------------------------


@pytest.fixture
def rich_world(world):
    for key in ("a", "b"):
        org, target = world[f"org_{key}"], world[f"target_{key}"]
        TableThemeFactory(creator=target, name=f"Theme {key}")
        BookmarkedFilterFactory(creator=target, name=f"Bookmark {key}")
        FunnelTeamMemberFactory(team__organization=org, team__name=f"Team {key}", user=target)
        MeetingFactory(
            host=target,
            uploader=world[f"inactive_{key}"],
            title=f"Specified {key}",
            access="specified",
            allowed_users=[target],
        )
        group = ScimGroup.objects.create(organization=org, display_name=f"IdP group {key}")
        ScimGroupMember.objects.create(organization=org, group=group, user=target)
        admin = world[f"admin_{key}"]
        audit_record(
            actor=Actor(user=admin, label=admin.login_id, ip_address="10.0.0.1"),
            action="user_update",
            organization=org,
            target=target,
            changes={"name": ["x", "y"]},
        )
    return world


def admin_pages(world) -> list[tuple[str, str, dict]]:
    """Every admin GET, with the filter variants that take other code paths (a label starting
    with "POST " is posted: the CSV export, streamed to the end)."""
    a = world
    pages = []
    for name, policy in sorted(POLICY.items()):
        if policy.access == ADMIN and "GET" in policy.methods:
            pages.append((name, url_of(name, world), {}))
    users = reverse("users:list")
    pages += [
        ("users:list q", users, {"q": "target", "role": "member", "status": "active"}),
        ("users:list service", users, {"service": "phone", "sort": "services", "dir": "desc"}),
        ("users:list admin", users, {"service": "admin", "sort": "login_id"}),
        ("audit:list filters", reverse("audit:list"), {"actor": "admin", "target": "t"}),
        ("calls user", reverse("analytics:calls"), {"user": a["target_a"].pk}),
        ("dashboard user", reverse("analytics:dashboard"), {"user": a["target_a"].pk, "days": 0}),
        (
            "meetings host",
            reverse("analytics:meetings"),
            {"host": a["target_a"].pk, "participant": a["inactive_a"].pk},
        ),
        ("export filters", reverse("exports:export"), {"q": "t", "service": "phone"}),
        ("POST export", reverse("exports:export"), {"encoding": "utf-8", "q": "t"}),
    ]
    return pages


def fetch(client, label: str, url: str, params: dict) -> list[Statement]:
    if label.startswith("POST "):
        return run(lambda: consume(client.post(url, params)))
    return run(lambda: consume(client.get(url, params)))


# --- the detector itself --------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_detector_flags_unscoped_and_wrongly_scoped_queries(world):
    org_a, org_b = world["org_a"], world["org_b"]
    unscoped = run(lambda: list(CallRecord.objects.all()))
    wrong = run(lambda: list(User.objects.filter(organization=org_b)))
    mixed = run(lambda: list(User.objects.filter(organization_id__in=[org_a.pk, org_b.pk])))
    right = run(lambda: list(ActiveTransfer.objects.filter(organization=org_a)))

    assert len(violations(unscoped, org_a.pk)) == 1
    assert len(violations(wrong, org_a.pk)) == 1
    assert len(violations(mixed, org_a.pk)) == 1
    assert violations(right, org_a.pk) == []


def test_the_allowlist_names_functions_that_exist():
    import importlib

    for site in ALLOWLIST:
        module_name, _, qualname = site.rpartition(".")
        while module_name:
            try:
                obj = importlib.import_module(module_name)
                break
            except ModuleNotFoundError:
                module_name, _, head = module_name.rpartition(".")
                qualname = f"{head}.{qualname}"
        for part in qualname.split("."):
            obj = getattr(obj, part)
        assert callable(obj), site


# --- every admin page ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_every_admin_page_reads_only_its_own_organizations_rows(rich_world):
    world = rich_world
    client = client_for(world["admin_a"])
    report = {}
    for label, url, params in admin_pages(world):
        statements = fetch(client, label, url, params)
        assert any(s.tenant_tables for s in statements), label
        found = violations(statements, world["org_a"].pk)
        if found:
            report[label] = found
    assert report == {}, "\n".join(f"{k}:\n  " + "\n  ".join(v) for k, v in report.items())


@pytest.mark.django_db
def test_every_allowlisted_site_is_still_used(rich_world):
    """A stale allowlist entry would silently excuse a future query: each one must match."""
    world = rich_world
    client = client_for(world["admin_a"])
    sites = set()
    for label, url, params in admin_pages(world):
        for statement in fetch(client, label, url, params):
            if statement.tenant_tables and not statement.scoped_to(world["org_a"].pk):
                sites.add(statement.site)
    assert set(ALLOWLIST) <= sites, sorted(set(ALLOWLIST) - sites)
