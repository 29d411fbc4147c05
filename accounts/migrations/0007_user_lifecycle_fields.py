from django.db import migrations, models


class Migration(migrations.Migration):
    """The version every change raises (stale-edit and If-Match checks), scheduled
    deactivation and the identity provider's ID. SQLite rebuilds users_user for these, which
    drops its triggers: permissions 0004 puts them back."""

    dependencies = [("users", "0006_seatcount_to_permissions")]

    operations = [
        migrations.AddField(
            model_name="user",
            name="version",
            field=models.PositiveIntegerField(default=1, editable=False),
        ),
        migrations.AddField(
            model_name="user",
            name="deactivate_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="deactivate at"),
        ),
        migrations.AddField(
            model_name="user",
            name="external_id",
            field=models.CharField(blank=True, max_length=255, verbose_name="external ID"),
        ),
        migrations.AddIndex(
            model_name="user",
            index=models.Index(
                condition=models.Q(("deleted_at__isnull", True), models.Q(("external_id", ""), _negated=True)),
                fields=["organization", "external_id"],
                name="users_org_external_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="user",
            index=models.Index(
                condition=models.Q(("deactivate_at__isnull", False), ("deleted_at__isnull", True)),
                fields=["deactivate_at"],
                name="users_deactivate_at_idx",
            ),
        ),
    ]
