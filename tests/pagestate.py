"""The pages' one readiness signal, for browser tests.

Every page script marks ``<body data-state="loading|ready|error" data-view="N">``: it goes busy
synchronously when something changes (before its first ``await``), and ``N`` numbers the loads, so a
test can wait for the *new* view's "ready" rather than catch the old one (issue 9). Tests wait on
this signal or on the data that must change, never for a length of time.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from playwright.sync_api import Page

SETTLED = """([after]) => {
  const b = document.body.dataset;
  const settled = (b.state === "ready" || b.state === "error") && Number(b.view || 0) > after;
  return settled ? b.state : false;
}"""


def view(page: Page) -> int:
    """The number of the page's latest load (0 before the first)."""
    return int(page.evaluate("Number(document.body.dataset.view || 0)"))


def wait_ready(page: Page, after: int = 0, timeout: float = 30_000) -> None:
    """Waits until a load newer than ``after`` has settled, and fails on an error state."""
    state = page.wait_for_function(SETTLED, arg=[after], timeout=timeout).json_value()
    status = page.locator("#status").all_inner_texts()
    assert state == "ready", f"page state {state}: {status}"


@contextmanager
def new_view(page: Page, timeout: float = 30_000) -> Iterator[None]:
    """``with new_view(page): page.click(...)`` returns once the view asked for is ready."""
    before = view(page)
    yield
    wait_ready(page, after=before, timeout=timeout)
