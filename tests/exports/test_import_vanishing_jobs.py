"""An import job can vanish under a request or the worker: any admin's upload purges expired
jobs. Whatever goes first, the answer is a page or a no-op, never a 500 or a lost result
(objects that can vanish between a page and its POST)."""

import threading
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connections, transaction
from django.utils import timezone

from exports.models import IMPORT_TTL, ImportJob
from exports.tasks import apply_import
from tests.exports.test_import import (
    IMPORT_URL,
    apply_url,
    cancel_url,
    detail_url,
    make_csv,
    passwords_url,
    row,
    status_url,
    upload,
)

ON_POSTGRESQL = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")


def _job_with_passwords(org_a, admin_a) -> ImportJob:
    return ImportJob.objects.create(
        organization=org_a,
        admin=admin_a,
        filename="users.csv",
        encoding="utf-8",
        report={},
        status=ImportJob.Status.DONE,
        generated_passwords=[["gen@a.example.com", "Gx4#generated"]],
    )


def _wait_until_a_backend_waits_for_a_lock(timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    with connections["default"].cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE wait_event_type = 'Lock' AND datname = current_database()"
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.02)
    raise AssertionError("the request never waited for the job's row lock")


@pytest.mark.skipif(
    not ON_POSTGRESQL,
    reason="needs PostgreSQL's row locks to hold the request between its statements (SQLite "
    "locks the whole database, so the purge could not run while the request waits)",
)
@pytest.mark.django_db(transaction=True)
def test_passwords_of_a_job_purged_while_the_download_waits_are_a_404(
    org_a, admin_a, admin_client_a
):
    """Another admin's upload purges the job while this download waits for its row: the
    download read the job, then read it again under the lock, found nothing: a 500."""
    job = _job_with_passwords(org_a, admin_a)
    admin_client_a.raise_request_exception = False
    locked, errors = threading.Event(), []

    def purge():
        try:
            with transaction.atomic():
                ImportJob.objects.select_for_update().get(pk=job.pk)
                locked.set()
                _wait_until_a_backend_waits_for_a_lock()
                ImportJob.objects.filter(pk=job.pk).delete()
        except Exception as error:  # noqa: BLE001  (reported by the assertion below)
            errors.append(error)
            locked.set()
        finally:
            connections.close_all()

    purger = threading.Thread(target=purge)
    purger.start()
    assert locked.wait(20)
    response = admin_client_a.post(passwords_url(job))
    purger.join(30)

    assert errors == []
    assert response.status_code == 404
    assert not ImportJob.objects.filter(pk=job.pk).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", detail_url),
        ("get", status_url),
        ("post", apply_url),
        ("post", cancel_url),
        ("post", passwords_url),
    ],
    ids=["detail", "status", "apply", "cancel", "passwords"],
)
def test_every_page_of_a_job_purged_since_it_was_shown_is_a_404(
    org_a, admin_a, admin_client_a, method, url
):
    job = _job_with_passwords(org_a, admin_a)
    ImportJob.objects.filter(pk=job.pk).delete()

    assert getattr(admin_client_a, method)(url(job)).status_code == 404


@pytest.mark.django_db
def test_the_worker_skips_a_job_that_vanished_before_it_started(org_a, admin_a, admin_client_a):
    job = upload(admin_client_a, make_csv([row("late@a.example.com")]))
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.QUEUED)
    ImportJob.objects.filter(pk=job.pk).delete()

    assert apply_import.call(str(job.pk)) is None


@pytest.mark.django_db
@pytest.mark.parametrize("status", [ImportJob.Status.QUEUED, ImportJob.Status.RUNNING])
def test_an_upload_does_not_purge_a_job_still_queued_or_running(
    org_a, admin_a, admin_client_a, status
):
    """A queued import waits for a transfer slot and then hashes passwords: it may outlast its
    hour. Purged meanwhile, its result (and the generated passwords) would be lost."""
    job = upload(admin_client_a, make_csv([row("slow@a.example.com")]))
    ImportJob.objects.filter(pk=job.pk).update(
        status=status, expires_at=timezone.now() - timedelta(minutes=5)
    )

    assert admin_client_a.get(IMPORT_URL).status_code == 200

    assert ImportJob.objects.filter(pk=job.pk).exists()


@pytest.mark.django_db
def test_a_job_stuck_queued_or_running_for_a_day_is_purged(org_a, admin_a, admin_client_a):
    # A worker killed mid-import leaves its job running for ever: a day past expiry it goes.
    job = upload(admin_client_a, make_csv([row("stuck@a.example.com")]))
    ImportJob.objects.filter(pk=job.pk).update(
        status=ImportJob.Status.RUNNING, expires_at=timezone.now() - timedelta(days=1, seconds=1)
    )

    assert admin_client_a.get(IMPORT_URL).status_code == 200

    assert not ImportJob.objects.filter(pk=job.pk).exists()


@pytest.mark.django_db
def test_generated_passwords_wait_their_hour_from_when_the_import_finished(
    org_a, admin_a, admin_client_a, django_capture_on_commit_callbacks
):
    job = upload(admin_client_a, make_csv([row("fresh@a.example.com")]))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        admin_client_a.post(apply_url(job))
    # The worker starts 50 minutes after the admin confirmed.
    ImportJob.objects.filter(pk=job.pk).update(expires_at=timezone.now() + timedelta(minutes=10))
    for callback in callbacks:
        callback()
    job.refresh_from_db()

    assert job.status == ImportJob.Status.DONE
    assert job.generated_passwords
    assert job.expires_at >= timezone.now() + IMPORT_TTL - timedelta(minutes=1)
