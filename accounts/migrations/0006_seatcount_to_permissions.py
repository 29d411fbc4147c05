from django.db import migrations


class Migration(migrations.Migration):
    """SeatCount belongs to permissions (seat counting and its triggers): the model moves there
    (permissions 0003) and keeps its table, users_seatcount. No database change."""

    dependencies = [("users", "0005_counter_triggers")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="SeatCount")],
            database_operations=[],
        )
    ]
