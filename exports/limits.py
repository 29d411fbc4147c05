"""At most MAX_CONCURRENT_TRANSFERS exports and imports per organization at once: a third one
is refused (429) instead of letting one tenant take every worker and the database."""

import contextlib
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from permissions.contracts import contract_lock

from .models import ActiveTransfer

MAX_CONCURRENT_TRANSFERS = 2
# A transfer whose worker died frees its slot after this.
STALE_AFTER = timedelta(minutes=30)


class TooManyTransfers(Exception):
    pass


def acquire(organization, kind: str) -> int:
    with transaction.atomic():
        contract_lock(organization)  # serialises the count and the insert per organization
        now = timezone.now()
        ActiveTransfer.objects.filter(organization=organization, expires_at__lt=now).delete()
        if ActiveTransfer.objects.filter(organization=organization).count() >= (
            MAX_CONCURRENT_TRANSFERS
        ):
            raise TooManyTransfers
        slot = ActiveTransfer.objects.create(
            organization=organization, kind=kind, expires_at=now + STALE_AFTER
        )
    return slot.pk


def release(slot_id: int) -> None:
    ActiveTransfer.objects.filter(pk=slot_id).delete()


@contextlib.contextmanager
def transfer_slot(organization, kind: str):
    slot = acquire(organization, kind)
    try:
        yield
    finally:
        release(slot)


def streaming(organization, kind: str, chunks):
    """Hold a slot while `chunks` streams; the slot is freed when the response is closed (also
    when the client goes away mid-download)."""
    slot = acquire(organization, kind)

    def generate():
        try:
            yield from chunks
        finally:
            release(slot)

    return generate()
