"""Config injection: Porch's findInjectionPoints, validateInjectionPoints,
setInjectionPointConditionsAndGates and ensureConfigInjection cases, with the reads the
handler makes given as data."""

from __future__ import annotations

from typing import Any

import pytest

from lanai.kpt import yamlio
from lanai.variants import injection, spec
from lanai.variants.injection import ObjectRef, Read

KPTFILE = """apiVersion: kpt.dev/v1
kind: Kptfile
metadata:
  name: prr
info:
  description: Example
"""
CONFIGMAP_POINT = """apiVersion: v1
kind: ConfigMap
metadata:
  name: regional-endpoints
  annotations:
    kpt.dev/config-injection: required
data:
  db: example
"""
TEAM_POINT = """apiVersion: hr.example.com/v1alpha1
kind: Team
metadata:
  name: team
  annotations:
    kpt.dev/config-injection: {value}
spec:
  chargeCode: example
"""
OPTIONAL_CONFIGMAP = CONFIGMAP_POINT.replace("regional-endpoints", "my-cm").replace(
    "required", "optional"
)


def plain(text: str) -> list[Any]:
    return [yamlio.to_plain(d) for d in yamlio.load_documents(text)]


def test_points_are_found_in_every_resource_file() -> None:
    files = {
        "Kptfile": KPTFILE,
        "cm.yaml": CONFIGMAP_POINT,
        "sub/more.yaml": OPTIONAL_CONFIGMAP + "---\n" + TEAM_POINT.format(value="required"),
        "README.md": CONFIGMAP_POINT,  # not a resource file
        "plain.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n",
    }
    points = injection.find_points(files)
    assert [(p.path, p.index, p.kind, p.name, p.required) for p in points] == [
        ("cm.yaml", 0, "ConfigMap", "regional-endpoints", True),
        ("sub/more.yaml", 0, "ConfigMap", "my-cm", False),
        ("sub/more.yaml", 1, "Team", "team", True),
    ]
    assert points[2].condition_type == "config.injection.Team.team"


def test_invalid_annotation_values_and_duplicates_are_errors() -> None:
    files = {
        "a.yaml": TEAM_POINT.format(value="sometimes"),
        "b.yaml": CONFIGMAP_POINT,
        "c.yaml": CONFIGMAP_POINT,
    }
    with pytest.raises(injection.MutationError) as caught:
        injection.find_points(files)
    message = str(caught.value)
    assert 'a.yaml: Team/team has invalid "kpt.dev/config-injection" annotation value' in message
    assert 'of "sometimes"' in message
    assert (
        'duplicate injection conditionType "config.injection.ConfigMap.regional-endpoints" '
        "(b.yaml and c.yaml)" in message
    )


def test_injectors_match_on_the_fields_they_give() -> None:
    point = injection.find_points({"t.yaml": TEAM_POINT.format(value="required")})[0]
    assert injection.matches(point, spec.Injector("x"))
    assert injection.matches(point, spec.Injector("x", "hr.example.com", "v1alpha1", "Team"))
    assert not injection.matches(point, spec.Injector("x", group="other.com"))
    assert not injection.matches(point, spec.Injector("x", version="v1"))
    assert not injection.matches(point, spec.Injector("x", kind="ConfigMap"))


EAST = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {"name": "us-east1-endpoints"},
    "data": {"db": "db.us-east1.example.com"},
}
BETA = {
    "apiVersion": "hr.example.com/v1alpha1",
    "kind": "Team",
    "metadata": {"name": "dev-team-beta"},
    "spec": {"chargeCode": "cd"},
}


def run(files: dict[str, str], injectors: list[spec.Injector], found: list[Any]) -> dict[str, str]:
    points = injection.find_points(files)
    reads = {
        ref: Read(
            found=next(
                (f for f in found if (f["kind"], f["metadata"]["name"]) == (ref.kind, ref.name)),
                None,
            )
        )
        for ref in injection.wanted(points, injectors)
    }
    return injection.inject(files, points, injectors, reads)


def kptfile(files: dict[str, str]) -> Any:
    return plain(files["Kptfile"])[0]


def test_no_points_change_nothing() -> None:
    files = {"Kptfile": KPTFILE}
    assert run(files, [], []) == files


