"""A password in a URL is never shown: not in settings errors, nor by ``netmon site``.

One function (:func:`config.addresses.redact_userinfo`) does it everywhere; its own
properties are tested in ``test_config_addresses.py``, check-config's lines in
``test_check_config.py``, log lines in ``test_logsetup.py``.
"""

from __future__ import annotations

import argparse

import pytest

from netmon.config.settings import BrokerSettings
from netmon.site import cli_main as site_main

PASSWORD = "hunter22-url-secret"


def test_a_settings_error_never_echoes_the_url() -> None:
    with pytest.raises(
        ValueError, match="must start with"
    ) as err:  # a ValidationError, as the demo's --broker meets it
        BrokerSettings(url=f"tcp://admin:{PASSWORD}@broker.example")
    assert PASSWORD not in str(err.value) + repr(err.value)


@pytest.mark.parametrize("url", [f"http://admin:{PASSWORD}@127.0.0.1:9", f"http://admin:{PASSWORD}@127.0.0.1:x"])
def test_netmon_site_never_shows_the_password_of_its_url(capsys: pytest.CaptureFixture[str], url: str) -> None:
    args = argparse.Namespace(query="tinh khe", url=url, token=None, lang="en", json=False, watch=None)
    assert site_main(args) == 2
    err = capsys.readouterr().err
    assert PASSWORD not in err
    assert "http://<secret>@127.0.0.1" in err
