"""Each security control removed in turn: the tests that claim to prove it must then fail.

    make check-controls [CONTROLS="11 24"]

Rows are numbered as in the requirements table of docs/security.md (quality anchors A.7; M rows:
2-step verification, A.8). For each
control the named source is rewritten in place, the named tests run, and the source is put back
(also on Ctrl-C). A control whose tests still pass is reported as NOT CAUGHT, one whose tests could
not run (a collection or usage error) as ERROR; either makes the command exit non-zero. Tests
marked PG: run against DATABASE_URL's PostgreSQL (skipped without one)."""

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTEST = [
    str(ROOT / ".venv" / "bin" / "python"),
    "-m",
    "pytest",
    "-q",
    "-p",
    "no:cacheprovider",
    "-n",
    "2",
    "--dist",
    "loadfile",
]

CONTROLS = [
    (
        "1 URL registry: a URL without a policy",
        "miitel_admin/url_policy.py",
        None,
        None,
        "tests/security/test_url_registry.py",
    ),
    (
        "2 members get 403",
        "accounts/access.py",
        "        if not request.user.is_admin:\n            raise PermissionDenied\n",
        "",
        "tests/security/test_url_registry.py",
    ),
    (
        "3 other organization 404",
        "accounts/access.py",
        "pk=int(user_id), organization=request.organization",
        "pk=int(user_id)",
        "tests/security/test_url_registry.py",
    ),
    (
        "4 scoping at the query layer",
        "users/selectors.py",
        "    qs = User.objects.filter(organization=organization)\n    if search:",
        "    qs = User.objects.all()\n    if search:",
        "tests/security/test_query_scoping.py",
    ),
    (
        "6 seat limits under concurrency (PG)",
        "permissions/contracts.py",
        "return Contract.objects.select_for_update().get(",
        "return Contract.objects.get(",
        "PG:tests/test_concurrency.py",
    ),
    (
        "7 delete all-or-nothing",
        "users/services.py",
        "    with transaction.atomic():\n"
        "        contract = contract_lock(user.organization)\n"
        "        user = User.objects.select_for_update().get(pk=user.pk)\n"
        "        if actor.user is not None and actor.user.pk == user.pk:\n"
        '            raise ValidationError(_("You cannot delete yourself.")',
        "    if True:\n"
        "        contract = user.organization.contract\n"
        "        user = User.objects.get(pk=user.pk)\n"
        "        if actor.user is not None and actor.user.pk == user.pk:\n"
        '            raise ValidationError(_("You cannot delete yourself.")',
        "tests/analytics/test_delete_service.py",
    ),
    (
        "11 lockout after 5 failures",
        "accounts/backends.py",
        "def axes_failure_limit(request, credentials) -> int:\n",
        "def axes_failure_limit(request, credentials) -> int:\n    return 1000\n",
        "tests/users/test_auth.py tests/security/test_audit_and_secrets.py",
    ),
    (
        "12 no enumeration (one hash for an unknown ID)",
        "accounts/backends.py",
        "                User().set_password(password)  # the same cost as a real check",
        "                pass",
        "tests/users/test_auth.py",
    ),
    (
        "13 argon2 memory >= 19 MiB",
        "accounts/hashers.py",
        "memory_cost = 19456",
        "memory_cost = 8192",
        "tests/security/test_audit_and_secrets.py",
    ),
    (
        "14 temporary password forces a change",
        "miitel_admin/settings.py",
        '    "accounts.middleware.ForcedPasswordChangeMiddleware",\n',
        "",
        "tests/users/test_auth.py",
    ),
    (
        "17 deactivation ends sessions",
        "accounts/sessions.py",
        '    _, per_model = Session.objects.filter(session_key__in=links.values("session_id"))'
        ".delete()",
        "    per_model = {}",
        "tests/users/test_auth.py tests/analytics/test_delete_service.py",
    ),
    (
        "18 idle and absolute timeouts",
        "miitel_admin/settings.py",
        '    "accounts.middleware.SessionTimeoutMiddleware",\n',
        "",
        "tests/users/test_auth.py",
    ),
    (
        "19 __Host- cookies",
        "miitel_admin/settings.py",
        'SESSION_COOKIE_NAME = "__Host-sessionid" if SESSION_COOKIE_SECURE else "sessionid"',
        'SESSION_COOKIE_NAME = "sessionid"',
        "tests/security/test_headers_and_csp.py tests/test_deploy_settings.py",
    ),
    (
        "21 HSTS",
        "miitel_admin/settings.py",
        "default=31536000 if _secure_default else 0)",
        "default=0)",
        "tests/security/test_headers_and_csp.py tests/test_deploy_settings.py",
    ),
    (
        "22/23 CSP unset",
        "miitel_admin/settings.py",
        "SECURE_CSP = {",
        "SECURE_CSP = {} and {",
        "tests/security/test_headers_and_csp.py",
    ),
    (
        "24 XSS: a name unescaped in the list",
        "users/jinja2/users/user_rows.html",
        '<a href="{{ row.edit_url }}">{{ user.name }}</a>',
        '<a href="{{ row.edit_url }}">{{ user.name|safe }}</a>',
        "tests/security/test_input_fuzz.py",
    ),
    (
        "26 formula injection",
        "exports/csv_format.py",
        '    return "\'" + value if _needs_quote(value) else value',
        "    return value",
        "tests/exports/test_csv_format.py",
    ),
    (
        "26 formula injection, the COPY path",
        "exports/copying.py",
        """then=_Join(_text("'"), cell))""",
        "then=cell)",
        "PG:tests/exports/test_export.py tests/exports/test_export_copy.py",
    ),
    (
        "27 CP932 pre-check",
        "exports/exporting.py",
        "        if name.isascii() or csv_format.fits_encoding(name, encoding):",
        "        if True:",
        "tests/exports",
    ),
    (
        "28 no-store on signed-in pages",
        "miitel_admin/settings.py",
        '    "accounts.middleware.NoStoreMiddleware",\n',
        "",
        "tests/security/test_headers_and_csp.py",
    ),
    (
        "29 request size limit",
        "miitel_admin/settings.py",
        '    "miitel_admin.middleware.RequestSizeLimitMiddleware",\n',
        "",
        "tests/test_request_limits.py",
    ),
    (
        "29 two transfers per organization",
        "exports/limits.py",
        "            raise TooManyTransfers\n        slot",
        "            pass\n        slot",
        "tests/security/test_audit_and_secrets.py tests/test_request_limits.py tests/exports",
    ),
    (
        "30 passwords never in audit rows",
        "audit/services.py",
        "    return {k: v for k, v in changes.items() if k not in SECRET_FIELDS}",
        "    return changes",
        "tests/security/test_audit_and_secrets.py",
    ),
    (
        "M1 2-step verification gate: the password alone signs in",
        "mfa/flow.py",
        "    step = next_step(user=user)\n    if step is None:",
        "    step = None\n    if step is None:",
        "tests/mfa/test_signin.py tests/security/test_url_registry.py",
    ),
    (
        "M2 nothing but the sign-in steps mid-sign-in",
        "miitel_admin/settings.py",
        '    "mfa.middleware.PendingSignInMiddleware",\n',
        "",
        "tests/security/test_url_registry.py tests/mfa/test_signin.py",
    ),
    (
        "M3 a code is accepted once",
        "mfa/services.py",
        "TOTPDevice.objects.filter(pk=device.pk, last_step__lt=step)",
        "TOTPDevice.objects.filter(pk=device.pk)",
        "tests/mfa/test_factors.py tests/mfa/test_signin.py",
    ),
    (
        "M4 second-factor failures count toward the lockout",
        "mfa/flow.py",
        "    user_login_failed.send(sender=__name__, credentials=_credentials(user), "
        "request=request)\n    locked = bool(",
        "    locked = bool(",
        "tests/mfa/test_signin.py",
    ),
    (
        "M5 a passkey counter that goes back is refused",
        "mfa/services.py",
        "            sign_count=stored.sign_count,\n",
        "            sign_count=0,\n",
        "tests/mfa/test_factors.py",
    ),
    (
        "M6 recovery codes are single use",
        "mfa/services.py",
        "user=user, code_hash__in=recovery.hashes(code), used_at__isnull=True",
        "user=user, code_hash__in=recovery.hashes(code)",
        "tests/mfa/test_factors.py tests/mfa/test_signin.py",
    ),
    (
        "S1 a DOCTYPE is refused before any XML parser reads it",
        "sso/xml.py",
        '    if _DECLARATION.search(data):\n        raise UnsafeXml("doctype")\n',
        "",
        "tests/sso/test_refusals.py",
    ),
    (
        "S2 signed assertions are required",
        "sso/saml.py",
        '"want_assertions_signed": True,\n                "want_response_signed": False,',
        '"want_assertions_signed": False,\n                "want_response_signed": False,',
        "tests/sso/test_refusals.py",
    ),
    (
        "S3 an assertion is used once (replays refused)",
        "sso/services.py",
        '        raise saml.Refused("replayed") from None\n    record = None',
        "        pass\n    record = None",
        "tests/sso/test_refusals.py",
    ),
    (
        "S4 users are matched within the organization only",
        "sso/selectors.py",
        ".filter(organization=organization, login_id_key=key, is_active=True)",
        ".filter(login_id_key=key, is_active=True)",
        "tests/sso/test_refusals.py",
    ),
    (
        "S5 require SSO refuses password sign-in",
        "users/views.py",
        "        if sso_selectors.password_sign_in_refused(user=user):",
        "        if False:",
        "tests/sso/test_admin.py",
    ),
]


