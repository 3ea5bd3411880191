"""After a bulk load into a Milvus server: seal, merge and index before searches begin.

A bulk load seals segments at a fraction of their maximum size (Milvus 2.3: 23% of 512 MB,
~35,000 rows of 768-d), which the server counts as small and merges about a minute later,
building the merged segment's index again. Left alone, that rebuild ran under the first
minutes of searches after a 100,000-row load (docs/benchmarks.md, "Vector store"), so
:func:`seal_and_index` starts the merge at once and waits for it and for the indexes.
"""

from __future__ import annotations

import time
from typing import Any

from pipeline.errors import BackendUnavailable
from pipeline.vectors.milvus_layout import Layout


def seal_and_index(client: Any, layout: Layout, timeout: float, deadline: float) -> None:
    """Seal every collection's growing segments, merge the small ones, and wait until the
    vector indexes cover every row (a server searches rows outside its index by brute
    force). Raises BackendUnavailable when that takes past ``deadline`` (monotonic)."""
    for name in layout.names:
        client.flush(name, timeout=timeout)
    wait_indexed(client, layout, deadline)
    jobs = [client.compact(name, timeout=timeout) for name in layout.names]
    for job in jobs:
        while client.get_compaction_state(job, timeout=timeout) != "Completed":
            if time.monotonic() > deadline:
                raise BackendUnavailable(f"Milvus compaction {job} did not complete")
            time.sleep(0.5)
    wait_indexed(client, layout, deadline)


def wait_indexed(client: Any, layout: Layout, deadline: float) -> None:
    """Wait until every vector index of the layout covers every sealed row."""
    for name in layout.names:
        for field in layout.fields_of(name):
            (index_name,) = client.list_indexes(name, field_name=field)
            while True:
                info = client.describe_index(name, index_name)
                pending = int(info.get("pending_index_rows", 0))
                if pending == 0 and info.get("indexed_rows") == info.get("total_rows"):
                    break
                if time.monotonic() > deadline:
                    raise BackendUnavailable(f"Milvus index on {name}.{field}: {info}")
                time.sleep(0.5)
