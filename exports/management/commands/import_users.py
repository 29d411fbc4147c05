import os
import sys
from pathlib import Path

from django.utils import translation

from exports import csv_format, importing
from users.management.base import OperatorCommand, fail


class Command(OperatorCommand):
    help = (
        "Add and update an organization's users from a CSV file (the console's format, or "
        "MiiTel's bulk templates). Every row is checked first; with --dry-run nothing is "
        "written, otherwise all rows are applied in one transaction or none. Exit status 1 "
        "when any row has a problem. Generated temporary passwords go to --passwords-file."
    )

    def add_arguments(self, parser):
        parser.add_argument("--organization", required=True, metavar="SLUG")
        parser.add_argument("file", help="The CSV file, or - for stdin.")
        parser.add_argument("--encoding", choices=["utf-8", "shift_jis"], default="utf-8")
        parser.add_argument("--dry-run", action="store_true", help="Check only; write nothing.")
        parser.add_argument(
            "--passwords-file",
            help="Where to write generated temporary passwords (CSV). Required when new users "
            "have a blank Temporary password.",
        )
        parser.add_argument("--json", action="store_true", help="Print the report as JSON.")

    def handle(self, *args, **options):
        organization = self.get_organization(options["organization"])
        if options["file"] == "-":
            data = sys.stdin.buffer.read()
        else:
            try:
                data = Path(options["file"]).read_bytes()
            except OSError as error:
                raise fail([f"file: cannot read {options['file']}: {error.strerror}"]) from None
        with translation.override("en"):
            report = importing.validate_file(
                organization=organization,
                data=data,
                encoding=options["encoding"],
                acting_user=None,
                language="en",
            )
        self._print_report(report, options)
        if not report.ok:
            raise fail([f"Not imported: {report.counts['error'] or 'the file has'} problem(s)."])
        if options["dry_run"]:
            self.stderr.write("Dry run: nothing written.")
            return
        needs_passwords = any(r.generates_password for r in report.rows)
        if needs_passwords and not options["passwords_file"]:
            raise fail(
                [
                    "passwords-file: some new users have no Temporary password; give "
                    "--passwords-file to receive the generated ones."
                ]
            )
        report, result = importing.apply_file(
            organization=organization,
            data=data,
            encoding=options["encoding"],
            language="en",
            actor=self.actor(),
            progress=self._progress,
        )
        if result is None:
            self._print_report(report, options)
            raise fail(["Not imported: the organization changed while the file was checked."])
        if result.generated_passwords:
            rows = [["Login ID", "Temporary password"], *result.generated_passwords]
            # Created readable by the operator only, before a byte is written.
            fd = os.open(options["passwords_file"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(b"".join(csv_format.encode_rows(rows, "utf-8-sig")))
        self.stderr.write("")
        self.stdout.write(
            self.style.SUCCESS(f"Imported: {result.added} added, {result.updated} updated.")
        )

    def _progress(self, phase: str, done: int, total: int) -> None:
        if phase != "hashing" or not total:
            return
        width = 30
        filled = width * done // max(total, 1)
        self.stderr.write(
            f"\rHashing passwords [{'#' * filled}{'.' * (width - filled)}] {done}/{total}",
            ending="",
        )

    def _print_report(self, report, options):
        if options["json"]:
            self.write_json(report.to_json())
            return
        for message in report.file_errors:
            self.stderr.write(f"error: {message}")
        if report.unknown_columns:
            self.stderr.write("ignored unknown columns: " + ", ".join(report.unknown_columns))
        for row in report.rows:
            for column, message in row.errors:
                self.stderr.write(f"line {row.line}: {row.login_id or '-'}: {column}: {message}")
        counts = report.counts
        self.stdout.write(
            f"{counts['add']} to add, {counts['update']} to update, "
            f"{counts['unchanged']} unchanged, {counts['error']} with errors."
        )
