"""Product images stored once, by content: a directory under ``DATA_DIR`` or S3."""

from pipeline.blobs.base import BlobNotFound, BlobStore, sha256_hex
from pipeline.blobs.factory import open_blob_store

__all__ = ["BlobNotFound", "BlobStore", "open_blob_store", "sha256_hex"]
