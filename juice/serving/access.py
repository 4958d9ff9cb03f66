"""Who may call the prediction API: loopback freely, anything wider only with the token,
or with anonymous access asked for in so many words (JUICE_API_ALLOW_ANONYMOUS)."""

from __future__ import annotations

from juice.settings import is_loopback


def api_access(host: str, token: str | None, allow_anonymous: bool) -> str:
    """Who may call the API bound to `host`, in words for the start-up line.

    Raises:
        ValueError: `host` is not loopback, there is no token, and anonymous access was
            not asked for.
    """
    if token:
        return "a bearer token (JUICE_API_TOKEN) is required"
    if is_loopback(host):
        return "no token: only this machine can reach it"
    if not allow_anonymous:
        raise ValueError(
            f"the API would listen on {host}, beyond this machine, without a token: set "
            "JUICE_API_TOKEN, bind it to 127.0.0.1, or set JUICE_API_ALLOW_ANONYMOUS=true "
            "to serve anyone who reaches it"
        )
    return f"NO TOKEN: anyone who reaches {host} may call it (JUICE_API_ALLOW_ANONYMOUS=true)"
