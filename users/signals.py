"""Signals of the change service (users.changes), for the apps layered above it.

`user_deleted` is sent inside the transaction of a deletion, after the user's own data is
purged and before the tombstone is saved (docs/rules.md). A receiver removes what its app
keeps of the user and returns {what: how many rows}, which the deletion's audit record lists
with the rest. One DELETE per receiver: no loading of rows (docs/performance.md)."""

from django.dispatch import Signal

user_deleted = Signal()  # sender: the User class; keyword: user
