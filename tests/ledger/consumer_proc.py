"""A ledger consumer run as its own process by the crash and concurrency tests.

``hold``: claim one batch, print it as JSON lines, then hang until killed.
``drain``: claim and complete batches; every completion the ledger accepted is logged to
the Redis list ``test:done-log`` so the test can prove each job completed exactly once.
Stops when the log holds ``--total`` entries or after ``--timeout`` seconds.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import redis

from pipeline.ledger import RedisLedger
from pipeline.records import JobType
from pipeline.settings import JobSettings
from tests.keys import KEYS

DONE_LOG = "test:done-log"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["hold", "drain"])
    parser.add_argument("--url", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--lease", type=float, default=30.0)
    parser.add_argument("--total", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args(argv)
    client = redis.Redis.from_url(args.url)
    ledger = RedisLedger(client, JobSettings(timeout=args.lease), keys=KEYS)
    job_type = JobType.QUALITY_CONTROL
    deadline = time.monotonic() + args.timeout
    if args.mode == "hold":
        claimed = ledger.claim(job_type, args.name, args.batch, block_ms=5000)
        for c in claimed:
            print(json.dumps({"job_id": c.job_id, "token": c.token, "attempt": c.attempt}))
        print("HELD", flush=True)
        while time.monotonic() < deadline:
            time.sleep(0.1)  # hung, holding its leases, until the test kills it
        return 1
    while time.monotonic() < deadline:
        if args.total and client.llen(DONE_LOG) >= args.total:
            return 0
        claimed = ledger.claim(job_type, args.name, args.batch, block_ms=200)
        if not claimed:
            continue
        flags = ledger.complete_many([(c, {"by": args.name}) for c in claimed])
        accepted = [c.job_id for c, ok in zip(claimed, flags, strict=True) if ok]
        if accepted:
            client.rpush(DONE_LOG, *accepted)
    return 2


if __name__ == "__main__":
    sys.exit(main())
