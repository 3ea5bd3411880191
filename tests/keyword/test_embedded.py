"""The embedded tantivy index: one writer per directory, readers that follow it, data that
survives a restart, and the factory's default."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from pipeline.errors import BackendUnavailable, PermanentError
from pipeline.keyword.factory import embedded_index_path, open_keyword_index
from pipeline.keyword.tantivy_index import TantivyKeywordIndex
from pipeline.settings import Settings
from tests.keyword.test_contract import doc

HEAP = 15_000_000


def test_second_writer_is_refused_until_the_first_closes(tmp_path: Path) -> None:
    writer = TantivyKeywordIndex(tmp_path / "kw", heap_bytes=HEAP)
    with pytest.raises(BackendUnavailable, match="already has a writer"):
        TantivyKeywordIndex(tmp_path / "kw", heap_bytes=HEAP)
    writer.close()
    TantivyKeywordIndex(tmp_path / "kw", heap_bytes=HEAP).close()


def test_reader_follows_the_writer(tmp_path: Path) -> None:
    writer = TantivyKeywordIndex(tmp_path / "kw", heap_bytes=HEAP)
    reader = TantivyKeywordIndex(tmp_path / "kw", writable=False)
    writer.upsert([doc("p1", "brass lamp")])
    reader.refresh()
    assert [h.product_id for h in reader.search("lamp")] == ["p1"]
    writer.upsert([doc("p2", "paper lamp")])
    # Without refresh the reader catches up on its own shortly after the commit.
    deadline = time.monotonic() + 10
    while len(reader.search("lamp")) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(reader.search("lamp")) == 2
    with pytest.raises(PermanentError, match="read-only"):
        reader.upsert([doc("p3", "x")])
    writer.close()
    reader.close()


def test_reader_may_start_before_the_writer(tmp_path: Path) -> None:
    reader = TantivyKeywordIndex(tmp_path / "fresh", writable=False)
    assert reader.count() == 0 and reader.search("lamp") == []
    writer = TantivyKeywordIndex(tmp_path / "fresh", heap_bytes=HEAP)
    writer.upsert([doc("p1", "brass lamp")])
    reader.refresh()
    assert [h.product_id for h in reader.search("lamp")] == ["p1"]
    writer.close()
    reader.close()


def test_unusable_directory_is_backend_unavailable(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(BackendUnavailable, match="cannot open keyword index"):
        TantivyKeywordIndex(tmp_path / "file", writable=False)


def test_data_survives_reopen(tmp_path: Path) -> None:
    writer = TantivyKeywordIndex(tmp_path / "kw", heap_bytes=HEAP)
    writer.upsert([doc("p1", "copper kettle")])
    writer.close()
    again = TantivyKeywordIndex(tmp_path / "kw", heap_bytes=HEAP)
    assert again.count() == 1
    assert [h.product_id for h in again.search("kettle")] == ["p1"]
    again.close()


def test_factory_defaults_to_embedded_under_data_dir(settings: Settings) -> None:
    index = open_keyword_index(settings)
    assert isinstance(index, TantivyKeywordIndex)
    index.upsert([doc("p1", "linen shirt")])
    reader = open_keyword_index(settings, writable=False)
    assert reader.count() == 1
    assert embedded_index_path(settings).is_dir()
    index.close()
    reader.close()