def test_a_configmap_point_gets_the_data_and_a_gate() -> None:
    files = {"Kptfile": KPTFILE, "configmap.yaml": CONFIGMAP_POINT}
    result = run(files, [spec.Injector("us-east1-endpoints")], [EAST])
    injected = plain(result["configmap.yaml"])[0]
    assert injected["data"] == {"db": "db.us-east1.example.com"}
    assert injected["metadata"]["annotations"]["kpt.dev/injected-resource"] == "us-east1-endpoints"
    assert injected["metadata"]["name"] == "regional-endpoints"  # the package's name stays
    document = kptfile(result)
    assert document["info"]["readinessGates"] == [
        {"conditionType": "config.injection.ConfigMap.regional-endpoints"}
    ]
    assert document["status"]["conditions"] == [
        {
            "type": "config.injection.ConfigMap.regional-endpoints",
            "status": "True",
            "reason": "ConfigInjected",
            "message": 'injected resource "us-east1-endpoints" from cluster',
        }
    ]
    assert run(result, [spec.Injector("us-east1-endpoints")], [EAST]) == result


def test_other_kinds_get_the_spec() -> None:
    files = {"Kptfile": KPTFILE, "team.yaml": TEAM_POINT.format(value="required")}
    injectors = [spec.Injector("dev-team-beta", group="hr.example.com", kind="Team")]
    result = run(files, injectors, [BETA])
    assert plain(result["team.yaml"])[0]["spec"] == {"chargeCode": "cd"}


def test_mixed_points_first_matching_injector_wins_and_only_required_gate() -> None:
    files = {
        "Kptfile": KPTFILE,
        "more.yaml": OPTIONAL_CONFIGMAP + "---\n" + TEAM_POINT.format(value="required"),
    }
    east2 = {
        **EAST,
        "metadata": {"name": "us-east2-endpoints"},
        "data": {"db": "db.us-east2.example.com"},
    }
    injectors = [
        spec.Injector("missing"),
        spec.Injector("us-east2-endpoints"),
        spec.Injector("dev-team-beta", group="hr.example.com", kind="Team"),
    ]
    result = run(files, injectors, [east2, BETA])
    cm, team = plain(result["more.yaml"])
    assert cm["data"] == {"db": "db.us-east2.example.com"}
    assert team["spec"] == {"chargeCode": "cd"}
    document = kptfile(result)
    assert document["info"]["readinessGates"] == [{"conditionType": "config.injection.Team.team"}]
    assert [c["type"] for c in document["status"]["conditions"]] == [
        "config.injection.ConfigMap.my-cm",
        "config.injection.Team.team",
    ]


def test_points_left_unfilled_say_why() -> None:
    files = {"Kptfile": KPTFILE, "configmap.yaml": CONFIGMAP_POINT}
    none = kptfile(run(files, [], []))["status"]["conditions"][0]
    assert (none["status"], none["reason"], none["message"]) == (
        "False",
        "NoResourceSelected",
        "no injectors defined",
    )
    unmatched = kptfile(run(files, [spec.Injector("absent")], []))["status"]["conditions"][0]
    assert unmatched["message"] == (
        "no resource matched any injection selector for this injection point"
    )
    points = injection.find_points(files)
    refused = {ObjectRef("v1", "ConfigMap", "secret-ish"): Read(problem="user x may not get")}
    result = injection.inject(files, points, [spec.Injector("secret-ish")], refused)
    assert kptfile(result)["status"]["conditions"][0]["message"] == "user x may not get"
    assert result["configmap.yaml"] == CONFIGMAP_POINT  # nothing injected


def test_a_source_without_the_field_is_reported() -> None:
    files = {"Kptfile": KPTFILE, "team.yaml": TEAM_POINT.format(value="optional")}
    nospec = {**BETA}
    del nospec["spec"]
    result = run(files, [spec.Injector("dev-team-beta")], [nospec])
    condition = kptfile(result)["status"]["conditions"][0]
    assert condition["message"] == 'field "spec" not found in resource "dev-team-beta"'
    assert "info" not in kptfile(result) or "readinessGates" not in kptfile(result)["info"]


def test_the_objects_to_read_are_listed_once_in_injector_order() -> None:
    files = {"a.yaml": CONFIGMAP_POINT, "b.yaml": OPTIONAL_CONFIGMAP}
    points = injection.find_points(files)
    wanted = injection.wanted(points, [spec.Injector("x"), spec.Injector("y", kind="Team")])
    assert wanted == [ObjectRef("v1", "ConfigMap", "x")]
    assert (wanted[0].group, wanted[0].version) == ("", "v1")
