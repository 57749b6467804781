#!/usr/bin/env bash
# Tests the container image as a user runs it (make test-image; .ci/run runs it):
# builds it, runs it on the host's network bound to 127.0.0.1 (never a bridge address)
# with a temporary directory mounted as /data, sends it a signed event with
# `clerksync send`, reads the row from the mounted SQLite file, checks the container's
# HEALTHCHECK, then does the same on PostgreSQL. The containers and the image are
# removed at the end, whatever happens.
#
# Needs a running Docker daemon and sqlite3 (and psql, for the PostgreSQL part, with
# TEST_DATABASE_URL; CLERKSYNC_REQUIRE_POSTGRES=1 fails rather than skips it).
set -euo pipefail
cd "$(dirname "$0")/.."

fail() { echo "test-image: FAIL: $*" >&2; exit 1; }
step() { printf -- '-- %s\n' "$*"; }

command -v docker >/dev/null || fail "docker is not installed (apt-get install docker.io)"
docker info >/dev/null 2>&1 || fail "the Docker daemon does not answer: start dockerd (.ci/run does)"
command -v sqlite3 >/dev/null || fail "sqlite3 is not installed (apt-get install sqlite3): it reads the row the container wrote"

run_id="$$-$RANDOM"
image="clerksync-test:$run_id"
work="$(mktemp -d)"
containers=()
pg_schema=""
pg_url="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}"

cleanup() {
  local c
  for c in "${containers[@]}"; do
    docker rm -f -v "$c" >/dev/null 2>&1 || true # -v: the anonymous /data volume too
  done
  docker rmi -f "$image" >/dev/null 2>&1 || true
  if [ -n "$pg_schema" ]; then
    psql "$pg_url" -qAtc "DROP SCHEMA IF EXISTS \"$pg_schema\" CASCADE" >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# free_port prints a port nothing listens on at 127.0.0.1.
free_port() {
  local p
  for p in $(shuf -i 20000-45000 -n 50); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return
    fi
  done
  fail "no free port found on 127.0.0.1"
}

# wait_healthy waits until the HEALTHCHECK of container $1 reports healthy.
wait_healthy() {
  local status=""
  for _ in $(seq 1 60); do
    status="$(docker inspect -f '{{.State.Health.Status}}' "$1")"
    [ "$status" = healthy ] && return
    [ "$(docker inspect -f '{{.State.Running}}' "$1")" = true ] || break
    sleep 0.5
  done
  docker logs "$1" >&2 || true
  fail "container $1 is $status, not healthy"
}

# start runs the image in the background as container $1 on port $2, with the rest of
# the arguments given to docker run; --network host only, and serve listens on
# 127.0.0.1 alone. The health check runs every second instead of every 30.
start() {
  local name="$1" port="$2"
  shift 2
  containers+=("$name")
  docker run -d --name "$name" --network host --health-interval 1s --health-timeout 5s \
    -e PORT="127.0.0.1:$port" -e CLERK_WEBHOOK_SECRET="$secret" "$@" "$image" >/dev/null
}

# send_user sends a signed user.created for user $2 to port $1 with the host's binary.
send_user() {
  CLERK_WEBHOOK_SECRET="$secret" "$bin" send user.created --user-id "$2" \
    --first-name Ada --last-name Lovelace --email ada@example.com \
    --to "http://127.0.0.1:$1/api/webhooks/clerk" >"$work/send.out" || { cat "$work/send.out" >&2; fail "send to port $1"; }
  grep -q '"outcome":"applied"' "$work/send.out" || { cat "$work/send.out" >&2; fail "the event was not applied"; }
}

step "build the image"
start_s=$SECONDS
scripts/build-image.sh "$image"
bin=build/image/rootfs/usr/local/bin/clerksync # the image's binary, static: it runs here too
secret="whsec_$(head -c 24 /dev/urandom | base64)"

user="$(docker image inspect -f '{{.Config.User}}' "$image")"
[ "$user" = "65532:65532" ] || fail "the image runs as $user, want 65532:65532"
version="$(docker run --rm --network none "$image" --version)"
[[ "$version" == "clerksync "* ]] || fail "--version printed: $version"

step "SQLite on a mounted /data"
data="$work/data"
mkdir -p "$data"
# The container runs as 65532, not root: the mounted directory must be its own.
chown 65532:65532 "$data" 2>/dev/null || chmod 0777 "$data"
port="$(free_port)"
start "clerksync-test-sqlite-$run_id" "$port" -v "$data:/data"
wait_healthy "clerksync-test-sqlite-$run_id"
send_user "$port" user_2imagesqliteAAAAAAAAAAAAAA
row="$(sqlite3 -readonly "$data/clerksync.db" "SELECT user_id, first_name, last_name, email, sync_source FROM profiles")"
[ "$row" = "user_2imagesqliteAAAAAAAAAAAAAA|Ada|Lovelace|ada@example.com|webhook" ] || fail "profiles row in the mounted file: '$row'"
owner="$(stat -c %u "$data/clerksync.db")"
[ "$owner" = 65532 ] || fail "the database file belongs to uid $owner, want 65532"
"$bin" healthcheck --url "http://127.0.0.1:$port/readyz" >/dev/null || fail "/readyz"
inside="$(docker exec "clerksync-test-sqlite-$run_id" /usr/local/bin/clerksync healthcheck)"
[[ "$inside" == "ok: "* ]] || fail "healthcheck inside the container said: $inside"
echo "row read from the mounted file: $row"
docker stop -t 30 "clerksync-test-sqlite-$run_id" >/dev/null
code="$(docker inspect -f '{{.State.ExitCode}}' "clerksync-test-sqlite-$run_id")"
logs="$(docker logs "clerksync-test-sqlite-$run_id" 2>&1)"
[ "$code" = 0 ] && grep -q 'msg=stopped' <<<"$logs" || fail "docker stop: exit $code, no clean shutdown in the logs"
echo "docker stop: shut down cleanly (exit 0)"

step "PostgreSQL"
if pg_isready -q -d "$pg_url" 2>/dev/null && command -v psql >/dev/null; then
  pg_schema="clerksync_image_test_${run_id//-/_}"
  port="$(free_port)"
  start "clerksync-test-pg-$run_id" "$port" -e DATABASE_URL="$pg_url" -e DATABASE_SCHEMA="$pg_schema"
  wait_healthy "clerksync-test-pg-$run_id"
  send_user "$port" user_2imagepostgresAAAAAAAAAAAA
  row="$(psql "$pg_url" -qAtc "SELECT user_id, first_name, last_name, email, sync_source FROM \"$pg_schema\".profiles")"
  [ "$row" = "user_2imagepostgresAAAAAAAAAAAA|Ada|Lovelace|ada@example.com|webhook" ] || fail "profiles row in PostgreSQL: '$row'"
  echo "row read from PostgreSQL (schema $pg_schema): $row"
elif [ "${CLERKSYNC_REQUIRE_POSTGRES:-}" = 1 ]; then
  fail "PostgreSQL does not answer at TEST_DATABASE_URL (or psql is missing)"
else
  echo "SKIPPED: PostgreSQL does not answer at TEST_DATABASE_URL (or psql is missing)"
fi

echo "test-image: ok ($version; $((SECONDS - start_s)) s)"
