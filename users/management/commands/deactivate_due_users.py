from users.changes import run_due_deactivations
from users.management.base import OperatorCommand


class Command(OperatorCommand):
    help = (
        "Deactivate every user whose scheduled deactivation time has come (the task worker "
        "does this at each scheduled time; this command is for a cron, as a safety net)."
    )

    def handle(self, *args, **options):
        done = run_due_deactivations()
        self.stdout.write(f"Deactivated {done} user{'s' if done != 1 else ''}.")
