import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    """SeatCount moves here from the users app (users 0006), keeping its table. No database
    change."""

    dependencies = [
        ("permissions", "0002_initial"),
        ("users", "0006_seatcount_to_permissions"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="SeatCount",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("code", models.CharField(max_length=32)),
                        ("used", models.IntegerField(default=0)),
                        (
                            "organization",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="+",
                                to="users.organization",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "users_seatcount",
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("organization", "code"), name="seatcount_org_code"
                            )
                        ],
                    },
                ),
            ],
            database_operations=[],
        )
    ]
