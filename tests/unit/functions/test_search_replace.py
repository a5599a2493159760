"""search-replace behaves as the catalog's: matching by value, regex, path and file,
what put-value and put-comment write, and the results it reports."""

from __future__ import annotations

import pytest

from lanai.functions.builtin import search_replace
from tests.unit.functions import fncase

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: nginx-deployment
  annotations:
    internal.config.kubernetes.io/path: resources.yaml
spec:
  replicas: 3
  foo: 3
  list:
  - a
  - b
---
apiVersion: apps/v1
kind: Service
metadata:
  name: nginx-service
  annotations:
    internal.config.kubernetes.io/path: svc.yaml
"""


def config(**data: str) -> str:
    quoted = {k: "'" + v.replace("'", "''") + "'" for k, v in data.items()}
    lines = "".join(f"  {k}: {v}\n" for k, v in quoted.items())
    return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: sr}\ndata:\n" + lines


def mutated(value: str, path: str, file: str = "resources.yaml") -> dict[str, object]:
    return {
        "message": f'Mutated field value to "{value}"',
        "field": {"path": path},
        "file": {"path": file},
    }


def matched(value: str, path: str, file: str = "resources.yaml") -> dict[str, object]:
    return {
        "message": f'Matched field value "{value}"',
        "field": {"path": path},
        "file": {"path": file},
    }


@pytest.mark.parametrize(
    ("data", "results"),
    [
        ({"by-value": "3"}, [matched("3", "spec.replicas"), matched("3", "spec.foo")]),
        ({"by-path": "spec.replicas"}, [matched("3", "spec.replicas")]),
        ({"by-path": "spec.list[1]"}, [matched("b", "spec.list[1]")]),
        ({"by-path": "spec.list[*]"}, [matched("a", "spec.list[0]"), matched("b", "spec.list[1]")]),
        ({"by-path": "**.name"}, [matched("nginx-deployment", "metadata.name"),
                                  matched("nginx-service", "metadata.name", "svc.yaml")]),
        # A regex is found anywhere in the value, not matched against all of it.
        ({"by-value-regex": "nginx"}, [matched("nginx-deployment", "metadata.name"),
                                       matched("nginx-service", "metadata.name", "svc.yaml")]),
        ({"by-value": "3", "by-file-path": "svc.yaml"}, [{"message": "no matches"}]),
        ({"put-value": "foo"}, [{"message": "no matches"}]),
    ],
)  # fmt: skip
def test_search_reports_each_match(data: dict[str, str], results: list[object]) -> None:
    outcome = fncase.run(search_replace.run, DEPLOYMENT, config(**data))
    assert outcome.error is None
    assert outcome.results == results


def test_replace_by_value_keeps_the_type_yaml_reads() -> None:
    outcome = fncase.run(
        search_replace.run, DEPLOYMENT, config(**{"by-value": "3", "put-value": "4"})
    )
    assert "  replicas: 4\n  foo: 4\n" in outcome.items
    assert outcome.results == [mutated("4", "spec.replicas"), mutated("4", "spec.foo")]


def test_a_replaced_quoted_value_stays_quoted() -> None:
    outcome = fncase.run(
        search_replace.run,
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: m\n"
        "  annotations: {internal.config.kubernetes.io/path: m.yaml}\ndata:\n  a: '3'\n",
        config(**{"by-path": "data.a", "by-value": "3", "put-value": "4"}),
    )
    assert "  a: '4'\n" in outcome.items
    assert outcome.results == [mutated("'4'", "data.a", "m.yaml")]


def test_regex_capture_groups_fill_put_value() -> None:
    outcome = fncase.run(
        search_replace.run,
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: foo1-dev-bar1-us-east-1-baz1\n",
        config(**{
            "by-value-regex": r"(\w+)-dev-(\w+)-us-east-1-(\w+)",
            "put-value": "${1}-prod-${2}-us-central-1-${3}",
        }),
    )  # fmt: skip
    assert "  name: foo1-prod-bar1-us-central-1-baz1\n" in outcome.items


def test_put_value_by_plain_path_creates_the_field_everywhere() -> None:
    outcome = fncase.run(
        search_replace.run,
        DEPLOYMENT,
        config(**{"by-path": "metadata.namespace", "put-value": "my"}),
    )
    assert outcome.items.count("  namespace: my\n") == 2
    assert outcome.results == [
        mutated("my", "metadata.namespace"),
        mutated("my", "metadata.namespace", "svc.yaml"),
    ]


def test_put_comment_creates_setters() -> None:
    outcome = fncase.run(
        search_replace.run,
        """\
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: nginx-urls
        data:
          FQDN: nginx.com
          MY_BAR_URL: https://nginx.com/bar
        """,
        config(**{
            "by-path": "data.**",
            "by-value-regex": "(.*)nginx.com(.*)",
            "put-comment": "kpt-set: ${1}${host}${2}",
        }),
    )  # fmt: skip
    assert outcome.items.endswith(
        "data:\n  FQDN: nginx.com # kpt-set: ${host}\n"
        "  MY_BAR_URL: https://nginx.com/bar # kpt-set: https://${host}/bar\n"
    )


def test_put_comment_on_a_list_field() -> None:
    outcome = fncase.run(
        search_replace.run,
        "apiVersion: v1\nkind: MyKind\nmetadata:\n  name: foo\n"
        "  annotations: {internal.config.kubernetes.io/path: r.yaml}\n"
        "environments:\n- dev\n- stage\n",
        config(**{"by-path": "environments", "put-comment": "kpt-set: ${env}"}),
    )
    assert "environments: # kpt-set: ${env}\n- dev\n- stage\n" in outcome.items
    assert outcome.results == [
        {
            "message": 'Mutated field value to "[dev, stage]"',
            "field": {"path": "environments # kpt-set: ${env}"},
            "file": {"path": "r.yaml"},
        }
    ]


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (
            {"by-value": "a", "by-value-regex": "b"},
            'only one of ["by-value", "by-value-regex"] can be provided',
        ),
        (
            {"by-nothing": "a"},
            'invalid matcher "by-nothing", must be one of ["by-value" "by-file-path" '
            '"by-value-regex" "by-path" "put-value" "put-comment"]',
        ),
        ({"by-value-regex": "(.*)", "put-value": "${2}"}, "unable to resolve capture groups"),
    ],
)
def test_errors(data: dict[str, str], error: str) -> None:
    outcome = fncase.run(search_replace.run, DEPLOYMENT, config(**data))
    assert outcome.error is not None
    assert outcome.stderr == error
    assert outcome.results == [
        {
            "message": f"failed to perform search-replace operation: {search_quote(error)}",
            "severity": "error",
        }
    ]


def search_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("a.*.b.**.b", "a.a.b.c.e.b", True),
        ("**.b", "b", True),
        ("a.b", "a.b.c", False),
        ("*[*].c", "x[3].c", True),
        ("x[2]", "x[3]", False),
        ("**", "anything.at.all", True),
    ],
)
def test_path_patterns(pattern: str, path: str, expected: bool) -> None:
    assert search_replace.path_matches(pattern, path) is expected


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("*.yaml", "a.yaml", True),
        ("*.yaml", "dir/a.yaml", False),
        ("**/*.yaml", "dir/sub/a.yaml", True),
        ("dir/{a,b}.yaml", "dir/b.yaml", True),
    ],
)
def test_file_patterns(pattern: str, path: str, expected: bool) -> None:
    assert search_replace.file_matches(pattern, path) is expected
