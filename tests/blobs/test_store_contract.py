"""One contract for every blob store: the directory store and S3 (against a loopback
server speaking S3's wire format and checking SigV4 as S3 does)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import pytest

from pipeline.blobs import BlobNotFound, BlobStore, open_blob_store
from pipeline.blobs.directory import DirectoryBlobStore
from pipeline.blobs.s3 import S3BlobStore
from pipeline.blobs.sigv4 import EMPTY_SHA256, sign
from pipeline.errors import BackendUnavailable, ConfigError
from pipeline.settings import Settings
from tests.blobs.fake_s3 import ACCESS_KEY, REGION, SECRET_KEY, FakeS3


@pytest.fixture(scope="module")
def s3() -> Iterator[FakeS3]:
    server = FakeS3().start()
    yield server
    server.stop()


@pytest.fixture(params=["dir", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BlobStore]:
    built: BlobStore
    if request.param == "dir":
        built = DirectoryBlobStore(tmp_path / "images")
    else:
        fake: FakeS3 = request.getfixturevalue("s3")
        built = S3BlobStore(
            fake.url, access_key=ACCESS_KEY, secret_key=SECRET_KEY, region=REGION,
            prefix=f"t/{tmp_path.name}/",
        )  # fmt: skip
    yield built
    built.close()


def test_put_returns_the_sha256_and_get_returns_the_bytes(store: BlobStore) -> None:
    data = b"\x89PNG pretend image " * 100
    digest = store.put(data)
    assert digest == hashlib.sha256(data).hexdigest()
    assert store.has(digest) and store.get(digest) == data
    assert store.put(data) == digest  # idempotent
    assert store.put(b"") == EMPTY_SHA256 and store.get(EMPTY_SHA256) == b""


def test_missing_and_malformed_digests(store: BlobStore) -> None:
    absent = hashlib.sha256(b"never stored").hexdigest()
    assert not store.has(absent)
    with pytest.raises(BlobNotFound):
        store.get(absent)
    for bad in ("../../etc/passwd", absent.upper(), absent[:63], absent + "0", ""):
        with pytest.raises(ValueError, match="64 lower-case hex"):
            store.get(bad)


def test_concurrent_puts_of_the_same_bytes(store: BlobStore) -> None:
    data = bytes(range(256)) * 512
    with ThreadPoolExecutor(8) as pool:
        digests = set(pool.map(lambda _: store.put(data), range(16)))
    assert len(digests) == 1 and store.get(digests.pop()) == data


def test_a_tampered_blob_is_not_returned(tmp_path: Path, s3: FakeS3) -> None:
    local = DirectoryBlobStore(tmp_path / "images")
    digest = local.put(b"the checked bytes")
    local.path(digest).write_bytes(b"swapped bytes")
    with pytest.raises(BlobNotFound, match="corrupt"):
        local.get(digest)
    remote = S3BlobStore(s3.url, access_key=ACCESS_KEY, secret_key=SECRET_KEY, region=REGION)
    digest = remote.put(b"the checked bytes, remote")
    s3.objects[remote.key(digest)] = b"swapped"
    with pytest.raises(BlobNotFound, match="corrupt"):
        remote.get(digest)
    remote.close()


def test_directory_layout_and_no_stray_files(tmp_path: Path) -> None:
    root = tmp_path / "images"
    (root / "tmp").mkdir(parents=True)
    (root / "tmp" / "left-by-a-crash").write_bytes(b"half")
    store = DirectoryBlobStore(root)
    assert not list((root / "tmp").iterdir())
    digest = store.put(b"abc")
    assert store.path(digest) == root / digest[:2] / digest[2:4] / digest
    assert store.path(digest).read_bytes() == b"abc"
    assert not list((root / "tmp").iterdir())


def test_s3_put_skips_what_is_there_and_signs_every_request(s3: FakeS3) -> None:
    store = S3BlobStore(s3.url, access_key=ACCESS_KEY, secret_key=SECRET_KEY, region=REGION)
    puts = s3.requests("PUT")
    digest = store.put(b"once")
    store.put(b"once")
    assert s3.requests("PUT") == puts + 1
    assert s3.objects[f"images/{digest[:2]}/{digest}"] == b"once"
    wrong = S3BlobStore(s3.url, access_key=ACCESS_KEY, secret_key="not-the-secret", region=REGION)
    with pytest.raises(BackendUnavailable, match="403.*SignatureDoesNotMatch"):
        wrong.get(digest)
    with pytest.raises(BackendUnavailable, match="HEAD .*: HTTP 403"):
        wrong.put(b"refused")  # the HEAD before the PUT is refused already
    store.close()
    wrong.close()


def test_s3_unreachable_is_backend_unavailable() -> None:
    from pipeline.local.services import free_port

    store = S3BlobStore(
        f"http://127.0.0.1:{free_port()}/b", access_key="a", secret_key="b", timeout=2
    )
    with pytest.raises(BackendUnavailable, match="unreachable"):
        store.put(b"x")
    store.close()


def test_sigv4_matches_amazons_worked_example() -> None:
    # "GET Object" in Amazon S3's "Signature Calculations for the Authorization Header".
    headers = {
        "Host": "examplebucket.s3.amazonaws.com",
        "Range": "bytes=0-9",
        "x-amz-content-sha256": EMPTY_SHA256,
        "x-amz-date": "20130524T000000Z",
    }
    auth = sign(
        method="GET",
        path="/test.txt",
        query="",
        headers=headers,
        payload_sha256=EMPTY_SHA256,
        access_key="AKIAIOSFODNN7EXAMPLE",
        secret_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        region="us-east-1",
        when=datetime(2013, 5, 24),
    )
    assert auth == (
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    )


def test_the_setting_chooses_the_store(tmp_path: Path, s3: FakeS3) -> None:
    base = Settings.defaults().with_overrides(core={"data_dir": tmp_path})
    local = open_blob_store(base)
    assert isinstance(local, DirectoryBlobStore) and local.root == tmp_path / "images"
    with pytest.raises(ConfigError, match="IMAGE_STORE_URL"):
        open_blob_store(base.with_overrides(image_store={"backend": "s3"}))
    with pytest.raises(ConfigError, match="IMAGE_STORE_BACKEND"):
        base.with_overrides(image_store={"backend": "ftp"})
    remote = open_blob_store(
        base.with_overrides(
            image_store={
                "backend": "s3", "url": s3.url, "region": REGION,
                "access_key": ACCESS_KEY, "secret_key": SECRET_KEY,
            }
        )
    )  # fmt: skip
    assert isinstance(remote, S3BlobStore) and remote.get(remote.put(b"via settings")) == (
        b"via settings"
    )
    remote.close()
