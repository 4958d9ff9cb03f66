"""The champion's refresh asks the registry only when its store changed (a stand-in
registry counts the questions; the real one: tests/e2e/test_service.py's hot swap)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from juice.serving.champion import Champion


class CountingRegistry:
    def __init__(self) -> None:
        self.version, self.stamp_value, self.asked, self.loads = "1", (1,), 0, 0

    def stamp(self):
        return self.stamp_value

    def promotion(self) -> SimpleNamespace:  # what champion_promotion asks the store
        self.asked += 1
        return SimpleNamespace(champion=self.version)

    def load(self, version: str):
        self.loads += 1
        return None, SimpleNamespace(version=version)


def stand_in(monkeypatch) -> None:
    """The served model and the registry's question, made trivial."""
    monkeypatch.setattr(
        "juice.serving.champion.ServedModel", lambda pipeline, card: SimpleNamespace(card=card)
    )
    monkeypatch.setattr(
        "juice.serving.champion.champion_promotion", lambda registry: registry.promotion()
    )


def test_an_unchanged_store_is_not_asked_again(monkeypatch):
    stand_in(monkeypatch)
    registry = CountingRegistry()
    champion = Champion(registry)  # type: ignore[arg-type]
    assert champion.refresh()
    assert not champion.refresh()
    assert registry.asked == 1  # the second look stopped at the stamp
    registry.stamp_value, registry.version = (2,), "2"
    assert champion.refresh()
    assert champion.current.card.version == "2"
    assert (registry.asked, registry.loads) == (2, 2)


def test_without_a_stamp_the_registry_is_always_asked(monkeypatch):
    stand_in(monkeypatch)
    registry = CountingRegistry()
    registry.stamp_value = None  # a tracking server
    champion = Champion(registry)  # type: ignore[arg-type]
    champion.refresh()
    champion.refresh()
    assert registry.asked == 2


def test_a_failed_load_is_retried_though_the_store_did_not_change(monkeypatch):
    stand_in(monkeypatch)
    registry = CountingRegistry()
    champion = Champion(registry)  # type: ignore[arg-type]
    working = registry.load

    def down(version: str):
        raise OSError("artifact store down")

    registry.load = down  # type: ignore[method-assign]
    with pytest.raises(OSError, match="down"):
        champion.refresh()
    registry.load = working  # type: ignore[method-assign]
    assert champion.refresh()
