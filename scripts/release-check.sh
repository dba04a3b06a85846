#!/usr/bin/env bash
# Checks the release configuration the way a release would use it:
# `goreleaser check`, a snapshot build of all six targets (CGO_ENABLED=0),
# archives for each, and that the linux/amd64 binary reports a real version.
# Installs goreleaser v2.15.1 from the Go module proxy when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
GORELEASER_VERSION=v2.15.1
gr=$(command -v goreleaser || true)
if [ -z "$gr" ] || ! "$gr" --version 2>/dev/null | grep -q "${GORELEASER_VERSION#v}"; then
  echo "== installing goreleaser $GORELEASER_VERSION"
  GOBIN="$(go env GOPATH)/bin" go install "github.com/goreleaser/goreleaser/v2@$GORELEASER_VERSION"
  gr="$(go env GOPATH)/bin/goreleaser"
fi
"$gr" check
# A snapshot build needs a git checkout; goreleaser refuses a dirty tree
# only for real releases.
"$gr" release --snapshot --clean --skip=publish,sign,sbom,docker >/dev/null
n=$(ls dist/*.tar.gz dist/*.zip 2>/dev/null | wc -l)
if [ "$n" -ne 6 ]; then
  echo "release-check: want 6 archives in dist/, found $n" >&2
  ls dist >&2
  exit 1
fi
bin=$(ls dist/bidtorrent_linux_amd64*/bidtorrent | head -1)
v=$("$bin" version)
echo "$v"
case "$v" in
  *" dev "*|"bidtorrent dev"*) echo "release-check: snapshot binary reports version dev" >&2; exit 1 ;;
esac
for f in dist/*.tar.gz; do
  # (list first: grep -q closing the pipe early would fail tar under pipefail)
  list=$(tar -tzf "$f")
  for want in LICENSE README.md config.toml.example LICENSES/LGPL-3.0.txt bidtorrent; do
    grep -qx "$want" <<<"$list" || { echo "release-check: $f lacks $want" >&2; exit 1; }
  done
done
(cd dist && sha256sum -c checksums.txt >/dev/null) || { echo "release-check: checksums do not match" >&2; exit 1; }
echo "release-check: 6 archives, checksums verified, version ok"