def _mutate(source: str, old: str | None, new: str | None) -> str:
    if old is None:  # the URL registry: drop the User List's entry
        lines = source.splitlines(True)
        index = next(i for i, line in enumerate(lines) if '"users:list"' in line)
        return "".join(lines[:index] + lines[index + 1 :])
    if source.count(old) != 1:
        raise SystemExit(f"the control's code moved: {old[:60]!r} (update {__file__})")
    return source.replace(old, new)


def main(only: list[str]) -> int:
    missed = 0
    pg = os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))
    for name, path, old, new, tests in CONTROLS:
        if only and name.split()[0] not in only:
            continue
        env = dict(os.environ)
        if tests.startswith("PG:"):
            if not pg:
                print(f"skipped  {name}: needs DATABASE_URL=postgres://...", flush=True)
                continue
            tests = tests[3:]
        else:
            env.pop("DATABASE_URL", None)
        file = ROOT / path
        original = file.read_text()
        started = time.perf_counter()
        try:
            file.write_text(_mutate(original, old, new))
            run = subprocess.run(
                [*PYTEST, *tests.split()], cwd=ROOT, env=env, capture_output=True, text=True
            )
        finally:
            file.write_text(original)
        summary = [
            line for line in run.stdout.splitlines() if " passed" in line or " failed" in line
        ]
        # pytest exits 1 when tests failed; 2-5 (interrupted, usage, internal error, nothing
        # collected) mean the mutated code did not even run its tests: not a catch.
        if run.returncode == 1:
            verdict = "caught"
        elif run.returncode == 0:
            verdict = "NOT CAUGHT"
        else:
            verdict = f"ERROR (pytest exit {run.returncode})"
        missed += verdict != "caught"
        print(
            f"{verdict}  {name}: "
            f"{summary[-1] if summary else run.returncode} ({time.perf_counter() - started:.0f} s)",
            flush=True,
        )
        if verdict.startswith("ERROR"):
            print(run.stdout[-2000:] + run.stderr[-2000:], flush=True)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
