#!/usr/bin/env bash
# Builds clerksync's container image: a static binary built here with the host's Go
# (no base image can be pulled, not even golang), with the host's CA certificates, a
# non-root user (65532) and /data for the SQLite default, in an image FROM scratch.
#
#   scripts/build-image.sh [IMAGE]      (make image; IMAGE defaults to clerksync:VERSION)
#
# VERSION (default: git describe) is stamped into the binary and the image's labels;
# GOARCH (default: the host's) chooses the image's architecture.
set -euo pipefail
cd "$(dirname "$0")/.."

version="${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}"
image="${1:-clerksync:$version}"
goarch="${GOARCH:-$(go env GOARCH)}"
certs="${CA_CERTIFICATES:-/etc/ssl/certs/ca-certificates.crt}"
ctx=build/image

if [ ! -s "$certs" ]; then
  echo "build-image: no CA certificates at $certs (apt-get install ca-certificates, or set CA_CERTIFICATES)" >&2
  exit 1
fi

rm -rf "$ctx"
mkdir -p "$ctx/rootfs/usr/local/bin" "$ctx/rootfs/etc/ssl/certs" "$ctx/rootfs/usr/share/doc/clerksync" "$ctx/data" "$ctx/tmp"

# The SQLite driver is pure Go (modernc.org/sqlite): with cgo off the binary needs no
# libc and runs in an empty image.
CGO_ENABLED=0 GOOS=linux GOARCH="$goarch" go build -trimpath \
  -ldflags "-s -w -X main.version=$version" -o "$ctx/rootfs/usr/local/bin/clerksync" ./cmd/clerksync

cp "$certs" "$ctx/rootfs/etc/ssl/certs/ca-certificates.crt"
cp LICENSE "$ctx/rootfs/usr/share/doc/clerksync/LICENSE"
# A user for 65532 (the uid distroless images use for nonroot), so that tools that
# look the uid up find a name and /data as its home.
printf 'root:x:0:0:root:/root:/sbin/nologin\nclerksync:x:65532:65532:clerksync:/data:/sbin/nologin\n' >"$ctx/rootfs/etc/passwd"
printf 'root:x:0:\nclerksync:x:65532:\n' >"$ctx/rootfs/etc/group"
chmod 0644 "$ctx/rootfs/etc/passwd" "$ctx/rootfs/etc/group" "$ctx/rootfs/etc/ssl/certs/ca-certificates.crt"

# The legacy builder needs no BuildKit (whose buildx plugin may be missing); both read
# the same Dockerfile.
if ! DOCKER_BUILDKIT="${DOCKER_BUILDKIT:-0}" docker build --quiet \
  --build-arg VERSION="$version" --platform "linux/$goarch" -t "$image" . >/dev/null 2>"$ctx/build.log"; then
  cat "$ctx/build.log" >&2
  exit 1
fi
echo "built $image ($(docker image inspect -f '{{.Size}}' "$image" | awk '{printf "%.1f MB", $1/1e6}'), clerksync $version, linux/$goarch)"
