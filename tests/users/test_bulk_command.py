"""bulk_users: the User List's bulk actions for operators, with the list's filters, a dry run,
the change service's verdicts and messages, and a non-zero exit status when refused."""

from datetime import datetime, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts.models import Contract, User
from audit.models import AuditEvent, ChangeBatch
from permissions import catalog
from permissions.models import ServiceGrant
from tests.factories import UserFactory


def run(*args):
    out, err = StringIO(), StringIO()
    call_command("bulk_users", "--organization", "org-a", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def team(org_a, admin_a):
    return [
        UserFactory(organization=org_a, name=f"Sales {i}", login_id=f"sales{i}@a.example.com")
        for i in range(3)
    ]


def active(users) -> list[bool]:
    return [u.is_active for u in User.objects.filter(pk__in=[u.pk for u in users]).order_by("pk")]


def test_dry_run_changes_nothing(team, org_b):
    UserFactory(organization=org_b, name="Sales abroad")
    out, _ = run("--filter", "q=Sales", "--action", "deactivate", "--dry-run")

    assert "3 users matching q=Sales" in out
    assert "change: 3" in out
    assert "Dry run: nothing was changed." in out
    assert active(team) == [True] * 3
    assert not ChangeBatch.objects.exists()


def test_deactivate_the_filtered_users_as_one_batch(team, org_a, admin_a):
    out, _ = run("--filter", "q=sales,status=active", "--action", "deactivate")

    assert "deactivate: 3 users changed" in out
    assert active(team) == [False] * 3
    assert User.objects.get(pk=admin_a.pk).is_active
    batch = ChangeBatch.objects.get()
    assert (batch.kind, batch.size) == ("deactivate", 3)
    assert batch.actor_label.startswith("operator:bulk_users")
    assert AuditEvent.objects.filter(batch=batch, channel="operator").count() == 3


def test_activate(team):
    User.objects.filter(pk__in=[u.pk for u in team]).update(is_active=False)
    run("--filter", "status=inactive", "--action", "activate")
    assert active(team) == [True] * 3


def test_grant_with_a_level_and_revoke(team):
    run("--filter", "q=Sales", "--action", "grant", "--service", "meeting_access", "--level=host")
    assert set(
        ServiceGrant.objects.filter(service=catalog.MEETING_ACCESS).values_list("level", flat=True)
    ) == {"host"}

    run("--filter", "q=Sales", "--action", "grant", "--service", catalog.PHONE)
    out, _ = run("--filter", f"service={catalog.PHONE}", "--action", "revoke", "--service", "phone")
    assert "seats MiiTel Phone: 3 -> 0" in out
    assert not ServiceGrant.objects.filter(service=catalog.PHONE).exists()
    assert ChangeBatch.objects.filter(kind="revoke", detail=catalog.PHONE).exists()


def test_delete(team):
    out, _ = run("--filter", "q=Sales", "--action", "delete")
    assert "delete impact call_records: 0" in out
    assert User.all_objects.filter(deleted_at__isnull=False).count() == 3
    assert ChangeBatch.objects.get().kind == "delete"


def test_schedule_without_an_offset_is_the_organizations_time(team):
    day = (timezone.now() + timedelta(days=3)).date().isoformat()
    run("--filter", "q=Sales", "--action", "schedule", "--at", f"{day}T09:00")
    expected = datetime.fromisoformat(f"{day}T09:00").replace(tzinfo=ZoneInfo("Asia/Tokyo"))
    assert {u.deactivate_at for u in User.objects.filter(name__startswith="Sales")} == {expected}


def test_the_idle_filter(team, org_a):
    idle = UserFactory(organization=org_a, last_login=None)
    User.objects.filter(pk=idle.pk).update(created_at=timezone.now() - timedelta(days=120))
    out, _ = run("--filter", "idle=90", "--action", "deactivate")
    assert "1 users matching idle=90" in out
    assert not User.objects.get(pk=idle.pk).is_active
    assert active(team) == [True] * 3


def test_refusals_exit_non_zero_and_change_nothing(org_a, admin_a, team):
    # The organization's only admin, selected with the others: all or nothing.
    with pytest.raises(CommandError) as refused:
        run("--action", "deactivate")
    assert "admin@a.example.com: This change would leave the organization without an " in str(
        refused.value
    )
    assert "Nothing was changed" in str(refused.value)
    assert active([admin_a, *team]) == [True] * 4

    # --others: the others are changed, the refused are named on stderr.
    _out, err = run("--action", "deactivate", "--others")
    assert "skipped: admin@a.example.com" in err
    assert active(team) == [False] * 3
    assert User.objects.get(pk=admin_a.pk).is_active


def test_seats_over_the_contract_are_refused(org_a, team):
    Contract.objects.filter(organization=org_a).update(service_limits={catalog.PHONE: 1})
    with pytest.raises(CommandError) as refused:
        run("--filter", "q=Sales", "--action", "grant", "--service", "phone", "--dry-run")
    assert "MiiTel Phone" in str(refused.value)
    assert not ServiceGrant.objects.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--filter", "colour=red", "--action", "deactivate"], "filter: “colour=red”"),
        (["--filter", "role=king", "--action", "deactivate"], "filter: role:"),
        (["--action", "grant"], "--service is needed"),
        (["--action", "grant", "--service", "teleport"], "“teleport” is not a service"),
        (["--action", "schedule"], "--at is needed"),
        (["--action", "schedule", "--at", "soon"], "“soon” is not a date"),
    ],
)
def test_bad_options_are_errors(team, args, message):
    with pytest.raises(CommandError, match=message):
        run(*args)
    assert active(team) == [True] * 3


def test_an_unknown_organization_is_an_error(db):
    with pytest.raises(CommandError, match="no organization"):
        call_command("bulk_users", "--organization", "nowhere", "--action", "deactivate")


def test_nothing_matching_is_not_an_error(team):
    out, _ = run("--filter", "q=nobody-at-all", "--action", "delete")
    assert "nothing to do" in out
