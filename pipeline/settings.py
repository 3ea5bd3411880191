"""Settings: one model built at the entry point from the environment, then passed down.

Each group reads its own prefix (``REDIS_``, ``JOB_``, ``SIGLIP_`` ...) so the seed's
variable names (``REDIS_HOST``, ``JOB_CONCURRENCY`` ...) stay exactly as they were.
Nothing here is read at import time: call :func:`load_settings` in a CLI command or an
app builder and hand the result to whatever needs it (Ray actors take it as a
constructor argument).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from decimal import Decimal
from enum import Enum, StrEnum
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from pipeline.errors import ConfigError
from pipeline.redis_keys import DEFAULT_NAMESPACE, RedisKeys

PositiveFloat = Annotated[float, Field(gt=0)]


class SiglipDevice(StrEnum):
    AUTO = "auto"
    CPU = "cpu"
    CUDA = "cuda"


class _Group(BaseSettings):
    """A settings group: reads ``<PREFIX><FIELD>`` from the environment."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    @classmethod
    def env_name(cls, field: str) -> str:
        return f"{cls.model_config.get('env_prefix', '')}{field}".upper()


class CoreSettings(_Group):
    """`DATA_DIR` holds the embedded services' data (Redis, Milvus Lite, the keyword
    index). An embedded service that no process has used for `EMBEDDED_IDLE_STOP_S`
    seconds stops itself (0: never); `catalog-sync services status|stop` shows and stops
    them (docs/operations.md)."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", frozen=True)

    data_dir: Path = Path("./data")
    log_level: str = Field(default="INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR|CRITICAL)$")
    log_json: bool = False
    embedded_idle_stop_s: float = Field(default=1800.0, ge=0)

    @property
    def idle_stop_s(self) -> float | None:
        """The embedded services' idle time before they stop themselves; None: never."""
        return self.embedded_idle_stop_s or None


