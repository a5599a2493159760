"""Kubeconfigs as people have them, read into a Connection (real files, a real plugin)."""

from __future__ import annotations

import base64
import os
import stat
import sys
from pathlib import Path

import pytest

from lanai.kubeclient import kubeconfig
from lanai.local import pki

TWO_FILES_FIRST = """
apiVersion: v1
kind: Config
current-context: dev
clusters:
- name: dev
  cluster:
    server: https://dev.example:6443
    certificate-authority: certs/ca.pem
    tls-server-name: api.dev
users:
- name: dev
  user: {tokenFile: token.txt, as: robot, as-groups: [ops]}
contexts:
- name: dev
  context: {cluster: dev, user: dev, namespace: team-a}
"""
TWO_FILES_SECOND = """
apiVersion: v1
kind: Config
current-context: ignored-because-the-first-file-sets-one
clusters:
- name: dev
  cluster: {server: https://shadowed.example}
- name: prod
  cluster: {server: https://prod.example, insecure-skip-tls-verify: true}
users:
- name: prod
  user: {username: admin, password: hunter2}
contexts:
- name: prod
  context: {cluster: prod, user: prod}
"""


def _two_files(tmp_path: Path) -> list[Path]:
    first, second = tmp_path / "a" / "config", tmp_path / "b" / "config"
    for path, text in ((first, TWO_FILES_FIRST), (second, TWO_FILES_SECOND)):
        path.parent.mkdir()
        path.write_text(text)
    (first.parent / "certs").mkdir()
    (first.parent / "certs" / "ca.pem").write_bytes(pki.CertificateAuthority().cert_pem)
    (first.parent / "token.txt").write_text("file-token\n")
    return [first, second]


def test_files_merge_first_wins_and_relative_paths_start_at_their_file(tmp_path: Path) -> None:
    paths = _two_files(tmp_path)
    config = kubeconfig.load(paths)
    assert (config.context, config.namespace) == ("dev", "team-a")
    connection = config.connection
    assert connection.server == "https://dev.example:6443"
    assert connection.tls_server_name == "api.dev"
    assert connection.as_http_headers() == {"Authorization": "Bearer file-token"}
    assert connection.extra_headers == (("Impersonate-User", "robot"), ("Impersonate-Group", "ops"))
    assert connection.as_ssl_context().get_ca_certs()  # the CA file was read
    prod = kubeconfig.load(paths, "prod").connection
    assert prod.insecure
    assert prod.as_http_headers()["Authorization"].startswith("Basic ")
    assert "hunter2" not in repr(prod)


def test_kubeconfig_env_lists_files_and_explicit_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = _two_files(tmp_path)
    monkeypatch.setenv("KUBECONFIG", os.pathsep.join(map(str, paths)))
    assert kubeconfig.default_paths() == paths
    assert kubeconfig.default_paths(str(paths[1])) == [paths[1]]


def test_what_is_wrong_is_said_precisely(tmp_path: Path) -> None:
    paths = _two_files(tmp_path)
    with pytest.raises(kubeconfig.KubeconfigError, match='context "nope" does not exist'):
        kubeconfig.load(paths, "nope")
    with pytest.raises(kubeconfig.KubeconfigError, match="does not exist"):
        kubeconfig.load([tmp_path / "missing"])
    with pytest.raises(kubeconfig.KubeconfigError, match="no kubeconfig"):
        kubeconfig.load([])
    broken = tmp_path / "broken"
    broken.write_text("current-context: x\ncontexts: [{name: x, context: {cluster: gone}}]\n")
    with pytest.raises(kubeconfig.KubeconfigError, match='names cluster "gone"'):
        kubeconfig.load([broken])


def _plugin(tmp_path: Path, status: str) -> Path:
    script = tmp_path / "credential-plugin"
    script.write_text(
        f"#!{sys.executable}\n"
        "import json, os, sys\n"
        "request = json.loads(os.environ['KUBERNETES_EXEC_INFO'])\n"
        "assert request['kind'] == 'ExecCredential', request\n"
        "assert os.environ['PLUGIN_ENV'] == 'set', 'env from the kubeconfig'\n"
        f"print(json.dumps({{'apiVersion': request['apiVersion'], 'kind': 'ExecCredential', "
        f"'status': {status}}}))\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script


def _exec_config(tmp_path: Path, plugin: Path) -> Path:
    path = tmp_path / "exec-config"
    path.write_text(
        "current-context: c\n"
        "clusters: [{name: c, cluster: {server: 'https://x.example'}}]\n"
        f"users: [{{name: u, user: {{exec: {{apiVersion: client.authentication.k8s.io/v1, "
        f"command: {plugin}, args: [get-token], env: [{{name: PLUGIN_ENV, value: set}}]}}}}}}]\n"
        "contexts: [{name: c, context: {cluster: c, user: u}}]\n"
    )
    return path


def test_an_exec_plugin_token_is_used(tmp_path: Path) -> None:
    plugin = _plugin(tmp_path, "{'token': 'from-plugin'}")
    connection = kubeconfig.load([_exec_config(tmp_path, plugin)]).connection
    assert connection.as_http_headers() == {"Authorization": "Bearer from-plugin"}


def test_an_exec_plugin_client_certificate_is_used(tmp_path: Path) -> None:
    authority = pki.CertificateAuthority()
    pair = authority.client("someone", [])
    cert, key = pair.cert_pem.decode(), pair.key_pem.decode()
    plugin = _plugin(tmp_path, f"{{'clientCertificateData': {cert!r}, 'clientKeyData': {key!r}}}")
    connection = kubeconfig.load([_exec_config(tmp_path, plugin)]).connection
    assert connection.certificate_data == pair.cert_pem
    connection.as_ssl_context()  # loads the pair without complaint


def test_a_failing_exec_plugin_says_which_and_why(tmp_path: Path) -> None:
    plugin = tmp_path / "bad-plugin"
    plugin.write_text("#!/bin/sh\necho 'login expired, run: cloud auth login' >&2\nexit 3\n")
    plugin.chmod(0o755)
    with pytest.raises(kubeconfig.KubeconfigError, match="failed: login expired"):
        kubeconfig.load([_exec_config(tmp_path, plugin)])


def test_inline_data_is_base64(tmp_path: Path) -> None:
    ca = base64.b64encode(pki.CertificateAuthority().cert_pem).decode()
    path = tmp_path / "inline"
    path.write_text(
        "current-context: c\n"
        "clusters: [{name: c, cluster: {server: 'https://x', "
        f"certificate-authority-data: {ca}}}}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
        "contexts: [{name: c, context: {cluster: c, user: u}}]\n"
    )
    connection = kubeconfig.load([path]).connection
    assert connection.ca_data is not None
    assert connection.ca_data.startswith(b"-----BEGIN CERTIFICATE-----")


def test_impersonation_from_flags_replaces_the_kubeconfig_one(tmp_path: Path) -> None:
    config = kubeconfig.load(_two_files(tmp_path))
    acting = kubeconfig.with_impersonation(config, "bob", ["a", "b"])
    assert acting.connection.extra_headers == (
        ("Impersonate-User", "bob"),
        ("Impersonate-Group", "a"),
        ("Impersonate-Group", "b"),
    )
    assert kubeconfig.with_impersonation(config, None, []) is config
    with pytest.raises(kubeconfig.KubeconfigError, match="needs --as"):
        kubeconfig.with_impersonation(config, None, ["ops"])
