"""A local HTTP server that speaks enough of the Elasticsearch REST API for the adapter.

It checks what a real cluster would refuse (index template and mapping, NDJSON bulk bodies,
the query DSL) and answers in the 8/9 wire format with ``X-Elastic-Product``. Search is a
crude term-count ranking with field boosts, folded accents, per-language sub-fields
(``name.pt``...) stemmed by Snowball (as Elasticsearch's stemmer filters are), a ``term``
on a normalized keyword, and ``fuzziness: AUTO:low,high`` with transpositions as Lucene
counts them: enough to tell right from wrong results, not a BM25 implementation.
"""

from __future__ import annotations

import json
import re
import threading
import unicodedata
from decimal import Decimal
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from pipeline.keyword import analysis
from tests.loopback import LoopbackHTTPServer

_WORD = re.compile(r"[^\W_]+")
_TEXT_FIELDS = {"name", "description"}
_KEYWORDS = {"product_id", "seller_id", "status", "currency", "availability", "language", "sku"}
_LANGUAGES = {"pt", "es", "fr", "id", "en", "hi"}
_MIME = "application/vnd.elasticsearch+json;compatible-with=9"


class EsError(Exception):
    def __init__(self, status: int, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.status, self.kind, self.reason = status, kind, reason


def _tokens(text: str, language: str) -> list[str]:
    folded = "".join(
        c for c in unicodedata.normalize("NFKD", text.lower()) if not 0x300 <= ord(c) <= 0x36F
    )
    words = _WORD.findall(unicodedata.normalize("NFC", folded))
    if language:
        words = [analysis.stem(w, language) for w in words]
    return words


def _max_edits(word: str, fuzziness: str | int) -> int:
    """Elasticsearch's ``AUTO:low,high``: 0 edits below low letters, 1 below high, else 2;
    or a fixed number of edits."""
    kind, _, bounds = str(fuzziness).partition(":")
    if kind != "AUTO":
        return int(fuzziness)
    low, high = (int(b) for b in bounds.split(",")) if bounds else (3, 6)
    return 0 if len(word) < low else 1 if len(word) < high else 2


class FakeElasticsearch:
    """State and request log of the fake cluster; start with :meth:`start`."""

    def __init__(self, *, product_header: bool = True) -> None:
        self.product_header = product_header
        self.templates: dict[str, dict[str, Any]] = {}
        self.indices: dict[str, dict[str, Any]] = {}  # name -> {"docs", "visible"}
        self.aliases: dict[str, list[str]] = {}
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        self.fail_next: list[int] = []  # statuses for the next whole requests
        self.reject_ids: set[str] = set()  # bulk items refused with 400
        self.throttle_once: set[str] = set()  # bulk items refused once with 429
        self.alias_actions: list[list[dict[str, Any]]] = []
        self.lock = threading.Lock()
        self._server: LoopbackHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return self._server.base_url

    def start(self) -> FakeElasticsearch:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, payload = fake.handle(self.command, self.path, dict(self.headers), body)
                data = b"" if self.command == "HEAD" else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", _MIME)
                if fake.product_header:
                    self.send_header("X-Elastic-Product", "Elasticsearch")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

        self._server = LoopbackHTTPServer(Handler).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()

    def paths(self) -> list[str]:
        return [f"{method} {urlsplit(path).path}" for method, path, _, _ in self.requests]

    # --- routing -------------------------------------------------------------------------

    def handle(
        self, method: str, raw_path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, Any]:
        with self.lock:
            self.requests.append((method, raw_path, headers, body))
            if self.fail_next:
                status = self.fail_next.pop(0)
                return status, _error(status, "unavailable", "injected failure")
            try:
                return self._route(method, raw_path, headers, body)
            except EsError as exc:
                return exc.status, _error(exc.status, exc.kind, exc.reason)

    def _route(
        self, method: str, raw_path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, Any]:
        split = urlsplit(raw_path)
        parts = [unquote(p) for p in split.path.split("/") if p]
        params = {k: v[-1] for k, v in parse_qs(split.query).items()}
        if not parts:
            return 200, {"version": {"number": "9.1.0"}, "tagline": "You Know, for Search"}
        if parts[0] == "_index_template":
            return self._template(method, parts[1], body)
        if parts[0] == "_alias":
            return self._get_alias(method, parts[1])
        if parts[0] == "_aliases":
            return self._update_aliases(_json(body))
        if parts[-1] == "_bulk":
            _expect_ndjson(headers)
            return self._bulk(body, params)
        if len(parts) == 1:
            return self._index_level(method, parts[0], body)
        return self._index_action(method, raw_path, parts[0], parts[1], body, params)

    def _index_level(self, method: str, target: str, body: bytes) -> tuple[int, Any]:
        if method == "PUT":
            return self._create(target, _json(body) if body else {})
        if method == "DELETE":
            self._resolve(target)
            self.indices.pop(target)
            for names in self.aliases.values():
                if target in names:
                    names.remove(target)
            return 200, {"acknowledged": True}
        raise EsError(400, "illegal_argument_exception", f"no handler for {method} /{target}")

    def _index_action(
        self, method: str, raw_path: str, target: str, action: str, body: bytes, params: Any
    ) -> tuple[int, Any]:
        names = self._resolve(target)
        if action == "_refresh":
            for name in names:
                self.indices[name]["visible"] = dict(self.indices[name]["docs"])
            return 200, {"_shards": {"total": 1, "successful": 1, "failed": 0}}
        if action == "_count":
            return 200, {"count": sum(len(self.indices[n]["visible"]) for n in names)}
        if action == "_search":
            return 200, self._search(names, _json(body))
        if action == "_delete_by_query":
            return 200, self._delete_by_query(names, _json(body), params)
        raise EsError(400, "illegal_argument_exception", f"no handler for {method} {raw_path}")

    # --- index management -----------------------------------------------------------------

    def _template(self, method: str, name: str, body: bytes) -> tuple[int, Any]:
        if method == "DELETE":
            if self.templates.pop(name, None) is None:
                raise EsError(404, "resource_not_found_exception", f"template {name} missing")
            return 200, {"acknowledged": True}
        template = _json(body)
        _check_template(template)
        self.templates[name] = template
        return 200, {"acknowledged": True}

    def _create(self, name: str, body: dict[str, Any]) -> tuple[int, Any]:
        if name in self.indices:
            raise EsError(400, "resource_already_exists_exception", f"index {name} exists")
        if not any(
            re.fullmatch(p.replace("*", ".*"), name)
            for t in self.templates.values()
            for p in t["index_patterns"]
        ):
            raise EsError(400, "test_expectation", f"no template matches {name}")
        self.indices[name] = {"docs": {}, "visible": {}}
        for alias in body.get("aliases", {}):
            self.aliases.setdefault(alias, []).append(name)
        return 200, {"acknowledged": True, "index": name}

    def _get_alias(self, method: str, alias: str) -> tuple[int, Any]:
        names = self.aliases.get(alias) or []
        if not names:
            return 404, _error(404, "aliases_not_found_exception", f"alias [{alias}] missing")
        if method == "HEAD":
            return 200, {}
        return 200, {name: {"aliases": {alias: {}}} for name in names}

    def _update_aliases(self, body: dict[str, Any]) -> tuple[int, Any]:
        actions = body["actions"]
        self.alias_actions.append(actions)
        staged = {k: list(v) for k, v in self.aliases.items()}
        for action in actions:
            (kind, spec), *_ = action.items()
            if spec["index"] not in self.indices:
                raise EsError(404, "index_not_found_exception", spec["index"])
            names = staged.setdefault(spec["alias"], [])
            if kind == "add":
                names.append(spec["index"])
            elif kind == "remove":
                names.remove(spec["index"])
        self.aliases = staged  # all actions or none: the swap is atomic
        return 200, {"acknowledged": True}

    def _resolve(self, target: str) -> list[str]:
        if target in self.indices:
            return [target]
        if self.aliases.get(target):
            return list(self.aliases[target])
        raise EsError(404, "index_not_found_exception", f"no such index [{target}]")

    # --- documents --------------------------------------------------------------------------

    def _bulk(self, body: bytes, params: dict[str, str]) -> tuple[int, Any]:
        if not body.endswith(b"\n"):
            raise EsError(400, "illegal_argument_exception", "bulk body must end with a newline")
        lines = [json.loads(line) for line in body.decode().splitlines()]
        items: list[dict[str, Any]] = []
        while lines:
            (op, meta), *_ = lines.pop(0).items()
            doc_id = meta["_id"]
            names = self._resolve(meta["_index"])
            if len(names) != 1:
                raise EsError(400, "illegal_argument_exception", "alias has no write index")
            docs = self.indices[names[0]]["docs"]
            if op == "index":
                items.append({op: self._index_one(names[0], docs, doc_id, lines.pop(0))})
            elif op == "delete":
                found = docs.pop(doc_id, None) is not None
                result = {"_index": names[0], "_id": doc_id, "status": 200 if found else 404}
                result["result"] = "deleted" if found else "not_found"
                items.append({op: result})
            else:
                raise EsError(400, "illegal_argument_exception", f"bulk op {op} not expected")
        if params.get("refresh") in ("true", "wait_for"):  # one shard: wait_for is a refresh
            for index in self.indices.values():
                index["visible"] = dict(index["docs"])
        errors = any("error" in item[next(iter(item))] for item in items)
        return 200, {"took": 1, "errors": errors, "items": items}

    def _index_one(
        self, index: str, docs: dict[str, Any], doc_id: str, source: dict[str, Any]
    ) -> dict[str, Any]:
        head = {"_index": index, "_id": doc_id}
        if doc_id in self.throttle_once:
            self.throttle_once.discard(doc_id)
            return {**head, "status": 429, "error": {"type": "es_rejected_execution_exception"}}
        unknown = set(source) - _TEXT_FIELDS - _KEYWORDS - {"price", "content_hash"}
        if doc_id in self.reject_ids or unknown:
            error = {"type": "document_parsing_exception", "reason": f"unknown {sorted(unknown)}"}
            return {**head, "status": 400, "error": error}
        if source.get("price") is not None:
            Decimal(str(source["price"]))  # a non-number would be a mapper error
        docs[doc_id] = source
        return {**head, "status": 201, "result": "created"}

    def _search(self, names: list[str], body: dict[str, Any]) -> dict[str, Any]:
        if "aggs" in body:
            return self._filters_aggregation(names, body)
        assert body.get("_source") is False, "the adapter needs ids only"
        query = body["query"]["bool"]
        assert query.get("minimum_should_match") == 1, "any clause may match"
        filters = query["filter"]
        scored: list[tuple[float, str]] = []
        for name in names:
            for doc_id, source in self.indices[name]["visible"].items():
                if all(_passes(f, source) for f in filters):
                    score = sum(_clause_score(c, source) for c in query["should"])
                    if score > 0:
                        scored.append((score, doc_id))
        scored.sort(key=lambda pair: (-pair[0], pair[1]))
        start = body.get("from", 0)
        page = scored[start : start + body.get("size", 10)]
        hits = [{"_index": names[0], "_id": doc_id, "_score": score} for score, doc_id in page]
        return {"took": 1, "timed_out": False, "hits": {"max_score": None, "hits": hits}}

    def _filters_aggregation(self, names: list[str], body: dict[str, Any]) -> dict[str, Any]:
        """A size-0 search with one ``filters`` aggregation of bool-should queries."""
        assert body.get("size") == 0 and "query" not in body, "a probe asks for counts only"
        ((agg_name, agg),) = body["aggs"].items()
        sources = [src for name in names for src in self.indices[name]["visible"].values()]
        buckets = {}
        for key, query in agg["filters"]["filters"].items():
            should = query["bool"]["should"]
            assert query["bool"]["minimum_should_match"] == 1
            matched = sum(1 for src in sources if sum(_clause_score(c, src) for c in should) > 0)
            buckets[key] = {"doc_count": matched}
        hits = {"max_score": None, "hits": []}
        return {"took": 1, "hits": hits, "aggregations": {agg_name: {"buckets": buckets}}}

    def _delete_by_query(
        self, names: list[str], body: dict[str, Any], params: dict[str, str]
    ) -> dict[str, Any]:
        term = body["query"]["term"]
        deleted = 0
        for name in names:
            docs = self.indices[name]["docs"]
            for doc_id in [d for d, s in docs.items() if _passes({"term": term}, s)]:
                del docs[doc_id]
                deleted += 1
            if params.get("refresh") in ("true", "wait_for"):  # one shard: wait_for is a refresh
                self.indices[name]["visible"] = dict(docs)
        return {"deleted": deleted, "failures": []}


def _json(body: bytes) -> Any:
    return json.loads(body or b"{}")


def _error(status: int, kind: str, reason: str) -> dict[str, Any]:
    return {"error": {"type": kind, "reason": reason, "root_cause": []}, "status": status}


def _expect_ndjson(headers: dict[str, str]) -> None:
    content_type = {k.lower(): v for k, v in headers.items()}.get("content-type", "")
    if "x-ndjson" not in content_type:
        raise EsError(400, "illegal_argument_exception", f"bulk needs NDJSON, got {content_type}")


def _check_template(template: dict[str, Any]) -> None:
    """What a real cluster (or the README's promise) needs from our index template."""
    body = template["template"]
    props = body["mappings"]["properties"]
    problems = []
    if body["mappings"].get("dynamic") != "strict":
        problems.append("mapping must be strict")
    if props["price"] != {"type": "scaled_float", "scaling_factor": 100}:
        problems.append(f"price must be scaled_float/100, got {props['price']}")
    problems += [f"{f} must be keyword" for f in _KEYWORDS if props[f]["type"] != "keyword"]
    analyzers = body["settings"]["analysis"]["analyzer"]
    for field in _TEXT_FIELDS:
        spec = props[field]
        if spec["type"] != "text" or spec["analyzer"] not in analyzers:
            problems.append(f"{field} must be text with a defined analyzer")
        for language in sorted(_LANGUAGES):
            sub = spec["fields"].get(language, {}).get("analyzer")
            if sub not in analyzers:
                problems.append(f"{field}.{language} must use a defined analyzer")
    if props["sku"].get("normalizer") not in body["settings"]["analysis"].get("normalizer", {}):
        problems.append("sku must use a defined normalizer")
    if problems:
        raise EsError(400, "mapper_parsing_exception", "; ".join(problems))


def _passes(clause: dict[str, Any], source: dict[str, Any]) -> bool:
    (kind, spec), *_ = clause.items()
    (field, value), *_ = spec.items()
    if kind == "term":
        return bool(source.get(field) == value)
    if kind == "range":
        if source.get(field) is None:
            return False
        price = Decimal(str(source[field]))
        return ("gte" not in value or price >= Decimal(value["gte"])) and (
            "lte" not in value or price <= Decimal(value["lte"])
        )
    raise EsError(400, "parsing_exception", f"unexpected filter {kind}")


def _clause_score(clause: dict[str, Any], source: dict[str, Any]) -> float:
    (kind, spec), *_ = clause.items()
    if kind == "term":
        (field, value), *_ = spec.items()
        assert field == "sku", f"term queries go to the sku keyword, not {field}"
        # the "sku" normalizer: lowercase + asciifolding of the whole value
        stored = source.get(field)
        hit = stored is not None and analysis.fold(stored) == analysis.fold(str(value["value"]))
        return float(value["boost"]) if hit else 0.0
    if kind != "multi_match":
        raise EsError(400, "parsing_exception", f"unexpected query {kind}")
    assert spec["type"] == "most_fields" and spec["operator"] == "or"
    if "fuzziness" in spec:
        assert spec["fuzzy_transpositions"] is True, "a swap must count as one edit"
    return _score(spec["query"], spec["fields"], source, spec.get("fuzziness"))


def _score(
    query: str, fields: list[str], source: dict[str, Any], fuzziness: str | int | None
) -> float:
    total = 0.0
    for spec in fields:
        name, _, boost = spec.partition("^")
        base, _, sub = name.partition(".")
        if sub and sub not in _LANGUAGES:
            raise EsError(400, "query_shard_exception", f"no sub-field {name}")
        words = set(_tokens(query, sub))
        text = _tokens(str(source.get(base) or ""), sub)
        for token in text:
            for word in words:
                edits = _max_edits(word, fuzziness) if fuzziness else 0
                if analysis.edit_distance(word, token, edits) <= edits:
                    total += float(boost or 1)
    return total
