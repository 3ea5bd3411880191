"""Milvus standalone (the real server) from the ``milvus`` wheel, one per data directory.

``pip install "milvus==2.3.5"`` ships the Milvus 2.3 standalone binary (embedded etcd,
rocksmq for the WAL, local disk for segments) as lzma files plus a ``milvus-server``
wrapper. The wrapper is not used here: it unpacks 250 MB of binaries into every data
directory, listens for etcd on the fixed ports 2379/2380 (two servers collide), and
stopping it leaves its ``milvus run standalone`` child running. Instead:

* the binaries are unpacked once per version into a cache directory
  (``$XDG_CACHE_HOME/catalog-sync/milvus-<version>``, under a file lock);
* each server gets its own ``configs/milvus.yaml`` and ``configs/etcd.yaml`` in its data
  directory: every port free and chosen at start, etcd on 127.0.0.1, each component
  advertising 127.0.0.1 to the others;
* the binary runs as the leader of its own process group, which :class:`LocalService`
  signals as a whole (as every embedded service).

Milvus 2.3's gRPC servers (the proxy and the internal coordinators and nodes) listen on
every interface whatever the configuration says (``":" + port`` in its code; ``ip`` only
sets the address it advertises). Bind a firewall or run it in a network namespace where
that matters; etcd, the part that holds the metadata, listens on loopback only.
"""

from __future__ import annotations

import json
import os
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from pipeline.errors import ConfigError
from pipeline.local.milvus import grpc_answers
from pipeline.local.services import LocalService, file_lock, free_port, port_free

# Keys of the wheel's config template that name a port (etcd's is etcd's client port).
PORT_KEYS = (
    "etcd_port",
    "root_coord_port",
    "proxy_internal_port",
    "query_coord_port",
    "query_node_port",
    "index_coord_port",
    "index_node_port",
    "data_coord_port",
    "data_node_port",
)
COMPONENTS = ("rootCoord", "proxy", "queryCoord", "queryNode", "indexNode", "dataCoord", "dataNode")
LOOPBACK = "127.0.0.1"


def milvus_package() -> Any:
    """The ``milvus`` module; ConfigError with the install command when it is missing."""
    try:
        import milvus
    except ImportError as exc:
        raise ConfigError(
            'Milvus standalone needs the milvus wheel: pip install "milvus==2.3.5"'
        ) from exc
    return milvus


def standalone_binary(cache_dir: Path | None = None) -> Path:
    """The ``milvus`` binary, unpacked from the wheel once per version (a few seconds).

    Raises ConfigError when the wheel is not installed.
    """
    package = milvus_package()
    if cache_dir is None:
        cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        cache_dir = cache / "catalog-sync" / f"milvus-{package.__version__}"
    binary = cache_dir / "bin" / "milvus"
    with file_lock(cache_dir / "unpack.lock"):
        # The wheel's own unpacker: it skips files whose lzma checksum is unchanged.
        package._initialize_data_files(str(cache_dir))
    return binary


def _ports_file(workdir: Path) -> Path:
    return workdir / "configs" / "ports.json"


def last_ports(workdir: Path) -> dict[str, int]:
    """The ports this data directory's server used last time ({} if never started)."""
    try:
        return {k: int(v) for k, v in json.loads(_ports_file(workdir).read_text()).items()}
    except (OSError, ValueError, AttributeError):
        return {}


