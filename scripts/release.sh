#!/usr/bin/env bash
# Cross-compiles clerksync for linux, darwin and windows, each on amd64 and arm64, into
# dist/ with the version stamped (clerksync --version), and writes dist/SHA256SUMS in
# sha256sum's format (check with: cd dist && sha256sum -c SHA256SUMS).
#
#   VERSION=v1.2.0 scripts/release.sh      (make release; VERSION defaults to git describe)
#
# The binaries are static (CGO_ENABLED=0: the SQLite driver is pure Go), so one build
# machine makes them all.
set -euo pipefail
cd "$(dirname "$0")/.."

version="${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}"
rm -rf dist
mkdir -p dist

for os in linux darwin windows; do
  for arch in amd64 arm64; do
    out="dist/clerksync-$version-$os-$arch"
    [ "$os" = windows ] && out="$out.exe"
    CGO_ENABLED=0 GOOS="$os" GOARCH="$arch" go build -trimpath \
      -ldflags "-s -w -X main.version=$version" -o "$out" ./cmd/clerksync
    echo "built $out ($(du -m "$out" | cut -f1) MB)"
  done
done

(cd dist && sha256sum clerksync-* >SHA256SUMS && sha256sum --quiet -c SHA256SUMS)
echo "wrote dist/SHA256SUMS for $(wc -l <dist/SHA256SUMS) binaries of clerksync $version"
