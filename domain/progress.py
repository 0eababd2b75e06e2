"""How a long operation over the log reports how far it got.

The audit tools (verify, rebuild, export, import, sweep) read or write the whole log:
at a million events they run for a minute or more. They accept an optional callback,
which the CLI turns into a progress bar and a host can turn into a log line or a metric.
"""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[int, int | None], None]
"""Called as `progress(done, total)` now and then while an operation runs: `done` events
(or lines, for import) so far, and the `total` expected, or None when it is not known up
front. It is called at least once at the end, with `done == total` when a total was
known. It must not raise; what it raises propagates and stops the operation (which then
writes nothing, like any failed operation)."""


def no_progress(done: int, total: int | None) -> None:
    """The default callback: report nothing."""
