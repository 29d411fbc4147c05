import unicodedata

from accounts.models import User
from permissions import catalog
from users import selectors
from users.management.base import OperatorCommand


class Command(OperatorCommand):
    help = "List an organization's users (deleted users are not listed), as a table or JSON."

    def add_arguments(self, parser):
        parser.add_argument("--organization", required=True, metavar="SLUG")
        parser.add_argument("--search", default="", help="Name, login ID or extension contains.")
        parser.add_argument("--role", choices=User.Role.values)
        parser.add_argument("--status", choices=["active", "inactive"])
        parser.add_argument("--service", choices=sorted({catalog.ADMIN, *catalog.GRANTABLE_CODES}))
        parser.add_argument("--sort", choices=sorted(selectors.SORTS), default="name")
        parser.add_argument("--desc", action="store_true")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **options):
        organization = self.get_organization(options["organization"])
        qs = selectors.with_grants(
            selectors.user_list(
                organization=organization,
                search=options["search"],
                role=options["role"] or "",
                status=options["status"] or "",
                service=options["service"] or "",
                sort=options["sort"],
                descending=options["desc"],
            )
        )
        rows = [
            {
                "login_id": u.login_id,
                "name": u.name,
                "role": u.role,
                "active": u.is_active,
                "extension": u.extension,
                "services": sorted(selectors.parse_grants(u.grant_codes)),
                "last_login": u.last_login.isoformat() if u.last_login else None,
            }
            for u in qs.iterator(chunk_size=2000)
        ]
        if options["json"]:
            self.write_json(rows)
            return
        headers = ["login_id", "name", "role", "status", "ext", "services", "last_login"]
        table = [
            [
                r["login_id"],
                r["name"],
                r["role"],
                "active" if r["active"] else "deactivated",
                r["extension"] or "-",
                ",".join(r["services"]) or "-",
                (r["last_login"] or "never")[:16],
            ]
            for r in rows
        ]
        widths = [
            max([_width(h), *(_width(row[i]) for row in table)]) for i, h in enumerate(headers)
        ]
        for row in [headers, *table]:
            line = "  ".join(_pad(c, w) for c, w in zip(row, widths, strict=True))
            self.stdout.write(line.rstrip())
        self.stdout.write(f"({len(rows)} users)")


def _width(text: str) -> int:
    """Display width: East Asian wide characters take two columns."""

    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))
