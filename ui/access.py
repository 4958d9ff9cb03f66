"""Who may open the web app: loopback freely, anything wider only with a login."""

from __future__ import annotations

from juice.settings import is_loopback

__all__ = ["check_binding", "is_loopback", "parse_users"]


def parse_users(entries: list[str]) -> list[tuple[str, str]]:
    """`user:password` entries as (user, password) pairs.

    Raises:
        ValueError: an entry without a user or a password.
    """
    users = []
    for entry in entries:
        user, _, password = entry.partition(":")
        if not user or not password:
            raise ValueError("each user of the web app is given as user:password, neither empty")
        users.append((user, password))
    return users


def check_binding(host: str, users: list[tuple[str, str]]) -> None:
    """Refuses to serve beyond loopback without a login.

    Raises:
        ValueError: `host` is not loopback and there are no users.
    """
    if not is_loopback(host) and not users:
        raise ValueError(
            f"the web app would listen on {host}, beyond this machine, without a login: "
            "give its users (user:password) or bind it to 127.0.0.1"
        )
