"""Secrets masked in error messages and in the channel names the alerter logs and stores."""

from __future__ import annotations

import pytest

from sqm.config import load_settings
from sqm.errors import ConfigError
from sqm.redact import mask_url, printable, redact_text

SECRET_URL = "json://ops:hunter2-pass@hooks.example.com/path-t0ken-9f8e?key=query-s3cret"


@pytest.mark.parametrize("overrides", [
    {"alerts": {"receivers": [{"name": "ops", "urls": SECRET_URL}]}},
    {"alerts": {"receivers": [{"name": "ops", "urls": [SECRET_URL], "failover": 5, "language": SECRET_URL}]}},
    {"alerts": {"email_url": [SECRET_URL]}},
    {"api": {"keys": [{"key": ["hunter2-pass"], "role": "viewer"}]}},
])
def test_a_configuration_error_never_prints_a_secret(overrides):
    with pytest.raises(ConfigError) as err:
        load_settings(None, **overrides)
    message = str(err.value)
    for secret in ("hunter2-pass", "path-t0ken-9f8e", "query-s3cret"):
        assert secret not in message
    assert "alerts" in message or "api.keys" in message  # the key is still named


def test_the_alerters_channel_names_hide_path_tokens_and_queries():
    from alerts.channels import target

    for url in (SECRET_URL, "json://hooks.example.com/path-t0ken-9f8e", "mailtos://ops:hunter2-pass@mail.example.com"):
        shown = target(url).masked
        assert "t0ken" not in shown and "hunter2" not in shown and "s3cret" not in shown
        assert shown == mask_url(url)


def test_redact_text_masks_every_url_in_a_message():
    text = f"delivery to {SECRET_URL} failed; retrying {SECRET_URL.replace('json', 'form')}"
    assert redact_text(text) == "delivery to json://hooks.example.com/… failed; retrying form://hooks.example.com/…"


def test_printable_escapes_what_drives_a_terminal():
    assert printable("bill\x1b[31ming\x00") == "bill\\x1b[31ming\\x00"
    assert printable("\u202ebilling") == "\\u202ebilling" and printable("账务") == "账务"
