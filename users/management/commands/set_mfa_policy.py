from django.core.exceptions import ValidationError

from mfa import services
from users.management.base import OperatorCommand, error_lines, fail


class Command(OperatorCommand):
    help = (
        "Require 2-step verification for every admin of an organization (on), or stop requiring "
        "it (off). Turning it on signs out the admins who have none; each sets it up right "
        "after their password at their next sign-in. Members are not affected."
    )

    def add_arguments(self, parser):
        parser.add_argument("--organization", required=True, metavar="SLUG")
        parser.add_argument("--require-admin-mfa", required=True, choices=["on", "off"])
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **options):
        organization = self.get_organization(options["organization"])
        required = options["require_admin_mfa"] == "on"
        try:
            change = services.policy_set(
                actor=self.actor(), organization=organization, admins_must_use_mfa=required
            )
        except ValidationError as error:
            raise fail(error_lines(error)) from None
        signed_out = [admin.login_id for admin in change.signed_out]
        if options["json"]:
            self.write_json(
                {
                    "organization": organization.slug,
                    "admins_must_use_mfa": required,
                    "changed": change.changed,
                    "signed_out": signed_out,
                }
            )
            return
        state = "required" if required else "not required"
        if not change.changed:
            self.stdout.write(
                f"2-step verification for admins of {organization.slug} was already {state}; "
                "nothing changed."
            )
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"2-step verification for admins of {organization.slug} is now {state}."
            )
        )
        for login_id in signed_out:
            self.stdout.write(f"  signed out (no 2-step verification yet): {login_id}")
