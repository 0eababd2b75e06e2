"""What the erasable chain costs a write: hashing an event as 0.1.0 did (one SHA-256 over
the envelope and the body) against today's (a salt, a SHA-256 commitment to the salted
body, then a SHA-256 of the envelope and the commitment), measured side by side in one
process on the same bodies, rounds interleaved; and, for scale, the whole `update_session`
on a memory store, where hashing is a part of the cost.

    python -m benchmarks.event_hashing [--events 20000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

from benchmarks.inputs import data_of
from greentic_session import open_store
from greentic_session.domain.chain import body_commitment, envelope_hash, event_hash


def _bodies(count: int) -> list[dict[str, Any]]:
    return [
        {"trace": {"actor": f"user-{n}"}, "data": data_of("hashing", n).model_dump(mode="json")}
        for n in range(count)
    ]


def old_hash(stream: Any, moment: datetime, body: dict[str, Any]) -> str:
    return event_hash(stream, 2, "Session.Updated", moment, "prev", body)


def new_hash(stream: Any, moment: datetime, body: dict[str, Any]) -> str:
    commitment = body_commitment(secrets.token_hex(16), body)
    return envelope_hash(stream, 2, "Session.Updated", moment, "prev", commitment)


Hasher = Callable[[Any, datetime, dict[str, Any]], str]


def _per_event_us(hash_: Hasher, bodies: list[Any]) -> float:
    stream, moment = uuid4(), datetime.now(UTC)
    started = time.perf_counter()
    for body in bodies:
        hash_(stream, moment, body)
    return (time.perf_counter() - started) / len(bodies) * 1e6


def _updates_per_s(count: int) -> float:
    with open_store("memory://") as store:
        key = store.create_session(data_of("hashing", 0).tenant_ctx, data_of("hashing", 0))
        started = time.perf_counter()
        for n in range(count):
            store.update_session(key, data_of("hashing", n + 1))
        return count / (time.perf_counter() - started)


def main(argv: Sequence[str] | None = None) -> str:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.event_hashing")
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    bodies = _bodies(args.events)
    old, new = [], []
    for _ in range(args.rounds):
        old.append(_per_event_us(old_hash, bodies))
        new.append(_per_event_us(new_hash, bodies))
    updates = _updates_per_s(min(args.events, 5_000))
    o, n = statistics.median(old), statistics.median(new)
    table = "\n".join(
        [
            f"Reproduce: `python -m benchmarks.event_hashing --events {args.events} "
            f"--rounds {args.rounds}`",
            "",
            "| hashing one `updated` event | median of rounds, µs |",
            "| --- | --: |",
            f"| 0.1.0: SHA-256 of envelope + body | {o:.1f} |",
            f"| today: salt, commitment, envelope hash | {n:.1f} |",
            f"| ratio today / 0.1.0 | {n / o:.2f}x |",
            "",
            f"For scale: `update_session` on `memory://` runs at {updates:,.0f}/s, "
            f"{1e6 / updates:.0f} µs a call, of which the hashing above is "
            f"{n / (1e6 / updates):.0%}.",
        ]
    )
    print(table)
    return table


if __name__ == "__main__":
    main()
