from django.core.exceptions import ValidationError

from mfa import services
from users.management.base import OperatorCommand, error_lines, fail


class Command(OperatorCommand):
    help = (
        "Reset a user's 2-step verification (for someone locked out of their only device): "
        "removes their authenticator apps, passkeys and recovery codes and signs them out "
        "everywhere. If their organization requires it for admins, an admin sets it up again "
        "right after their password at their next sign-in."
    )

    def add_arguments(self, parser):
        parser.add_argument("--organization", required=True, metavar="SLUG")
        parser.add_argument("--login-id", required=True)
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **options):
        organization = self.get_organization(options["organization"])
        user = self.get_user(organization, options["login_id"])
        try:
            removed = services.mfa_reset(actor=self.actor(), user=user)
        except ValidationError as error:
            raise fail(error_lines(error)) from None
        reset = any(removed.values())
        if options["json"]:
            self.write_json({"login_id": user.login_id, "reset": reset, "removed": removed})
        elif reset:
            self.stdout.write(self.style.SUCCESS(f"2-step verification of {user.login_id} reset."))
            self.stdout.write(
                f"  removed: {removed['totp']} authenticator app(s), {removed['passkeys']} "
                f"passkey(s), {removed['recovery_codes']} recovery code(s); "
                f"{removed['sessions']} session(s) ended"
            )
        else:
            self.stdout.write(f"{user.login_id} has no 2-step verification; nothing changed.")
