#!/usr/bin/env bash
# Builds kube-apiserver and etcd from this Go module, once per machine.
#
# The binaries are cached under ${XDG_CACHE_HOME:-~/.cache}/lanai/controlplane/<key>,
# where <key> digests everything that decides the output (go.mod, go.sum, our mains,
# this script and the Go version). Prints the directory holding both binaries.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod

k8s_version="$(awk '$1 == "k8s.io/kubernetes" { print $2 }' go.mod)"
key="$( { cat go.mod go.sum cmd/*/main.go build.sh; go version; } | sha256sum | cut -c1-16)"
cache_root="${XDG_CACHE_HOME:-$HOME/.cache}/lanai/controlplane"
out="$cache_root/$k8s_version-$key"

if [[ -x "$out/kube-apiserver" && -x "$out/etcd" ]]; then
  echo "$out"
  exit 0
fi

mkdir -p "$cache_root"
work="$(mktemp -d "$cache_root/.build-XXXXXX")"
trap 'rm -rf "$work"' EXIT

minor="${k8s_version#v1.}"; minor="${minor%%.*}"
ldflags="-s -w"
for kv in "gitVersion=$k8s_version" "gitMajor=1" "gitMinor=$minor" \
          "gitTreeState=clean" "buildDate=1970-01-01T00:00:00Z"; do
  ldflags+=" -X k8s.io/component-base/version.$kv -X k8s.io/client-go/pkg/version.$kv"
done

started=$SECONDS
echo "building kube-apiserver $k8s_version and etcd (first time on this machine: 10-25 min)..." >&2
go build -trimpath -ldflags "$ldflags" -o "$work/kube-apiserver" ./cmd/kube-apiserver >&2
go build -trimpath -ldflags "-s -w" -o "$work/etcd" ./cmd/etcd >&2
echo "control plane built in $((SECONDS - started))s" >&2

mkdir -p "$out"
mv "$work/kube-apiserver" "$work/etcd" "$out/"
echo "$out"
