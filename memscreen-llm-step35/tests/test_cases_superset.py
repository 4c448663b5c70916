"""The in-repo golden cases hold every case of an upstream `shared/step35/cases.json`.

The cases were copied into tests/data/ so a plain checkout runs them. When a
`shared/step35/cases.json` sits in a parent folder of the repository (the layout the
cases came from), each of its cases must be in the in-repo copy, by id and with the same
content; the copy may hold more. Without such a file there is nothing to compare with,
and the check skips, saying so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_parsers_golden import IN_REPO_CASES, load_cases

UPSTREAM_RELATIVE = Path("shared") / "step35" / "cases.json"
# tests -> memscreen-llm-step35 -> the repository; look beside and above the checkout.
REPO = Path(__file__).resolve().parents[2]


def upstream_cases_file() -> Path | None:
    for parent in REPO.parents:
        if (parent / UPSTREAM_RELATIVE).is_file():
            return parent / UPSTREAM_RELATIVE
    return None


def test_in_repo_cases_hold_every_upstream_case() -> None:
    upstream = upstream_cases_file()
    if upstream is None:
        pytest.skip(f"no {UPSTREAM_RELATIVE} in any parent folder of {REPO}: "
                    "nothing to compare the in-repo cases with")
    ours: dict[str, dict[str, Any]] = {case["id"]: case for case in load_cases(IN_REPO_CASES)}
    theirs = load_cases(upstream)
    assert theirs, f"{upstream} holds no cases"
    missing = [case["id"] for case in theirs if case["id"] not in ours]
    assert not missing, f"cases of {upstream} missing from {IN_REPO_CASES}: {missing}"
    changed = [case["id"] for case in theirs if ours[case["id"]] != case]
    assert not changed, f"cases that differ between {upstream} and {IN_REPO_CASES}: {changed}"


def test_in_repo_case_ids_are_unique() -> None:
    ids = [case["id"] for case in load_cases(IN_REPO_CASES)]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
