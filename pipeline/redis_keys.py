"""Every Redis key name of the system, under one namespace (``REDIS_NAMESPACE``, ``cs``).

This is the only place key names are spelled. Python code asks a :class:`RedisKeys`
for them; the ledger's Lua scripts receive the same names from :meth:`RedisKeys.lua_layout`
as an argument, so a script never spells a key either. Two deployments sharing one Redis
stay apart by setting different namespaces.

Keys (``ns`` is the namespace)::

    ns:job:<id>                 hash: state, payload, attempt, token, timings, result, error
    ns:job:<id>:attempts        list: one JSON record per failed attempt (kept with the job)
    ns:job:<id>:children        hash: <type>:total|completed|dead for a parent's children
    ns:q:<type>:<priority>      list: waiting jobs, FIFO, priority 0 (high) .. 2 (low)
    ns:delayed:<type>           zset: retries, score = due time
    ns:active:<type>            zset: claimed jobs, score = lease deadline
    ns:awaiting:<type>          set: active jobs whose own work is done, waiting for children
    ns:done:<type>              zset: completed jobs, score = finish time (trimmed)
    ns:dead:<type>, ns:dead     zset: dead letters by type / all, score = finish time
    ns:dead-seller:<seller>     zset: dead letters of one seller
    ns:count:<type>             hash: created, trimmed, purged (for the invariant)
    ns:m:<type>:<minute>        hash: completed, failed, dead in that minute (expires)
    ns:dur:<type>               list: the latest durations (s) of completed jobs
    ns:idem:<key>               string: the job id holding an idempotency key
    ns:consumers                hash: consumer -> "<last seen>|<type>"
    ns:signal:<type>            list: wake-up tokens for blocked claimers
    ns:events                   stream: every transition, capped
    ns:fence                    counter: fencing tokens

    ns:product:<id>             hash: record, status, verdict, live, indexed_hash
    ns:seller:<seller>:hashes   hash: product id -> content hash (what the last sync saw)
    ns:seller:<seller>:sync     string: the seller's latest sync job id
    ns:seller:<seller>:counts   hash: bucket -> products (live, rejected, ...)
    ns:search:generation        counter bumped on every change that can alter results
    ns:search:changes           zset: product id -> generation of its last change
    ns:search:cache:<gen>:<h>   string: a cached search answer
    ns:search:queries           zset: past queries by frequency (suggestions)
    ns:seller-profile:<id>      hash: a seller's profile
    ns:seller-profiles          zset: every registered seller
    ns:sellers:due              zset: sellers by next re-sync due time
    ns:scheduler:lock           string: the re-sync scheduler's leader lock
    ns:scheduler:lock:fence     counter: the lock's fencing tokens
    ns:apikey:<sha256>          string: an API key's owner (JSON)
    ns:rl:<key>                 hash: a token bucket
    ns:qc:verdict:<policy>:<h>  string: a cached QC verdict
    ns:extract:gemini:<model>:<h>  string: what Gemini read off a page (by text hash)
    ns:ops:search, ns:ops:samples, ns:ops:sample-lock   dashboard time series
    ns:thumb:<key>, ns:thumb:fail:<key>                 thumbnail cache
    ns:wh:cursor, ns:wh:due, ns:wh:dead, ns:wh:stats,
    ns:wh:d:<id>, ns:wh:once:<key>                      the webhook outbox
"""

from __future__ import annotations

import json
from functools import cached_property

DEFAULT_NAMESPACE = "cs"
# Ledger keys a Lua script builds from parts (``<prefix><part>[:<part>...]``): the same
# names as the methods below.
_LUA_PREFIXES = (
    "job",
    "q",
    "delayed",
    "active",
    "awaiting",
    "done",
    "dead",
    "dead-seller",
    "count",
    "m",
    "dur",
    "idem",
    "signal",
)


