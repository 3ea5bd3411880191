"""The production keyword index: Elasticsearch through the official client.

Layout on the cluster: an index template ``<index>-template`` for ``<index>-*``, concrete
indices ``<index>-<UTC timestamp>`` and an alias ``<index>`` that every read and write
goes through. :meth:`ElasticsearchKeywordIndex.reindex` builds a new concrete index and
swaps the alias in one ``_aliases`` call, so searches never see a half-built index.

Retries: the transport retries 429/502/503/504 and timeouts (``ELASTICSEARCH_MAX_RETRIES``);
the bulk helper retries the documents a node rejected with 429. Past that, errors are
translated: connection failures -> BackendUnavailable, 429/5xx -> RetryableError, other 4xx
-> PermanentError, and a server that is not Elasticsearch (no ``X-Elastic-Product`` header,
checked by the client) -> ConfigError.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, TypeVar

import elastic_transport
from elasticsearch import ApiError, Elasticsearch, UnsupportedProductError, helpers

from pipeline.errors import BackendUnavailable, ConfigError, PermanentError, RetryableError
from pipeline.keyword import es_dsl
from pipeline.keyword.base import (
    BulkResult,
    KeywordDoc,
    KeywordFilter,
    KeywordHit,
    check_ids,
    check_search_args,
    doc_problem,
)
from pipeline.settings import ElasticsearchSettings

logger = logging.getLogger(__name__)

T = TypeVar("T")


class ElasticsearchKeywordIndex:
    """KeywordIndex on an Elasticsearch 8/9 cluster. Thread-safe; creates its layout lazily."""

    def __init__(self, settings: ElasticsearchSettings, *, client: Elasticsearch | None = None):
        """Raises ConfigError when ``ELASTICSEARCH_URL`` is unset and no client is given."""
        if client is None:
            if settings.url is None:
                raise ConfigError("ELASTICSEARCH_URL is required for the Elasticsearch index")
            client = Elasticsearch(
                str(settings.url),
                api_key=settings.api_key.get_secret_value() if settings.api_key else None,
                request_timeout=settings.request_timeout,
                max_retries=settings.max_retries,
                retry_on_status=(429, 502, 503, 504),
                retry_on_timeout=True,
                verify_certs=settings.verify_certs,
            )
        self._es = client
        self._settings = settings
        self._alias = settings.index
        self._ready = False
        self._ready_lock = threading.Lock()

    def ensure(self) -> None:
        """Puts the index template and, if the alias is missing, the first index behind it."""
        if self._ready:
            return
        with self._ready_lock:
            if self._ready:
                return
            _call(lambda: self._es.indices.put_index_template(**self._template()))
            if not _call(lambda: bool(self._es.indices.exists_alias(name=self._alias))):
                first = self._new_index_name()
                _call(
                    lambda: self._es.indices.create(
                        index=first, aliases={self._alias: {"is_write_index": True}}
                    )
                )
                logger.info("elasticsearch: created %s behind alias %s", first, self._alias)
            self._ready = True

    def upsert(self, docs: list[KeywordDoc]) -> BulkResult:
        """Indexes documents by product id; each one the cluster rejects is reported in
        ``errors`` while the rest land. Raises RetryableError/BackendUnavailable when the
        bulk request itself fails.
        """
        self.ensure()
        return self._bulk_index(self._alias, docs)

    def reindex(self, docs: Iterable[KeywordDoc]) -> BulkResult:
        """Builds a fresh concrete index from ``docs`` and swaps the alias onto it atomically;
        the old indices are deleted afterwards. Searches see the old index until the swap.
        """
        self.ensure()
        old = sorted(self._concrete_indices())
        new = self._new_index_name()
        _call(lambda: self._es.indices.create(index=new))
        result = self._bulk_index(new, list(docs))
        _call(lambda: self._es.indices.refresh(index=new))
        actions: list[dict[str, Any]] = [
            {"remove": {"index": name, "alias": self._alias}} for name in old
        ]
        actions.append({"add": {"index": new, "alias": self._alias, "is_write_index": True}})
        _call(lambda: self._es.indices.update_aliases(actions=actions))
        for name in old:
            _call(functools.partial(self._es.indices.delete, index=name))
        logger.info("elasticsearch: alias %s swapped %s -> %s", self._alias, old, new)
        return result

    def delete(self, product_ids: list[str]) -> None:
        """Deletes by id; ids that are not there are ignored (404 per item)."""
        check_ids(product_ids)
        if not product_ids:
            return
        self.ensure()
        actions = [
            {"_op_type": "delete", "_index": self._alias, "_id": product_id}
            for product_id in product_ids
        ]
        failures = {
            item_id: reason
            for item_id, reason in self._stream_bulk(actions)
            if reason is not None and not reason.startswith("404")
        }
        if failures:
            raise RetryableError(f"elasticsearch refused {len(failures)} deletes: {failures}")

    def delete_seller(self, seller_id: str) -> None:
        check_ids([seller_id])
        self.ensure()
        _call(
            lambda: self._es.delete_by_query(
                index=self._alias,
                query={"term": {"seller_id": seller_id}},
                conflicts="proceed",
                refresh=True,
            )
        )

    def search(
        self, query: str, *, filters: KeywordFilter | None = None, limit: int = 10, offset: int = 0
    ) -> list[KeywordHit]:
        """BM25 hits, best first; a query with no words matches nothing.

        Raises PermanentError when the query or paging breaks a size limit.
        """
        check_search_args(query, limit, offset)
        if not any(char.isalnum() for char in query):
            return []
        self.ensure()
        unknown = self._unknown_words(query)
        body = es_dsl.search_query(
            query, filters if filters is not None else KeywordFilter(), unknown
        )
        response = _call(
            lambda: self._es.search(
                index=self._alias,
                query=body,
                from_=offset,
                size=limit,
                source=False,
                track_total_hits=False,
            )
        )
        return [
            KeywordHit(product_id=hit["_id"], score=float(hit["_score"] or 0.0))
            for hit in response["hits"]["hits"]
        ]

    def _unknown_words(self, query: str) -> list[str]:
        """Words of the query the index knows nothing near (``es_dsl.words_to_probe``):
        a size-0 request, made only when a word's allowance depends on it."""
        words = es_dsl.words_to_probe(query)
        if not words:
            return []
        body = es_dsl.probe_body(words)
        response = _call(lambda: self._es.search(index=self._alias, **body))
        return es_dsl.unknown_words(words, response.body)

    def refresh(self) -> None:
        self.ensure()
        _call(lambda: self._es.indices.refresh(index=self._alias))

    def count(self) -> int:
        self.ensure()
        return int(_call(lambda: self._es.count(index=self._alias))["count"])

    def drop(self) -> None:
        """Deletes the alias's indices and the template (tests and ``reset`` only)."""
        for name in self._concrete_indices():
            _call(functools.partial(self._es.indices.delete, index=name))
        template = es_dsl.index_template(self._alias, self._settings.icu)["name"]
        _call(lambda: self._es.indices.delete_index_template(name=template), ignore=(404,))
        self._ready = False

    def close(self) -> None:
        self._es.close()

    def _template(self) -> dict[str, Any]:
        return es_dsl.index_template(self._alias, self._settings.icu)

    def _new_index_name(self) -> str:
        return f"{self._alias}-{datetime.now(UTC).strftime('%Y%m%d%H%M%S%f')}"

    def _concrete_indices(self) -> list[str]:
        if not _call(lambda: bool(self._es.indices.exists_alias(name=self._alias))):
            return []
        return list(_call(lambda: self._es.indices.get_alias(name=self._alias)).body)

    def _bulk_index(self, index: str, docs: list[KeywordDoc]) -> BulkResult:
        errors: dict[str, str] = {}
        actions: list[dict[str, Any]] = []
        for doc in docs:
            problem = doc_problem(doc)
            if problem is not None:
                errors[doc.product_id[:140]] = problem
                continue
            actions.append(
                {
                    "_op_type": "index",
                    "_index": index,
                    "_id": doc.product_id,
                    "_source": es_dsl.source(doc),
                }
            )
        indexed = 0
        for item_id, reason in self._stream_bulk(actions):
            if reason is None:
                indexed += 1
            else:
                errors[item_id] = reason
        if errors:
            logger.warning("elasticsearch bulk: %d indexed, %d rejected", indexed, len(errors))
        return BulkResult(indexed=indexed, errors=errors)

    def _stream_bulk(self, actions: list[dict[str, Any]]) -> Iterator[tuple[str, str | None]]:
        """(id, None) for each action that landed, (id, reason) for each one refused."""
        if not actions:
            return
        results = _call(
            lambda: list(
                helpers.streaming_bulk(
                    self._es,
                    actions,
                    chunk_size=self._settings.bulk_chunk_size,
                    raise_on_error=False,
                    max_retries=self._settings.max_retries,
                    initial_backoff=0.5,
                    max_backoff=8,
                    # Returns once the changes are searchable (the next periodic refresh,
                    # not a forced one): products are marked live after this, and a
                    # search answer cached under that generation must include them.
                    refresh="wait_for",
                )
            )
        )
        for ok, item in results:
            (op, info), *_ = item.items()
            item_id = str(info.get("_id", "?"))
            if ok:
                yield item_id, None
            else:
                error = info.get("error")
                if isinstance(error, dict):
                    reason = f"{error.get('type', op)}: {error.get('reason', '')}".strip()
                else:
                    reason = f"{info.get('status')} {op} failed: {info.get('result', error)}"
                yield item_id, reason


def _call(fn: Callable[[], T], *, ignore: tuple[int, ...] = ()) -> T:
    """Runs one client call, translating its errors into ours (chained)."""
    try:
        return fn()
    except UnsupportedProductError as exc:
        raise ConfigError(
            "ELASTICSEARCH_URL does not point at Elasticsearch (no X-Elastic-Product header)"
        ) from exc
    except ApiError as exc:
        status = exc.meta.status
        if status in ignore:
            return None  # type: ignore[return-value]
        message = f"elasticsearch answered {status}: {exc.message}"
        if status == 429 or status >= 500:
            raise RetryableError(message) from exc
        raise PermanentError(message) from exc
    except elastic_transport.TransportError as exc:
        raise BackendUnavailable(f"elasticsearch unreachable: {exc}") from exc
    except helpers.BulkIndexError as exc:  # only with raise_on_error, kept as a guard
        raise RetryableError(f"elasticsearch bulk failed: {exc}") from exc
