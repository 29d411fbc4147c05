"""Authenticator apps: RFC 6238 through pyotp (SHA-1, 6 digits, 30-second steps: the parameters
every app reads from an otpauth:// QR code). The clock-drift window and the replay rule are
ours: a code of the current step or of one step either side is accepted, once."""

import hmac
import time

import pyotp
import segno

ISSUER = "MiiTel Admin"
DIGITS = 6
# One step either side of the server's clock: 30 s of drift each way (RFC 6238 §5.2 suggests
# at most one step of network delay).
DRIFT_STEPS = 1


def new_secret() -> str:
    """160 random bits, base32 (RFC 4226 §4 recommends a 160-bit shared secret)."""
    return pyotp.random_base32(length=32)


def provisioning_uri(*, secret: str, account: str) -> str:
    return pyotp.TOTP(secret, digits=DIGITS).provisioning_uri(name=account, issuer_name=ISSUER)


def qr_data_uri(uri: str) -> str:
    """The otpauth:// URI as an SVG QR code in a data: URI (an <img>: CSP's img-src allows
    data:, and nothing is inlined into the page's markup)."""
    return segno.make(uri, error="m").svg_data_uri(scale=5, border=4, dark="#000", light="#fff")


def grouped(secret: str) -> str:
    """The secret in groups of four, as apps show and ask for it when typed by hand."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def normalize_code(value: str) -> str:
    return "".join(value.split()).replace("-", "")


def matching_step(*, secret: str, code: str, at: float | None = None) -> int | None:
    """The time step whose code is `code` (current step first, then its neighbours), or None."""
    code = normalize_code(code)
    if len(code) != DIGITS or not (code.isascii() and code.isdigit()):
        return None
    totp = pyotp.TOTP(secret, digits=DIGITS)
    current = totp.timecode(int(time.time() if at is None else at))
    found = None
    for step in (current, current - 1, current + 1)[: 1 + 2 * DRIFT_STEPS]:
        # Every candidate is compared, in constant time, so the timing does not tell which.
        if hmac.compare_digest(totp.generate_otp(step), code) and found is None:
            found = step
    return found
