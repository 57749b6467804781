# clerksync's container image: one static binary and nothing else.
#
# Build it with `make image` (scripts/build-image.sh): the binary is built with the
# host's Go (CGO_ENABLED=0; the SQLite driver is pure Go) into build/image, beside the
# host's CA certificates and a passwd file, and copied into an empty image. There is
# no base image to pull.
#
#   docker run -p 3000:3000 -v clerksync-data:/data -e CLERK_WEBHOOK_SECRET=whsec_… clerksync
FROM scratch

ARG VERSION=dev
LABEL org.opencontainers.image.title="clerksync" \
      org.opencontainers.image.description="Keeps an application's database in step with its Clerk users" \
      org.opencontainers.image.source="https://github.com/clerksync/clerksync" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}"

COPY build/image/rootfs/ /
# Writable by the user alone: the SQLite database (and its WAL) and temporary files.
COPY --chown=65532:65532 build/image/data/ /data/
COPY --chown=65532:65532 build/image/tmp/ /tmp/

# Not root; numeric, so that Kubernetes' runAsNonRoot can check it.
USER 65532:65532
ENV DATABASE_URL=sqlite:/data/clerksync.db \
    PORT=3000 \
    TMPDIR=/tmp
VOLUME ["/data"]
EXPOSE 3000

# A scratch image has no curl: the binary checks itself (GET 127.0.0.1:$PORT/healthz).
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["/usr/local/bin/clerksync", "healthcheck", "--timeout", "3s"]

ENTRYPOINT ["/usr/local/bin/clerksync"]
CMD ["serve"]
