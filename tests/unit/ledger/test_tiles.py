"""``ledger.tiles`` paths and tile sets: canonical C2SP tlog-tiles paths parse back to their tile, anything else
is refused with the reason (never another exception), and the right edge / newly full tiles are the spec's."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.errors import MalformedInput
from ledger.tiles import (
    EntriesNotServed,
    Tile,
    TileNotFound,
    TilePathError,
    full_tiles_between,
    partial_tiles,
    require_tile,
)

_TILES = st.builds(Tile, level=st.integers(0, 63), index=st.integers(0, 10**21 - 1), width=st.integers(1, 256))


@given(tile=_TILES)
def test_parse_of_a_tile_path_is_the_tile(tile: Tile) -> None:
    assert Tile.parse(tile.path) == tile


@given(text=st.one_of(st.text(max_size=60), st.from_regex(r"tile/[0-9x.p/]{0,30}", fullmatch=True),
                      st.from_regex(r"tile/(0|[1-9][0-9]?)/(x[0-9]{3}/){0,8}[0-9]{1,4}(\.p/[0-9]{1,4})?",
                                    fullmatch=True)))
def test_parse_returns_the_canonical_tile_or_refuses(text: str) -> None:
    try:
        tile = Tile.parse(text)
    except (TilePathError, EntriesNotServed):
        return
    assert tile.path == text  # only the one canonical spelling of a tile is accepted


@pytest.mark.parametrize(("path", "want"), [
    ("tile/0/x001/x234/067", Tile(0, 1_234_067)),
    ("tile/1/000.p/17", Tile(1, 0, 17)),
    ("tile/63/999.p/255", Tile(63, 999, 255)),
])
def test_parse_examples(path: str, want: Tile) -> None:
    assert Tile.parse(path) == want


@pytest.mark.parametrize(("path", "reason"), [
    ("tile/0/5", "is not a tile path: want tile/<level>/<index>[.p/<width>]"),
    ("tile/00/000", "is not a tile path"),
    ("tile/0/001/234", "is not a tile path"),  # an inner group without its 'x'
    ("tile/0/x001/x234", "is not a tile path"),  # the last group with one
    ("tile/0/000/", "is not a tile path"),
    ("tile/0/000.p/0", "is not a tile path"),
    ("tile/0/000.p/017", "is not a tile path"),
    ("tile/0/０００", "is not a tile path"),  # fullwidth digits are not ASCII decimals
    ("tile/0/x000/005", "the index has a leading zero group; write it 005"),
    ("tile/64/000", "tile level 64 is above 63"),
    ("tile/0/000.p/256", "a partial tile has 1 to 255 hashes, not 256"),
    ("tile/0/" + "x000/" * 7 + "001", "the index has 8 groups, at most 7"),
])
def test_parse_refuses_with_the_reason(path: str, reason: str) -> None:
    with pytest.raises(TilePathError, match=reason.replace("[", r"\[").replace(".", r"\.")) as caught:
        Tile.parse(path)
    assert isinstance(caught.value, MalformedInput)


def test_entry_bundles_are_not_served() -> None:
    with pytest.raises(EntriesNotServed, match="entry bundles are not served by this log; it serves hash tiles only, "
                                               "because leaf bytes carry tenant, permit and actor ids"):
        Tile.parse("tile/entries/x001/000.p/3")


def test_partial_tiles_are_the_spec_examples() -> None:
    assert [t.path for t in partial_tiles(70_000)] == ["tile/0/273.p/112", "tile/1/001.p/17", "tile/2/000.p/1"]
    assert [t.path for t in partial_tiles(256)] == ["tile/1/000.p/1"]
    assert partial_tiles(0) == []


def test_full_tiles_between_are_the_spec_examples() -> None:
    tiles = list(full_tiles_between(0, 70_000))
    assert [t for t in tiles if t.level == 0] == [Tile(0, n) for n in range(273)]
    assert [t for t in tiles if t.level > 0] == [Tile(1, 0)]
    assert list(full_tiles_between(70_000, 70_000)) == []
    assert list(full_tiles_between(65_535, 65_536)) == [Tile(0, 255), Tile(1, 0)]


@given(old=st.integers(0, 2**20), grow=st.integers(0, 2**20))
def test_full_tiles_between_adds_up(old: int, grow: int) -> None:
    new = old + grow
    assert set(full_tiles_between(0, old)) | set(full_tiles_between(old, new)) == set(full_tiles_between(0, new))
    for tile in full_tiles_between(old, new):
        assert tile.leaves_needed <= new and tile.leaves_needed > old


@given(size=st.integers(0, 2**64))
def test_partial_tiles_exist_exactly_at_their_size(size: int) -> None:
    for tile in partial_tiles(size):
        require_tile(tile, size)
        assert not tile.is_full
        with pytest.raises(TileNotFound):
            require_tile(Tile(tile.level, tile.index), size)  # its full tile does not exist yet


def test_require_tile_says_what_is_missing() -> None:
    with pytest.raises(TileNotFound, match=r"^tile/1/000\.p/2 does not exist yet: it needs a tree of 512 leaves "
                                           r"and the newest checkpoint has 300$"):
        require_tile(Tile(1, 0, 2), 300)


def test_tile_refuses_impossible_fields() -> None:
    with pytest.raises(TilePathError, match="no tile of level 0, index -1, width 256"):
        Tile(0, -1)
    with pytest.raises(TilePathError, match="no tile of level 64, index 0, width 256"):
        Tile(64, 0)
    with pytest.raises(TilePathError, match="no tile of level 0, index 0, width 0"):
        Tile(0, 0, 0)
