"""Keys derived from SECRET_KEY for the MFA tables, so a copy of the database alone reveals no
authenticator secret and no recovery code.

- TOTP secrets must be read in clear to check a code: they are encrypted with Fernet
  (AES-128-CBC + HMAC-SHA256, from `cryptography`) under a key derived by HKDF-SHA256 from
  SECRET_KEY. SECRET_KEY_FALLBACKS still decrypt, so SECRET_KEY can be rotated the
  way Django rotates it; a secret is re-encrypted under the current key when its device is next
  used.
- Recovery codes are only compared: they are stored as HMAC-SHA256 under another derived key
  (50 random bits per code, so a keyed hash is enough; a slow hash would cost more than the
  whole sign-in budget for ten codes).
- The WebAuthn user handle is an HMAC of the user's ID: stable, opaque, no personal data.
"""

import base64
import functools
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

_PURPOSE_TOTP = b"miitel-admin mfa totp-secret v1"
_PURPOSE_RECOVERY = b"miitel-admin mfa recovery-code v1"
_PURPOSE_HANDLE = b"miitel-admin mfa webauthn-user-handle v1"


class SecretUnreadable(Exception):
    """A stored secret no current or fallback SECRET_KEY decrypts."""


@functools.lru_cache(maxsize=16)
def _derive(secret_key: str, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(
        secret_key.encode()
    )


def _secret_keys() -> list[str]:
    return [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]


@functools.lru_cache(maxsize=16)
def _fernet(secret_key: str) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(_derive(secret_key, _PURPOSE_TOTP)))


def encrypt_secret(secret: str) -> str:
    return _fernet(settings.SECRET_KEY).encrypt(secret.encode()).decode()


def decrypt_secret(token: str) -> tuple[str, bool]:
    """The secret, and whether it is encrypted under the current SECRET_KEY (False: under a
    fallback, so the caller should store it again with encrypt_secret)."""
    for index, key in enumerate(_secret_keys()):
        try:
            return _fernet(key).decrypt(token.encode()).decode(), index == 0
        except InvalidToken:
            continue
    raise SecretUnreadable


def recovery_code_hashes(code: str) -> list[str]:
    """The stored forms `code` may have: under the current key first, then the fallbacks."""
    return [
        hmac.new(_derive(key, _PURPOSE_RECOVERY), code.encode(), hashlib.sha256).hexdigest()
        for key in _secret_keys()
    ]


def webauthn_user_handle(user_id: int) -> bytes:
    return hmac.new(
        _derive(settings.SECRET_KEY, _PURPOSE_HANDLE), str(user_id).encode(), hashlib.sha256
    ).digest()
