from .activate_user import Command as ActivateCommand


class Command(ActivateCommand):
    help = (
        "Deactivate a user: signed out everywhere, cannot sign in, settings and seat kept. "
        "The organization's last active admin cannot be deactivated."
    )
    active = False
