"""The in-repo golden cases hold every case of the upstream they were copied from.

When the cases were copied into tests/data/cases.json, each upstream case's id and the
sha256 of its canonical JSON were recorded in tests/data/upstream_cases.sha256.json. The
in-repo copy must keep every one of them unchanged (it may hold more). Nothing outside
the repository is read: the record stands for the upstream file.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from test_parsers_golden import IN_REPO_CASES, load_cases

RECORD = Path(__file__).parent / "data" / "upstream_cases.sha256.json"


def case_digest(case: dict[str, Any]) -> str:
    canonical = json.dumps(case, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def test_in_repo_cases_hold_every_upstream_case() -> None:
    recorded: dict[str, str] = json.loads(RECORD.read_text(encoding="utf-8"))["cases"]
    assert recorded, f"{RECORD} records no cases"
    ours = {case["id"]: case_digest(case) for case in load_cases(IN_REPO_CASES)}
    missing = sorted(set(recorded) - set(ours))
    assert not missing, f"upstream cases missing from {IN_REPO_CASES}: {missing}"
    changed = sorted(case_id for case_id, digest in recorded.items() if ours[case_id] != digest)
    assert not changed, f"upstream cases changed in {IN_REPO_CASES}: {changed}"


def test_in_repo_case_ids_are_unique() -> None:
    ids = [case["id"] for case in load_cases(IN_REPO_CASES)]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
