from pathlib import Path

from django.core.management.base import CommandError

from sso import selectors, services
from sso.metadata import MetadataError, certificate_states
from users.management.base import OperatorCommand


class Command(OperatorCommand):
    help = (
        "Single sign-on of an organization (docs/sso.md): show its settings, set its identity "
        "provider's metadata from a file, or turn it off (and so its requirement: every user may "
        "sign in with a password again). Turning it on stays with the organization's admins, "
        "after a test sign-in on the Single sign-on page."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        for name, text in (
            ("show", "print the settings"),
            ("set", "store the IdP metadata from --metadata-file"),
            ("off", "turn single sign-on off"),
        ):
            action = sub.add_parser(name, help=text)
            action.add_argument("--organization", required=True, metavar="SLUG")
            action.add_argument("--json", action="store_true")
            if name == "set":
                action.add_argument("--metadata-file", required=True, metavar="PATH")

    def handle(self, *args, **options):
        organization = self.get_organization(options["organization"])
        action = options["action"]
        if action == "set":
            path = Path(options["metadata_file"])
            try:
                data = path.read_bytes()
            except OSError as error:
                raise CommandError(
                    f"metadata-file: cannot read {path}: {error.strerror}."
                ) from None
            try:
                services.metadata_set(actor=self.actor(), organization=organization, xml=data)
            except MetadataError as error:
                raise CommandError(f"metadata-file: {error.message}") from None
            self.stdout.write(
                self.style.SUCCESS(f"Identity provider metadata stored for {organization.slug}.")
            )
        elif action == "off":
            was_on = services.sso_off(actor=self.actor(), organization=organization)
            if not was_on:
                self.stdout.write(
                    f"Single sign-on of {organization.slug} was already off; nothing changed."
                )
            else:
                self.stdout.write(
                    self.style.SUCCESS(
                        f"Single sign-on of {organization.slug} is now off; its users sign in "
                        "with their passwords."
                    )
                )
        self._show(organization, as_json=options["json"])

    def _show(self, organization, *, as_json: bool) -> None:
        config = selectors.config_of(organization=organization)
        if config is None:
            data = {"organization": organization.slug, "configured": False}
        else:
            data = {
                "organization": organization.slug,
                "configured": True,
                "enabled": config.enabled,
                "require_sso": config.require_sso,
                "allow_idp_initiated": config.allow_idp_initiated,
                "tested": selectors.is_tested(config),
                "idp_entity_id": config.idp_entity_id,
                "sso_url": config.sso_url,
                "match_by": config.match_by,
                "match_attribute": config.match_attribute,
                "certificates": [
                    {
                        "subject": c.subject,
                        "not_after": c.not_after.isoformat(),
                        "expired": c.expired,
                        "expires_within_30_days": c.expires_soon,
                    }
                    for c in certificate_states(config.certificates)
                ],
                "break_glass": [u.login_id for u in selectors.break_glass_admins(config=config)],
            }
        if as_json:
            self.write_json(data)
            return
        for key, value in data.items():
            if key == "certificates":
                for cert in value:
                    warn = (
                        " EXPIRED"
                        if cert["expired"]
                        else " (expires within 30 days)"
                        if cert["expires_within_30_days"]
                        else ""
                    )
                    self.stdout.write(
                        f"  certificate: {cert['subject']} until {cert['not_after']}{warn}"
                    )
            elif isinstance(value, list):
                self.stdout.write(f"  {key}: {', '.join(value) or '-'}")
            else:
                self.stdout.write(f"  {key}: {value}")