class RedisSettings(_Group):
    model_config = SettingsConfigDict(env_prefix="REDIS_", extra="ignore", frozen=True)

    url: SecretStr | None = None
    host: str | None = None
    port: int = Field(default=6379, ge=1, le=65535)
    password: SecretStr | None = None
    db: int = Field(default=0, ge=0, le=15)
    # Every key starts with "<namespace>:" (pipeline/redis_keys.py): deployments sharing
    # one Redis stay apart by namespace.
    namespace: str = Field(default=DEFAULT_NAMESPACE, pattern=r"^[A-Za-z0-9_.\-]{1,64}$")

    @field_validator("url")
    @classmethod
    def _url_scheme(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith(
            ("redis://", "rediss://", "unix://")
        ):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value

    @property
    def embedded(self) -> bool:
        """No Redis configured: the local profile starts its own ``redis-server`` child."""
        return self.url is None and self.host is None

    @property
    def keys(self) -> RedisKeys:
        """The key names under ``REDIS_NAMESPACE``."""
        return RedisKeys(self.namespace)


class JobSettings(_Group):
    model_config = SettingsConfigDict(env_prefix="JOB_", extra="ignore", frozen=True)

    concurrency: int = Field(default=5, ge=1, le=1000)
    timeout: PositiveFloat = 300.0
    max_attempts: int = Field(default=3, ge=1, le=100)
    backoff_base: PositiveFloat = 2.0
    backoff_jitter: float = Field(default=0.0, ge=0, le=1)
    completed_keep_seconds: int = Field(default=86_400, ge=0)
    completed_keep_count: int = Field(default=100_000, ge=0)


class MilvusSettings(_Group):
    model_config = SettingsConfigDict(env_prefix="MILVUS_", extra="ignore", frozen=True)

    uri: AnyHttpUrl | None = None
    token: SecretStr | None = None
    collection: str = Field(default="products", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,254}$")
    index_type: str = Field(default="AUTO", pattern=r"^(AUTO|FLAT|HNSW|IVF_FLAT|DISKANN)$")
    # HNSW knobs, used where the index is HNSW (AUTO picks it on a Milvus server).
    hnsw_m: int = Field(default=16, ge=4, le=64)
    hnsw_ef_construction: int = Field(default=200, ge=8, le=1024)
    search_ef: int = Field(default=128, ge=1, le=32_768)
    upsert_batch: int = Field(default=500, ge=1, le=10_000)
    timeout: PositiveFloat = 60.0


class ElasticsearchSettings(_Group):
    model_config = SettingsConfigDict(env_prefix="ELASTICSEARCH_", extra="ignore", frozen=True)

    url: AnyHttpUrl | None = None
    api_key: SecretStr | None = None
    index: str = Field(default="products", pattern=r"^[a-z0-9][a-z0-9_\-]{0,200}$")
    request_timeout: PositiveFloat = 10.0
    # Transport retries on 429/502/503/504 and timeouts; the bulk helper retries rejected items.
    max_retries: int = Field(default=3, ge=0, le=10)
    bulk_chunk_size: int = Field(default=500, ge=1, le=10_000)
    # ICU analysis needs the analysis-icu plugin on every node; off: the standard analyzer.
    icu: bool = False
    verify_certs: bool = True


class GeminiSettings(_Group):
    model_config = SettingsConfigDict(env_prefix="GEMINI_", extra="ignore", frozen=True)

    api_key: SecretStr | None = None
    model: str = "gemini-2.5-flash"
    base_url: AnyHttpUrl | None = None
    requests_per_minute: int = Field(default=60, ge=1)
    timeout: PositiveFloat = 30.0
    # google-genai 3.x calls /v1 by default; responseSchema is served on both.
    api_version: str = Field(default="v1beta", pattern=r"^v1(beta)?$")
    burst: int = Field(default=5, ge=1)
    max_image_side: int = Field(default=768, ge=64, le=4096)
    policy_prompt: str | None = Field(default=None, max_length=20_000)
    # The storefront's fallback: a page with no confident product is read by Gemini
    # (only with GEMINI_API_KEY set too); its visible text, cut to this many characters,
    # and the answer cached by the text's hash for EXTRACT_CACHE_TTL seconds.
    extract: bool = False
    extract_max_chars: int = Field(default=20_000, ge=500, le=200_000)
    extract_cache_ttl: int = Field(default=30 * 86_400, ge=0)


class QCSettings(_Group):
    """Quality control: the policy version (part of the verdict cache key) and local thresholds."""

    model_config = SettingsConfigDict(env_prefix="QC_", extra="ignore", frozen=True)

    policy_version: str = Field(default="2026-11", pattern=r"^[A-Za-z0-9._\-]{1,64}$")
    cache_ttl: int = Field(default=86_400, ge=0)
    min_price: Decimal = Field(default=Decimal("0.01"), ge=0)
    max_price: Decimal = Field(default=Decimal("10000000"), gt=0)
    # Zero-shot: softmax over the policy's category prompts (CLIP-style temperature).
    zero_shot_temperature: PositiveFloat = 100.0
    zero_shot_reject: float = Field(default=0.8, ge=0, le=1)
    zero_shot_flag: float = Field(default=0.5, ge=0, le=1)
    # Cosine of the product's image and text vectors; below it the image is held for review.
    agreement_min: float = Field(default=0.02, ge=-1, le=1)


class SiglipSettings(_Group):
    model_config = SettingsConfigDict(env_prefix="SIGLIP_", extra="ignore", frozen=True)

    model: str = "ViT-B-16-SigLIP"
    pretrained: str = "webli"
    checkpoint: str | None = None
    device: SiglipDevice = SiglipDevice.AUTO
    replicas: int = Field(default=1, ge=1, le=1024)
    max_batch_size: int = Field(default=32, ge=1, le=4096)
    batch_wait_ms: float = Field(default=10.0, ge=0, le=10_000)
    # CPU share of one replica; its torch thread count follows it (at least 1).
    cpus_per_replica: float = Field(default=1.0, ge=0, le=512)
    precision: str = Field(default="auto", pattern=r"^(auto|bf16|fp32)$")
    decode_workers: int = Field(default=4, ge=1, le=256)
    request_timeout: PositiveFloat = 120.0
    # Benchmarks only: build the named architecture untrained (same cost, nothing to download).
    random_weights_for_benchmarks: bool = False

    @property
    def is_tiny(self) -> bool:
        """``SIGLIP_MODEL=tiny``: the untrained offline test model, useless for search quality."""
        return self.model == "tiny"


class RaySettings(_Group):
    model_config = SettingsConfigDict(env_prefix="RAY_", extra="ignore", frozen=True)

    address: str | None = None


class CatalogSettings(_Group):
    model_config = SettingsConfigDict(env_prefix="CATALOG_", extra="ignore", frozen=True)

    allowed_hosts: Annotated[tuple[str, ...], NoDecode] = ()
    storage_state: Path | None = None
    max_page_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    max_image_bytes: int = Field(default=15 * 1024 * 1024, ge=1024)
    max_image_pixels: int = Field(default=40_000_000, ge=1024)
    fetch_timeout: PositiveFloat = 20.0
    per_host_concurrency: int = Field(default=4, ge=1, le=256)
    user_agent: str = "catalog-sync/0.1 (+https://github.com/catalog-sync/catalog-sync)"
    per_host_rate: PositiveFloat = 25.0  # requests per second to one host:port, burst as large
    max_redirects: int = Field(default=5, ge=0, le=20)
    max_products: int = Field(default=5000, ge=1, le=100_000)
    verify_images: bool = True  # download each image once while scraping: drop broken ones
    browser_path: Path | None = None  # else Playwright's Chromium, else Debian's
    # When the worker runs as root, Chromium runs as this user so it can keep its sandbox.
    browser_user: str = Field(default="nobody", min_length=1, pattern=r"^[a-z_][a-z0-9_-]*$")
    headless: bool = True
    page_concurrency: int = Field(default=4, ge=1, le=64)
    scroll_idle_ms: int = Field(default=1500, ge=100, le=60_000)
    graph_base_url: AnyHttpUrl = AnyHttpUrl("https://graph.facebook.com/v21.0")
    graph_token: SecretStr | None = None

    @field_validator("allowed_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [part for part in value.split(",") if part.strip()]
        entries = tuple(str(v).strip().lower() for v in value)
        for entry in entries:
            split_host_port(entry)
        return entries


def split_host_port(entry: str) -> tuple[str, int | None]:
    """``host``, ``host:port``, ``[v6]:port`` or a bare IPv6 address -> (host, port or None).

    Raises ValueError when the entry is none of those.
    """
    if entry.startswith("["):
        host, sep, rest = entry[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else rest
        if not sep or (port and not port.isdigit()):
            raise ValueError(f"{entry!r} is not host[:port]")
        return host, int(port) if port else None
    if entry.count(":") > 1:
        return entry, None
    host, _, port = entry.partition(":")
    if not host or not re.fullmatch(r"[a-z0-9._\-]+", host) or (port and not port.isdigit()):
        raise ValueError(f"{entry!r} is not host[:port]")
    if port and not 0 < int(port) < 65536:
        raise ValueError(f"{entry!r}: port must be 1-65535")
    return host, int(port) if port else None


MIN_ADMIN_KEY_CHARS = 24  # e.g. secrets.token_urlsafe(18): 144 random bits


class ApiSettings(_Group):
    model_config = SettingsConfigDict(env_prefix="API_", extra="ignore", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    admin_key: SecretStr | None = None
    rate_limit_per_minute: int = Field(default=600, ge=1)
    search_cache_ttl: int = Field(default=3600, ge=0)
    # Live products' image vectors held in each API replica's memory (3 KB a product);
    # past this many the replica searches the vector store instead. 0 turns it off.
    search_mirror_max_rows: int = Field(default=250_000, ge=0)
    ingress_replicas: int = Field(default=1, ge=1, le=1024)
    encoder_replicas: int = Field(default=1, ge=1, le=1024)
    # Addresses or networks of the reverse proxies in front of the API. Only a request
    # whose peer is one of them has its X-Forwarded-For read; empty: no header trusted.
    trusted_proxies: Annotated[tuple[str, ...], NoDecode] = ()
    # A request body must arrive within this many seconds (slow senders get a 408).
    body_timeout_s: PositiveFloat = 30.0

    @field_validator("admin_key")
    @classmethod
    def _long_admin_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_ADMIN_KEY_CHARS:
            raise ValueError(f"must be at least {MIN_ADMIN_KEY_CHARS} characters")
        return value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [part for part in value.split(",") if part.strip()]
        entries = tuple(str(v).strip() for v in value)
        for entry in entries:
            ipaddress.ip_network(entry, strict=False)  # ValueError names the entry
        return entries


class SearchSettings(_Group):
    """Hybrid search: how the BM25 and vector rankings are fused (see docs/search.md)."""

    model_config = SettingsConfigDict(env_prefix="SEARCH_", extra="ignore", frozen=True)

    rrf_k: int = Field(default=60, ge=1, le=10_000)
    bm25_weight: float = Field(default=1.0, ge=0, le=100)
    vector_weight: float = Field(default=1.0, ge=0, le=100)
    # Candidates the vector half brings to the fusion (and to facets and sorts).
    vector_depth: int = Field(default=100, ge=1, le=1000)
    # Keyword matches counted by facets and ordered by a price/newest sort.
    result_set_depth: int = Field(default=1000, ge=10, le=1000)


class OpsSettings(_Group):
    """Operations: queue-depth autoscaling, Serve autoscaling, metrics, dashboard, alerts."""

    model_config = SettingsConfigDict(env_prefix="OPS_", extra="ignore", frozen=True)

    # The queue-depth autoscaler (a Ray actor the worker starts when enabled).
    autoscale: bool = False
    autoscale_interval_s: PositiveFloat = 10.0
    autoscale_down_after_s: float = Field(default=300.0, ge=0)
    min_gpu_bundles: int = Field(default=0, ge=0, le=10_000)
    max_gpu_bundles: int = Field(default=8, ge=0, le=10_000)
    min_cpu_bundles: int = Field(default=0, ge=0, le=100_000)
    max_cpu_bundles: int = Field(default=64, ge=0, le=100_000)
    cpus_per_gpu_bundle: int = Field(default=4, ge=0, le=1024)
    embed_jobs_per_gpu: int = Field(default=512, ge=1)
    scrape_jobs_per_cpu: int = Field(default=2, ge=1)
    qc_jobs_per_cpu: int = Field(default=50, ge=1)
    index_jobs_per_cpu: int = Field(default=500, ge=1)
    # Serve: replicas follow ongoing requests when on; else the fixed API_* replica counts.
    serve_autoscaling: bool = False
    serve_min_replicas: int = Field(default=1, ge=0, le=1024)
    serve_max_replicas: int = Field(default=8, ge=1, le=1024)
    serve_target_ongoing_requests: PositiveFloat = 16.0
    # Worker metrics: a Prometheus HTTP endpoint on this port (0: off).
    metrics_port: int = Field(default=0, ge=0, le=65535)
    metrics_host: str = "127.0.0.1"  # loopback: set 0.0.0.0 only behind a firewall
    # Dashboard time series: one ledger sample per interval, the latest N kept in Redis.
    sample_interval_s: PositiveFloat = 5.0
    samples_keep: int = Field(default=720, ge=10, le=100_000)
    # Alert thresholds (ops/alerts.yml states the same numbers).
    alert_failure_rate: float = Field(default=0.05, ge=0, le=1)
    alert_min_finished: int = Field(default=20, ge=1)
    alert_queue_depth: int = Field(default=1000, ge=1)
    alert_heartbeat_s: PositiveFloat = 120.0


class ScheduleSettings(_Group):
    """Scheduled re-syncs of registered sellers (one scheduler active among the workers)."""

    model_config = SettingsConfigDict(env_prefix="SCHEDULE_", extra="ignore", frozen=True)

    enabled: bool = True
    resync_hours: PositiveFloat = 24.0
    tick_s: PositiveFloat = 5.0
    lock_ttl_s: PositiveFloat = 30.0
    batch: int = Field(default=100, ge=1, le=10_000)
    # A claimed seller whose sync was not enqueued (a crash) is due again after this.
    claim_lease_s: PositiveFloat = 120.0


class VectorBackend(StrEnum):
    AUTO = "auto"  # milvus when MILVUS_URI is set, else milvus-lite
    MILVUS_LITE = "milvus-lite"  # a Milvus Lite server of our own under DATA_DIR
    MILVUS = "milvus"  # the Milvus server at MILVUS_URI


class KeywordBackend(StrEnum):
    AUTO = "auto"  # elasticsearch when ELASTICSEARCH_URL is set, else tantivy
    TANTIVY = "tantivy"  # embedded, under DATA_DIR/keyword
    ELASTICSEARCH = "elasticsearch"  # the cluster at ELASTICSEARCH_URL


class QCBackend(StrEnum):
    AUTO = "auto"  # gemini when GEMINI_API_KEY is set, else local
    LOCAL = "local"  # rules, zero-shot and image-text agreement on our own model
    GEMINI = "gemini"


class BackendSettings(_Group):
    """Which implementation serves each role; ``auto`` decides from which URL or key is set.
    An explicit choice whose URL or key is missing stops the start (pipeline/backends.py)."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", frozen=True)

    vector_backend: VectorBackend = VectorBackend.AUTO
    keyword_backend: KeywordBackend = KeywordBackend.AUTO
    qc_backend: QCBackend = QCBackend.AUTO


class ImageStoreBackend(StrEnum):
    DIR = "dir"
    S3 = "s3"


class ImageStoreSettings(_Group):
    """Where product images are kept once, by SHA-256 (docs/images.md)."""

    model_config = SettingsConfigDict(env_prefix="IMAGE_STORE_", extra="ignore", frozen=True)

    backend: ImageStoreBackend = ImageStoreBackend.DIR
    dir: Path | None = None  # dir: DATA_DIR/images when unset
    # s3: the endpoint and bucket, path-style: https://s3.eu-west-1.amazonaws.com/my-bucket
    url: AnyHttpUrl | None = None
    region: str = Field(default="us-east-1", pattern=r"^[a-z0-9\-]{1,64}$")
    access_key: SecretStr | None = None
    secret_key: SecretStr | None = None
    prefix: str = Field(default="images/", pattern=r"^[A-Za-z0-9._\-/]{0,200}$")
    timeout: PositiveFloat = 30.0


class WebhookSettings(_Group):
    """Seller webhooks: sync events POSTed with an HMAC signature, retried with backoff."""

    model_config = SettingsConfigDict(env_prefix="WEBHOOK_", extra="ignore", frozen=True)

    enabled: bool = True
    max_attempts: int = Field(default=8, ge=1, le=50)
    backoff_base_s: PositiveFloat = 5.0
    backoff_max_s: PositiveFloat = 3600.0
    timeout_s: PositiveFloat = 10.0
    progress_interval_s: float = Field(default=1.0, ge=0)
    poll_s: PositiveFloat = 0.5
    concurrency: int = Field(default=16, ge=1, le=1024)


_GROUPS: dict[str, type[_Group]] = {
    "core": CoreSettings,
    "backends": BackendSettings,
    "redis": RedisSettings,
    "jobs": JobSettings,
    "milvus": MilvusSettings,
    "elasticsearch": ElasticsearchSettings,
    "gemini": GeminiSettings,
    "qc": QCSettings,
    "siglip": SiglipSettings,
    "ray": RaySettings,
    "catalog": CatalogSettings,
    "api": ApiSettings,
    "search": SearchSettings,
    "ops": OpsSettings,
    "schedule": ScheduleSettings,
    "webhooks": WebhookSettings,
    "image_store": ImageStoreSettings,
}


class Settings(BaseModel):
    """Every setting of the system, grouped. Build with :func:`load_settings`."""

    model_config = ConfigDict(frozen=True)

    core: CoreSettings = Field(default_factory=CoreSettings)
    backends: BackendSettings = Field(default_factory=BackendSettings)
    redis: RedisSettings = Field(default_factory=RedisSettings)
    jobs: JobSettings = Field(default_factory=JobSettings)
    milvus: MilvusSettings = Field(default_factory=MilvusSettings)
    elasticsearch: ElasticsearchSettings = Field(default_factory=ElasticsearchSettings)
    gemini: GeminiSettings = Field(default_factory=GeminiSettings)
    qc: QCSettings = Field(default_factory=QCSettings)
    siglip: SiglipSettings = Field(default_factory=SiglipSettings)
    ray: RaySettings = Field(default_factory=RaySettings)
    catalog: CatalogSettings = Field(default_factory=CatalogSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    search: SearchSettings = Field(default_factory=SearchSettings)
    ops: OpsSettings = Field(default_factory=OpsSettings)
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings)
    webhooks: WebhookSettings = Field(default_factory=WebhookSettings)
    image_store: ImageStoreSettings = Field(default_factory=ImageStoreSettings)

    @property
    def data_dir(self) -> Path:
        return self.core.data_dir

    @classmethod
    def defaults(cls) -> Settings:
        """Every setting at its default, reading nothing from the environment (tests build
        on this, so a variable in the caller's shell cannot change what they test)."""
        return cls.model_validate(
            {name: group.model_construct() for name, group in _GROUPS.items()}
        )

    def with_overrides(self, **groups: Mapping[str, Any]) -> Settings:
        """A copy with some fields of some groups replaced, validated like the environment.
        Every field is passed explicitly, so the environment fills in nothing."""
        updated: dict[str, Any] = {}
        for name, fields in groups.items():
            group_cls = _GROUPS[name]
            current = getattr(self, name).model_dump()
            try:
                updated[name] = group_cls.model_validate({**current, **fields})
            except ValidationError as exc:
                raise ConfigError(_describe(group_cls, exc)) from exc
        return self.model_copy(update=updated)

    def environment(self) -> dict[str, str]:
        """Every set value as the variable that sets it: the environment a child process
        (``catalog-sync worker``, a benchmark's workers) needs to share this configuration.
        """
        env: dict[str, str] = {}
        for name, group_cls in _GROUPS.items():
            group = getattr(self, name)
            for field in group_cls.model_fields:
                value = getattr(group, field)
                if value is not None:
                    env[group_cls.env_name(field)] = _env_value(value)
        return env


def _env_value(value: Any) -> str:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _describe(group_cls: type[_Group], exc: ValidationError) -> str:
    problems = []
    for err in exc.errors():
        field = str(err["loc"][0]) if err["loc"] else "?"
        value = err.get("input")
        info = group_cls.model_fields.get(field)
        secret = info is not None and "SecretStr" in str(info.annotation)
        shown = "<secret>" if secret else repr(value)
        problems.append(f"{group_cls.env_name(field)}: {err['msg']} (got {shown})")
    return "invalid settings: " + "; ".join(problems)


def environment_names() -> list[str]:
    """Every variable a setting is read from."""
    return [g.env_name(field) for g in _GROUPS.values() for field in g.model_fields]


def load_settings() -> Settings:
    """Read every group from the environment.

    Raises ConfigError naming each offending variable and the rule it broke, or a
    backend named explicitly without the URL or key it needs.
    """
    built: dict[str, _Group] = {}
    for name, group_cls in _GROUPS.items():
        try:
            built[name] = group_cls()
        except ValidationError as exc:
            raise ConfigError(_describe(group_cls, exc)) from exc
    settings = Settings.model_validate(built)
    from pipeline.backends import check_backends  # it builds on this module

    check_backends(settings)
    return settings
