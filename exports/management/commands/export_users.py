import sys

from django.utils import translation

from accounts.models import User
from audit.models import AuditEvent
from audit.services import audit_record
from exports import csv_format
from exports.exporting import export_bytes, export_queryset, unencodable_users
from permissions import catalog
from users import selectors
from users.management.base import OperatorCommand, fail


class Command(OperatorCommand):
    help = (
        "Write an organization's users as CSV (the same file as the console's download) to a "
        "path or stdout. Shift_JIS is CP932; a name it cannot hold stops the export before "
        "anything is written, naming the users."
    )

    def add_arguments(self, parser):
        parser.add_argument("--organization", required=True, metavar="SLUG")
        parser.add_argument("--output", "-o", default="-", help="File path, or - for stdout.")
        parser.add_argument("--encoding", choices=list(csv_format.ENCODINGS), default="utf-8-sig")
        parser.add_argument("--language", choices=["ja", "en"], default="ja", help="Headers.")
        parser.add_argument("--search", default="")
        parser.add_argument("--role", choices=User.Role.values)
        parser.add_argument("--status", choices=["active", "inactive"])
        parser.add_argument("--service", choices=sorted({catalog.ADMIN, *catalog.GRANTABLE_CODES}))
        parser.add_argument("--sort", choices=sorted(selectors.SORTS), default="name")

    def handle(self, *args, **options):
        organization = self.get_organization(options["organization"])
        params = {
            "q": options["search"],
            "role": options["role"] or "",
            "status": options["status"] or "",
            "service": options["service"] or "",
            "sort": options["sort"],
        }
        qs = export_queryset(organization=organization, params=params)
        encoding = options["encoding"]
        problems, total = unencodable_users(qs, encoding)
        if problems:
            lines = [f"encoding: {encoding} cannot hold the names of {total} users; use utf-8-sig:"]
            lines += [f"  {p['login_id']}: {p['name']} ({p['characters']})" for p in problems]
            raise fail(lines)
        audit_record(
            actor=self.actor(),
            action=AuditEvent.Action.EXPORT,
            organization=organization,
            detail=f"encoding={encoding} output={options['output']}",
        )
        with translation.override(options["language"]):
            chunks = export_bytes(
                organization=organization,
                qs=qs,
                language=options["language"],
                encoding=encoding,
            )
            if options["output"] == "-":
                out = sys.stdout.buffer
                for chunk in chunks:
                    out.write(chunk)
                out.flush()
            else:
                try:
                    with open(options["output"], "wb") as out:
                        for chunk in chunks:
                            out.write(chunk)
                except OSError as error:
                    raise fail(
                        [f"output: cannot write {options['output']}: {error.strerror}"]
                    ) from None
                self.stderr.write(f"Wrote {options['output']} ({encoding}).")