def write_config(workdir: Path, proxy_port: int) -> dict[str, int]:
    """Write ``workdir/configs/{milvus,etcd}.yaml`` for a loopback server; returns the
    ports chosen (proxy, metrics, etcd client and peer, the components').

    A restart takes the ports of the last run where they are free: its components find
    each other through sessions in etcd, which name their addresses, and sessions of a
    killed server live on for their TTL (a restart on new ports waited ~50 s for them).
    """
    package = milvus_package()
    before = last_ports(workdir)
    ports = {
        key: before[key] if key in before and port_free(before[key]) else free_port()
        for key in (*PORT_KEYS, "etcd_peer", "metrics")
    }
    template = package.MilvusServerConfig(data_dir=str(workdir))
    for key in PORT_KEYS:
        template.set(key, ports[key])
    template.set("proxy_port", proxy_port)
    # The wheel's resolve() would test-bind each port without SO_REUSEADDR (failing on a
    # restart while the last run's connections are in TIME_WAIT): fill the rest by hand.
    template.resolve_storage()
    template.write_config()
    config_path = workdir / "configs" / "milvus.yaml"
    config = yaml.safe_load(config_path.read_text())
    etcd_client, etcd_peer = ports["etcd_port"], ports["etcd_peer"]
    etcd_path = workdir / "configs" / "etcd.yaml"
    etcd = {
        "name": "milvus-standalone",
        "data-dir": config["etcd"]["data"]["dir"],
        "listen-client-urls": f"http://{LOOPBACK}:{etcd_client}",
        "advertise-client-urls": f"http://{LOOPBACK}:{etcd_client}",
        "listen-peer-urls": f"http://{LOOPBACK}:{etcd_peer}",
        "initial-advertise-peer-urls": f"http://{LOOPBACK}:{etcd_peer}",
        "initial-cluster": f"milvus-standalone=http://{LOOPBACK}:{etcd_peer}",
    }
    etcd_path.write_text(yaml.safe_dump(etcd))
    config["etcd"]["endpoints"] = f"{LOOPBACK}:{etcd_client}"
    config["etcd"]["config"] = {"path": str(etcd_path)}
    for component in COMPONENTS:
        config[component]["ip"] = LOOPBACK
    config["log"]["level"] = "warn"
    # A SIGTERM'd server waits this long for its tasks (default 30 min), then aborts.
    # Its query node waits out the whole time to hand segments to other nodes, which a
    # standalone server has none of; what was acknowledged is in the WAL either way.
    config["common"]["gracefulStopTimeout"] = 3
    # A restarted server waits until the sessions of the last run expire (their node ids
    # are not its own): 30 s by default, 10 s here (keep-alives go every ttl/3).
    config["common"]["session"]["ttl"] = 10
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    ports["proxy"] = proxy_port
    _ports_file(workdir).write_text(json.dumps(ports))
    return ports


def healthy(metrics_port: int | None) -> bool:
    """True when the server's /healthz says every component is up (its gRPC port opens
    earlier); True when the port is unknown (a server another process started)."""
    if metrics_port is None:
        return True
    try:
        with urllib.request.urlopen(f"http://{LOOPBACK}:{metrics_port}/healthz", timeout=2) as r:
            return b"OK" in r.read(64)
    except OSError:
        return False


def local_milvus_standalone(data_dir: Path, cache_dir: Path | None = None) -> LocalService:
    """A shared Milvus standalone server for this data directory (not started until
    ``ensure()``). Its files live in ``DATA_DIR/milvus-standalone``.

    ``ensure()`` raises ConfigError when the ``milvus`` wheel is missing and
    BackendUnavailable when the server does not start (its log tail is in the message).
    """
    binary = standalone_binary(cache_dir)
    metrics: dict[int, int] = {}

    def command(port: int, workdir: Path) -> list[str]:
        metrics[port] = write_config(workdir, port)["metrics"]
        return [str(binary), "run", "standalone"]

    def environment(port: int, workdir: Path) -> dict[str, str]:
        library_path = os.pathsep.join(
            p for p in (str(binary.parent), os.environ.get("LD_LIBRARY_PATH", "")) if p
        )
        return {
            "DEPLOY_MODE": "STANDALONE",
            "MILVUSCONF": str(workdir / "configs") + os.sep,
            "METRICS_PORT": str(metrics[port]),  # its HTTP health and metrics endpoint
            "MILVUS_RUN_DIR": str(workdir / "run"),
            "LD_LIBRARY_PATH": library_path,
        }

    return LocalService(
        name="milvus-standalone",
        data_dir=data_dir,
        command=command,
        environment=environment,
        last_port=lambda workdir: last_ports(workdir).get("proxy"),
        probe=lambda port: grpc_answers(port) and healthy(metrics.get(port)),
        start_timeout=120.0,  # seconds here; a loaded machine and a long WAL replay take more
        stop_timeout=15.0,  # it gives up its graceful stop after 3 s (gracefulStopTimeout)
    )
