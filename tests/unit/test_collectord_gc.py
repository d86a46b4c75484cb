"""The collector puts what it loaded at start-up out of the cyclic collector's reach."""

from __future__ import annotations

import gc

from netmon.collectord import freeze_long_lived


class _Record:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the cyclic collector could ever walk it


def test_what_exists_at_start_up_is_frozen_and_later_garbage_is_not() -> None:
    loaded = _Record()
    try:
        freeze_long_lived()
        assert gc.get_freeze_count() > 0
        assert not _tracked(loaded)  # the collector no longer walks it
        later = _Record()
        assert _tracked(later)
    finally:
        gc.unfreeze()
    assert _tracked(loaded)


def _tracked(obj: object) -> bool:
    """Whether the cyclic collector walks ``obj`` (compared by identity)."""
    return any(o is obj for o in gc.get_objects())
