"""Oversized bodies are refused with 413 before anything parses them (not even the CSRF check,
which would otherwise read a whole multipart upload first)."""

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from exports import csv_format, importing


def test_an_oversized_upload_gets_413_before_the_csrf_check_reads_it(
    admin_a, monkeypatch, settings
):
    settings.MAX_REQUEST_BYTES = 64 * 1024
    monkeypatch.setattr(
        csv_format, "decode_file", lambda *a, **k: (_ for _ in ()).throw(AssertionError)
    )
    monkeypatch.setattr(
        importing, "validate_file", lambda *a, **k: (_ for _ in ()).throw(AssertionError)
    )
    client = Client(enforce_csrf_checks=True)  # no token: the CSRF check would say 403
    client.force_login(admin_a)
    upload = SimpleUploadedFile("big.csv", b"x" * (80 * 1024), "text/csv")

    response = client.post(reverse("exports:import"), {"file": upload, "encoding": "utf-8"})

    assert response.status_code == 413
    assert "10 MB" in response.content.decode()


def test_a_body_under_the_limit_reaches_the_csrf_check(admin_a, settings):
    settings.MAX_REQUEST_BYTES = 64 * 1024
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_a)
    upload = SimpleUploadedFile("small.csv", b"Login ID\r\n", "text/csv")

    response = client.post(reverse("exports:import"), {"file": upload, "encoding": "utf-8"})

    assert response.status_code == 403
