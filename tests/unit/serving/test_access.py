"""Who may call the API: loopback freely, beyond it the token or an explicit opt-in."""

from __future__ import annotations

import pytest

from juice.serving.access import api_access


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "[::1]"])
def test_loopback_serves_without_a_token(host):
    assert "only this machine" in api_access(host, None, allow_anonymous=False)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.0.0.5", "api.example.com"])
def test_beyond_loopback_without_a_token_is_refused_unless_asked_for(host):
    with pytest.raises(ValueError, match="JUICE_API_ALLOW_ANONYMOUS"):
        api_access(host, None, allow_anonymous=False)
    assert api_access(host, None, allow_anonymous=True).startswith("NO TOKEN")
    assert "token" in api_access(host, "s3cret", allow_anonymous=False)


def test_the_service_itself_refuses_to_start_beyond_loopback_without_a_token(monkeypatch, tmp_path):
    """However it is started (`bentoml serve` in a container, not `juice serve`): the
    service's configuration, read at import, refuses; with the token it starts."""
    from juice.serving.config import ServiceConfig

    monkeypatch.setenv("JUICE_HOME", str(tmp_path))
    monkeypatch.setenv("JUICE_API_HOST", "0.0.0.0")
    with pytest.raises(ValueError, match="beyond this machine, without a token"):
        ServiceConfig.read()
    monkeypatch.setenv("JUICE_API_TOKEN", "s3cret")
    assert ServiceConfig.read().token == "s3cret"