class RedisKeys:
    """Key names under one namespace (1-64 characters, no ``:``)."""

    def __init__(self, namespace: str) -> None:
        if not namespace or ":" in namespace or len(namespace) > 64:
            raise ValueError(f"namespace must be 1-64 characters without ':', got {namespace!r}")
        self.ns = namespace

    def __repr__(self) -> str:
        return f"RedisKeys({self.ns!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RedisKeys) and other.ns == self.ns

    def __hash__(self) -> int:
        return hash(self.ns)

    def _k(self, *parts: str | int) -> str:
        return ":".join((self.ns, *(str(p) for p in parts)))

    # ------------------------------------------------------------------ ledger
    def job(self, job_id: str) -> str:
        return self._k("job", job_id)

    def attempts(self, job_id: str) -> str:
        return self._k("job", job_id, "attempts")

    def children(self, job_id: str) -> str:
        return self._k("job", job_id, "children")

    def queue(self, job_type: str, priority: int) -> str:
        return self._k("q", job_type, priority)

    def delayed(self, job_type: str) -> str:
        return self._k("delayed", job_type)

    def active(self, job_type: str) -> str:
        return self._k("active", job_type)

    def awaiting(self, job_type: str) -> str:
        return self._k("awaiting", job_type)

    def done(self, job_type: str) -> str:
        return self._k("done", job_type)

    def dead(self, job_type: str | None = None) -> str:
        return self._k("dead", job_type) if job_type else self._k("dead")

    def dead_seller(self, seller_id: str) -> str:
        return self._k("dead-seller", seller_id)

    def counters(self, job_type: str) -> str:
        return self._k("count", job_type)

    def minute(self, job_type: str, minute: int) -> str:
        return self._k("m", job_type, minute)

    def durations(self, job_type: str) -> str:
        return self._k("dur", job_type)

    def idempotency(self, key: str) -> str:
        return self._k("idem", key)

    def signal(self, job_type: str) -> str:
        return self._k("signal", job_type)

    @property
    def consumers(self) -> str:
        return self._k("consumers")

    @property
    def events(self) -> str:
        return self._k("events")

    @property
    def fence(self) -> str:
        return self._k("fence")

    @cached_property
    def lua_layout(self) -> str:
        """The ledger's key names for its Lua scripts (their first argument), as JSON.

        Parametrised keys are given as a prefix the script appends its parts to (joined
        with ``:``), fixed keys whole, and per-job suffixes as the suffix.
        """
        job = self.job("")
        layout = {name: self._k(name, "") for name in _LUA_PREFIXES}
        layout.update(
            attempts_suffix=self.attempts("")[len(job) :],
            children_suffix=self.children("")[len(job) :],
            dead_all=self.dead(),
            consumers=self.consumers,
            events=self.events,
            fence=self.fence,
        )
        return json.dumps(layout, separators=(",", ":"))

    # ------------------------------------------------------- products, search
    def product(self, product_id: str) -> str:
        return self._k("product", product_id)

    def seller_hashes(self, seller_id: str) -> str:
        return self._k("seller", seller_id, "hashes")

    def seller_counts(self, seller_id: str) -> str:
        return self._k("seller", seller_id, "counts")

    def seller_sync(self, seller_id: str) -> str:
        return self._k("seller", seller_id, "sync")

    @property
    def search_generation(self) -> str:
        return self._k("search", "generation")

    @property
    def search_changes(self) -> str:
        return self._k("search", "changes")

    @property
    def search_removed(self) -> str:
        """The change log's tombstones: removed product id -> generation of the removal."""
        return self._k("search", "removed")

    @property
    def search_changes_floor(self) -> str:
        """The newest generation trimmed from the change log (a reader behind it reloads)."""
        return self._k("search", "changes-floor")

    @property
    def search_queries(self) -> str:
        return self._k("search", "queries")

    def search_cache(self, generation: int | str, digest: str) -> str:
        return self._k("search", "cache", generation, digest)

    # ------------------------------------------------------- sellers, scheduler
    def seller_profile(self, seller_id: str) -> str:
        return self._k("seller-profile", seller_id)

    @property
    def seller_profiles(self) -> str:
        return self._k("seller-profiles")

    @property
    def sellers_due(self) -> str:
        return self._k("sellers", "due")

    @property
    def scheduler_lock(self) -> str:
        return self._k("scheduler", "lock")

    @property
    def scheduler_fence(self) -> str:
        return self._k("scheduler", "lock", "fence")

    # ---------------------------------------------------------- API, QC, ops
    def api_key(self, digest: str) -> str:
        return self._k("apikey", digest)

    def rate_limit(self, key: str) -> str:
        return self._k("rl", key)

    def qc_verdict(self, policy_version: str, content_hash: str) -> str:
        return self._k("qc", "verdict", policy_version, content_hash)

    def page_reading(self, model: str, content_hash: str) -> str:
        """What Gemini read off a page (the storefront's fallback), by the page text's hash."""
        return self._k("extract", "gemini", model, content_hash)

    @property
    def ops_search(self) -> str:
        return self._k("ops", "search")

    @property
    def ops_samples(self) -> str:
        return self._k("ops", "samples")

    @property
    def ops_sample_lock(self) -> str:
        return self._k("ops", "sample-lock")

    def thumbnail(self, key: str) -> str:
        return self._k("thumb", key)

    def thumbnail_failure(self, key: str) -> str:
        return self._k("thumb", "fail", key)

    # ---------------------------------------------------------------- webhooks
    @property
    def webhook_cursor(self) -> str:
        return self._k("wh", "cursor")

    @property
    def webhook_due(self) -> str:
        return self._k("wh", "due")

    @property
    def webhook_dead(self) -> str:
        return self._k("wh", "dead")

    @property
    def webhook_stats(self) -> str:
        return self._k("wh", "stats")

    def webhook_delivery(self, delivery_id: str) -> str:
        return self._k("wh", "d", delivery_id)

    def webhook_once(self, mark: str) -> str:
        return self._k("wh", "once", mark)
