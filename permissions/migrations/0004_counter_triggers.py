from django.db import migrations

from permissions.db_triggers import reinstall_operation


class Migration(migrations.Migration):
    """The seat and service counters' triggers, for the catalog's services with levels at this
    migration (frozen here). Installed after users 0007, whose SQLite table rebuild drops them;
    on a database that has them already they are replaced and the counters recounted."""

    dependencies = [
        ("permissions", "0003_seatcount"),
        ("users", "0007_user_lifecycle_fields"),
    ]

    operations = [reinstall_operation(leveled=("meeting_access",))]
