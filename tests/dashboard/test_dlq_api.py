"""The dead-letter and dashboard routes over real HTTP: admin key required (checked before
the body), input validated (422, never a 500), and replays and purges seen in the ledger."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from pipeline.records import JobState
from tests.dashboard.conftest import INDEX, QC, Dash, dead_letter, finished_sync

ROUTES = [
    ("GET", "/v1/dlq/" + "0" * 32, None),
    ("POST", "/v1/dlq/replay", {"seller_id": "s1"}),
    ("POST", "/v1/dlq/purge", {"seller_id": "s1"}),
    ("GET", "/v1/ops/sellers", None),
]


def call(dash: Dash, method: str, path: str, body: Any = None, key: str | None = "admin") -> Any:
    headers = (
        dash.admin() if key == "admin" else ({"Authorization": f"Bearer {key}"} if key else {})
    )
    with httpx.Client(base_url=dash.base_url, timeout=30) as client:
        return client.request(method, path, json=body, headers=headers)


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
def test_routes_need_an_admin_key(dash: Dash, method: str, path: str, body: Any) -> None:
    job = dead_letter(dash.ledger, "s1", 1)
    assert call(dash, method, path, body, key=None).status_code == 401
    assert call(dash, method, path, body, key="csk_not-a-key-at-all").status_code == 401
    seller_key = dash.deps.keys.create(seller_id="s1")
    answer = call(dash, method, path, body, key=seller_key)
    assert answer.status_code == 403, answer.text
    assert answer.json() == {"detail": "an admin key is required"}
    assert dash.ledger.dlq_get(job) is not None  # nothing was replayed or purged


def test_bad_input_without_a_key_is_401_not_422(dash: Dash) -> None:
    # The key is checked before the body: a stranger learns nothing about the schema.
    assert call(dash, "POST", "/v1/dlq/purge", {"type": "nope"}, key=None).status_code == 401


@pytest.mark.parametrize(
    "body",
    [
        {},  # nothing selected
        {"job_ids": []},
        {"type": "no-such-type"},
        {"seller_id": "bad seller!"},
        {"job_ids": ["not-a-job-id"]},
        {"job_ids": ["a" * 32], "seller_id": "s1"},  # ids and filters together
        {"all": True, "type": "quality-control"},
        {"all": False},
        {"seller_id": "s1", "dry": True},  # unknown field
        {"job_ids": ["a" * 32] * 1001},
        ["s1"],
    ],
)
@pytest.mark.parametrize("action", ["replay", "purge"])
def test_a_bad_selection_is_422(dash: Dash, action: str, body: Any) -> None:
    job = dead_letter(dash.ledger, "s1", 1)
    answer = call(dash, "POST", f"/v1/dlq/{action}", body)
    assert answer.status_code == 422, answer.text
    assert isinstance(answer.json()["detail"], list)
    assert dash.ledger.dlq_get(job) is not None


def test_an_empty_selection_names_the_rule(dash: Dash) -> None:
    answer = call(dash, "POST", "/v1/dlq/replay", {})
    assert "nothing selected" in answer.json()["detail"][0]["msg"]


def test_detail_has_payload_attempts_error_and_traceback_apart(dash: Dash) -> None:
    job_id = dead_letter(dash.ledger, "s1", 7)
    answer = call(dash, "GET", f"/v1/dlq/{job_id}")
    assert answer.status_code == 200
    job = answer.json()
    assert job["payload"]["product_id"] == "s1:p7"
    assert job["state"] == "dead" and job["attempt"] == 1
    assert job["last_error"]["type"] == "pipeline.errors.PermanentError"
    assert job["last_error"]["message"] == "price missing for s1:p7"  # one line, no trace
    assert "Traceback (most recent call last)" in job["last_error"]["traceback"]
    assert "_check_price" in job["last_error"]["traceback"]
    [attempt] = job["errors"]
    assert attempt["consumer"] == "w1" and attempt["error"]["message"] == "price missing for s1:p7"


def test_detail_of_a_job_that_is_not_dead_is_404(dash: Dash) -> None:
    job_id = dead_letter(dash.ledger, "s1", 1)
    assert dash.ledger.replay(job_id)  # waiting again
    answer = call(dash, "GET", f"/v1/dlq/{job_id}")
    assert answer.status_code == 404 and answer.json() == {"detail": f"no dead job {job_id}"}
    assert call(dash, "GET", "/v1/dlq/xyz").status_code == 422


def test_list_counts_every_match(dash: Dash) -> None:
    for n in range(3):
        dead_letter(dash.ledger, "s1", n)
    dead_letter(dash.ledger, "s1", 9, job_type=INDEX)
    dead_letter(dash.ledger, "s2", 1)
    page = call(dash, "GET", "/v1/dlq?seller_id=s1&limit=2").json()
    assert page["total"] == 4 and len(page["jobs"]) == 2
    assert call(dash, "GET", "/v1/dlq?seller_id=s1&type=quality-control").json()["total"] == 3
    assert call(dash, "GET", "/v1/dlq?type=index-product").json()["total"] == 1
    assert call(dash, "GET", "/v1/dlq").json()["total"] == 5


def test_replay_by_ids_skips_what_is_not_dead(dash: Dash) -> None:
    a, b = dead_letter(dash.ledger, "s1", 1), dead_letter(dash.ledger, "s1", 2)
    answer = call(dash, "POST", "/v1/dlq/replay", {"job_ids": [a, "f" * 32]})
    assert answer.status_code == 200 and answer.json() == {"replayed": 1}
    job = dash.ledger.get(a)
    assert job is not None and job.state is JobState.WAITING and job.replays == 1
    assert dash.ledger.dlq_get(b) is not None


def test_replay_by_type_and_purge_by_seller(dash: Dash) -> None:
    qc = [dead_letter(dash.ledger, "s1", n) for n in range(2)]
    index = dead_letter(dash.ledger, "s1", 5, job_type=INDEX)
    other = dead_letter(dash.ledger, "s2", 1)
    assert call(dash, "POST", "/v1/dlq/replay", {"type": "index-product"}).json() == {"replayed": 1}
    assert dash.ledger.dlq_get(index) is None and dash.ledger.dlq_get(qc[0]) is not None
    assert call(dash, "POST", "/v1/dlq/purge", {"seller_id": "s1"}).json() == {"purged": 2}
    assert all(dash.ledger.get(j) is None for j in qc)
    index_job = dash.ledger.get(index)
    assert index_job is not None and index_job.state is JobState.WAITING  # not dead: kept
    assert dash.ledger.dlq_get(other) is not None
    assert dash.ledger.check_invariants() == []


def test_purge_by_type_and_seller_takes_only_both(dash: Dash) -> None:
    keep = dead_letter(dash.ledger, "s1", 1, job_type=INDEX)
    gone = dead_letter(dash.ledger, "s1", 2, job_type=QC)
    also_keep = dead_letter(dash.ledger, "s2", 3, job_type=QC)
    body = {"type": "quality-control", "seller_id": "s1"}
    assert call(dash, "POST", "/v1/dlq/purge", body).json() == {"purged": 1}
    assert dash.ledger.get(gone) is None
    assert dash.ledger.dlq_get(keep) is not None and dash.ledger.dlq_get(also_keep) is not None
    assert call(dash, "POST", "/v1/dlq/purge", {"all": True}).json() == {"purged": 2}
    assert dash.ledger.dlq_count() == 0


def test_timeseries_lists_workers_with_their_heartbeat(dash: Dash) -> None:
    dead_letter(dash.ledger, "s1", 1, consumer="worker-a")
    data = call(dash, "GET", "/v1/ops/timeseries").json()
    [worker] = data["workers"]
    assert worker["name"] == "worker-a" and worker["type"] == "quality-control"
    assert 0 <= worker["age_s"] < 30 and worker["stale"] is False


def test_sellers_carry_the_latest_sync_outcome(dash: Dash) -> None:
    sync_id = finished_sync(dash.deps, "shop-1")
    dead_letter(dash.ledger, "shop-2", 1)  # a seller with no sync is not listed
    [row] = call(dash, "GET", "/v1/ops/sellers").json()["sellers"]
    assert row["seller_id"] == "shop-1" and row["sync_id"] == sync_id
    assert row["state"] == "completed"
    assert row["products"] == {"live": 2, "rejected": 1, "flagged": 1, "failed": 0,
                               "in_progress": 0}  # fmt: skip
    assert row["scrape"] == {"found": 4, "changed": 4, "removed": 0, "skipped": 3}
    assert row["skipped_reasons"] == {"no price": 2, "image answered 404": 1}
    assert [p["name"] for p in row["skipped_products"]] == ["Blue vase", "Red vase", "Lamp"]
    assert call(dash, "GET", "/v1/ops/sellers?limit=0").status_code == 422
