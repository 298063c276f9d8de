"""Shared helpers of the Python tests: the repository root and the committed R references."""

import json
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "tests" / "reference"


def reference_files(kind):
    """The committed lme4 reference JSON files of one kind (lmm, glmm, predict, ...)."""
    return sorted((REFERENCE / kind).glob("*.json"))


def load_reference(path):
    with open(path) as f:
        return json.load(f)


def mean_rel_diff(ours, reference):
    """R's all.equal mean relative difference (as xtask's `mean_rel_diff`)."""
    if len(ours) != len(reference):
        return float("inf")
    num = sum(abs(a - b) for a, b in zip(ours, reference))
    den = sum(abs(b) for b in reference)
    return num if den == 0 else num / den


def max_rel(ours, reference, floor):
    """Largest relative difference with a floor on the denominator (as the GLMM tests)."""
    assert len(ours) == len(reference)
    return max((abs(a - b) / max(abs(b), floor) for a, b in zip(ours, reference)), default=0.0)


@pytest.fixture(scope="session")
def sleepstudy():
    import multilevel as ml

    return ml.load_dataset("sleepstudy")
