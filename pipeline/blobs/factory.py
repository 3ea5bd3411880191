"""Builds the image store ``IMAGE_STORE_BACKEND`` names: ``dir`` (the default) or ``s3``."""

from __future__ import annotations

from pipeline.blobs.base import BlobStore
from pipeline.errors import ConfigError
from pipeline.settings import ImageStoreBackend, Settings


def open_blob_store(settings: Settings) -> BlobStore:
    """The configured store. Raises ConfigError when ``s3`` lacks its URL or keys, and
    BackendUnavailable when the directory cannot be created."""
    cfg = settings.image_store
    if cfg.backend is ImageStoreBackend.DIR:
        from pipeline.blobs.directory import DirectoryBlobStore

        return DirectoryBlobStore(cfg.dir or settings.data_dir / "images")
    from pipeline.blobs.s3 import S3BlobStore

    if cfg.url is None or cfg.access_key is None or cfg.secret_key is None:
        raise ConfigError(
            "IMAGE_STORE_BACKEND=s3 needs IMAGE_STORE_URL, IMAGE_STORE_ACCESS_KEY and "
            "IMAGE_STORE_SECRET_KEY"
        )
    return S3BlobStore(
        str(cfg.url),
        access_key=cfg.access_key.get_secret_value(),
        secret_key=cfg.secret_key.get_secret_value(),
        region=cfg.region,
        prefix=cfg.prefix,
        timeout=cfg.timeout,
        max_bytes=settings.catalog.max_image_bytes,
    )
