"""A listing that ends with fewer items than its pages' ``items_count`` said (``PageGuard``).

The end-to-end cases (tap, target, ``refiner-api`` against the emulator) are in
``tests/reliability/test_short_listings.py``; these pin the arithmetic of the tolerance.
"""

from __future__ import annotations

import pytest

from refiner_http import PagingError, RefinerError
from refiner_http.errors import ShortListingError
from refiner_http.page_reader import (
    RECENT_PAGES,
    ListingCount,
    PageGuard,
    iterate_items,
    listing_name,
)


def body(uuids, count, cursor=None) -> dict:
    pagination = {"next_page_cursor": cursor}
    if count is not None:
        pagination["items_count"] = count
    return {"items": [{"uuid": u} for u in uuids], "pagination": pagination}


def listing(*pages: dict) -> list[dict]:
    """``pages`` chained by cursors c1, c2, ... (the last has none)."""
    chained = []
    for n, page in enumerate(pages, start=1):
        cursor = f"c{n}" if n < len(pages) else None
        chained.append({**page, "pagination": {**page["pagination"], "next_page_cursor": cursor}})
    return chained


def read(pages: list[dict], warnings: list[str] | None = None) -> list[dict]:
    by_cursor = {None: pages[0], **{f"c{n}": p for n, p in enumerate(pages[1:], start=1)}}
    warn = warnings.append if warnings is not None else None
    return list(
        iterate_items(lambda q: by_cursor[q.get("page_cursor")], {}, "/contacts", warn=warn)
    )


def test_a_listing_that_ends_early_is_an_error_with_both_counts():
    pages = listing(body(["a", "b"], 10), body(["c", "d"], 10))
    with pytest.raises(ShortListingError) as raised:
        read(pages)
    error = raised.value
    assert (error.endpoint, error.read, error.expected) == ("/contacts", 4, 10)
    assert str(error).startswith("Listing /contacts ended after 4 items, but its pages'")
    assert "pagination.items_count said 10: 6 missing, more than the 1 " in str(error)
    assert isinstance(error, PagingError)
    assert isinstance(error, RefinerError)  # a known stop for every client's error path


def test_a_whole_listing_passes_silently():
    warnings: list[str] = []
    pages = listing(body(["a", "b"], 3), body(["c"], 3))
    assert [i["uuid"] for i in read(pages, warnings)] == ["a", "b", "c"]
    assert warnings == []


def test_rows_deleted_while_paging_are_a_warning_not_an_error():
    """The count fell from 6 to 4 while paging: two rows went, which is not an early end."""
    warnings: list[str] = []
    pages = listing(body(["a", "b"], 6), body(["c", "d"], 4))
    assert len(read(pages, warnings)) == 4
    said = "Listing /contacts gave 4 items, but its pages' pagination.items_count said 6"
    within = "2 missing, within the 3 that rows added or deleted while paging explain"
    assert warnings == [f"{said} (from 4 to 6): {within}"]


def test_repeated_rows_are_counted_once():
    """Page numbers shift when rows are added: a row served twice is not two rows."""
    pages = listing(body(["a", "b"], 5), body(["b", "c"], 5), body(["c"], 5))
    with pytest.raises(ShortListingError, match="ended after 3 items"):
        read(pages)  # 5 items served, as many as the count, but only 3 distinct


def test_pages_without_items_count_are_not_checked():
    pages = listing(body(["a"], None), body(["b"], None))
    assert len(read(pages)) == 2


def test_an_empty_listing_with_a_count_is_short():
    with pytest.raises(ShortListingError, match="ended after 0 items"):
        read([body([], 5)])


@pytest.mark.parametrize(
    ("read_", "lowest", "highest", "missing", "tolerance"),
    [
        (100, 100, 100, 0, 1),
        (99, 100, 100, 1, 1),  # one row: within the margin
        (9_950, 9_950, 10_000, 50, 60),  # 50 added while paging, plus 0.1% of 10,000
        (9_000, 10_000, 10_000, 1000, 10),
        (120, 100, 100, 0, 1),  # more than the count: rows added while paging, read
    ],
)
def test_tolerance_is_the_spread_of_the_counts_plus_a_small_margin(
    read_, lowest, highest, missing, tolerance
):
    count = ListingCount(read_, lowest, highest)
    assert (count.missing, count.tolerance) == (missing, tolerance)


def test_memory_is_bounded_by_recent_pages():
    guard = PageGuard("/contacts")
    for page in range(100):
        guard.check(body([f"{page}-{n}" for n in range(10)], 1000), {"page_cursor": f"c{page}"})
    assert guard.check(body([], 1000), None) is None
    assert len(guard._recent) <= RECENT_PAGES * 10  # noqa: SLF001 - the bound is the point


def test_listing_names_show_filters_never_paging():
    query = [("segment_uuid", "s-1"), ("page_cursor", "secret"), ("page_length", "7")]
    assert listing_name("/contacts", query) == "/contacts (segment_uuid=s-1)"
    assert listing_name("/segments", [("page", "2")]) == "/segments"
