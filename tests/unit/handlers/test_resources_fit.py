"""What a resources object shows when the API server will not take all of a package."""

from __future__ import annotations

from lanai.handlers import kube, resources
from lanai.trust import sizes
from tools import crdpaths


def test_the_largest_files_are_left_out_first_until_the_rest_fits() -> None:
    files = {"Kptfile": "k" * 10, "a.yaml": "a" * 600, "b.yaml": "b" * 500, "c.yaml": "c" * 50}
    shown = resources.fit(files, budget=600)
    assert shown.omitted == ("a.yaml",)
    assert set(shown.files) == {"Kptfile", "b.yaml", "c.yaml"}
    assert resources.fit(files, budget=10_000).omitted == ()
    assert resources.fit(files, budget=100).omitted == ("a.yaml", "b.yaml")


def test_sizes_count_bytes_not_characters() -> None:
    shown = resources.fit({"u.yaml": "é" * 60, "a.yaml": "a" * 100}, budget=110)
    assert shown.omitted == ("u.yaml",)  # 120 bytes, though 60 characters


def test_size_refusals_are_recognised_from_the_api_server_and_from_etcd() -> None:
    assert resources._refused_for_size(kube.ApiError(413, "RequestEntityTooLarge", "limit"))
    etcd = "rpc error: code = ResourceExhausted desc = trying to send message larger than max"
    assert resources._refused_for_size(kube.ApiError(500, "InternalError", etcd))
    assert resources._refused_for_size(kube.ApiError(500, "", "etcdserver: request is too large"))
    assert not resources._refused_for_size(kube.ApiError(422, "Invalid", "spec: frozen"))
    assert not resources._refused_for_size(kube.ApiError(409, "Conflict", "too large"))


def test_the_crds_own_size_refusal_is_recognised() -> None:
    """The CEL rule (tools/crdpaths.py) refuses with 422 and Lanai's message: show()
    must fall back to showing fewer files, not take it for a frozen object."""
    (rule,) = [r for r in crdpaths.rules() if "sum()" in r["rule"]]
    message = "spec.resources: Invalid value: " + rule["message"]
    assert resources._refused_for_size(kube.ApiError(422, "Invalid", message))
    assert resources.BUDGET < sizes.RESOURCES_CHARACTERS  # the fallback always passes it
