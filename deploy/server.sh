#!/usr/bin/env bash
# Start or stop the newsletter's services for one centre's home.
#
#   deploy/server.sh start    # prefect server, work pool, deployments, worker, review page
#   deploy/server.sh stop     # stops exactly what `start` started, by PID
#   deploy/server.sh status
#
# Each service runs in the background in its own process group; its PID and
# log are $NEWSLETTER_HOME/run/<name>.pid and run/<name>.log.
#
# Settings (environment):
#   NEWSLETTER_HOME   the centre's home (default: the working directory)
#   PREFECT_PORT      the Prefect server's port on 127.0.0.1 (default 4200)
#   NEWSLETTER_PORT   the review page's port (default 8000)
#   PREFECT_HOME      Prefect's own folder (default: $NEWSLETTER_HOME/prefect)
#   PREFECT_API_DATABASE_CONNECTION_URL   Prefect's database (default: SQLite under PREFECT_HOME)
#   NEWSLETTER_BIN    folder holding the `prefect` and `newsletter` commands (default: from PATH)
#   NEWSLETTER_POOL   the work pool's name (default: newsletter)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HOME_DIR="$(cd "${NEWSLETTER_HOME:-$PWD}" && pwd)"
RUN="$HOME_DIR/run"
PORT="${PREFECT_PORT:-4200}"
REVIEW_PORT="${NEWSLETTER_PORT:-8000}"
POOL="${NEWSLETTER_POOL:-newsletter}"
if [ -n "${NEWSLETTER_BIN:-}" ]; then
    PREFECT="$NEWSLETTER_BIN/prefect"
    NEWSLETTER="$NEWSLETTER_BIN/newsletter"
else
    PREFECT="$(command -v prefect || true)"
    NEWSLETTER="$(command -v newsletter || true)"
fi

export NEWSLETTER_HOME="$HOME_DIR"
export PREFECT_HOME="${PREFECT_HOME:-$HOME_DIR/prefect}"
export PREFECT_API_URL="http://127.0.0.1:$PORT/api"
export PREFECT_UI_URL="http://127.0.0.1:$PORT"
export PREFECT_SERVER_ANALYTICS_ENABLED="${PREFECT_SERVER_ANALYTICS_ENABLED:-false}"
# Until `flows` is an installed package, the worker imports it from this checkout.
export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"

SERVICES=(server worker review)  # started in this order, stopped in reverse

die() { echo "deploy/server.sh: $*" >&2; exit 1; }

alive() {  # alive NAME: its pid file names a running process
    local pidfile="$RUN/$1.pid"
    [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

launch() {  # launch NAME COMMAND...: in the background, own session, PID and log under run/
    local name="$1"; shift
    (cd "$HOME_DIR" && exec setsid "$@" >>"$RUN/$name.log" 2>&1 </dev/null) &
    echo $! >"$RUN/$name.pid"
}

wait_for() {  # wait_for URL SECONDS NAME
    local url="$1" deadline=$((SECONDS + $2)) name="$3"
    until curl -fsS -o /dev/null "$url" 2>/dev/null; do
        alive "$name" || die "$name exited; see $RUN/$name.log"
        [ $SECONDS -lt $deadline ] || die "$name did not answer on $url within $2 s; see $RUN/$name.log"
        sleep 0.5
    done
}

start() {
    [ -x "$PREFECT" ] || die "prefect not found (make install, or set NEWSLETTER_BIN)"
    mkdir -p "$RUN" "$PREFECT_HOME"
    for name in "${SERVICES[@]}"; do
        if alive "$name"; then die "$name already running (PID $(cat "$RUN/$name.pid")); make stop first"; fi
    done
    if curl -fsS -o /dev/null "$PREFECT_API_URL/health" 2>/dev/null; then
        die "port $PORT already answers: another Prefect server? set PREFECT_PORT"
    fi

    launch server "$PREFECT" server start --host 127.0.0.1 --port "$PORT"
    wait_for "$PREFECT_API_URL/health" 120 server

    if ! "$PREFECT" work-pool inspect "$POOL" >/dev/null 2>&1; then
        "$PREFECT" work-pool create "$POOL" --type process >>"$RUN/deploy.log" 2>&1 \
            || die "could not create work pool $POOL; see $RUN/deploy.log"
    fi
    (cd "$REPO" && "$PREFECT" --no-prompt deploy --all >>"$RUN/deploy.log" 2>&1) \
        || die "prefect deploy failed; see $RUN/deploy.log"

    launch worker "$PREFECT" worker start --pool "$POOL" --type process --name "newsletter-$(hostname)-$PORT"

    if [ -x "$NEWSLETTER" ] && "$NEWSLETTER" serve --help >/dev/null 2>&1; then
        launch review "$NEWSLETTER" serve --host 127.0.0.1 --port "$REVIEW_PORT"
        review="http://127.0.0.1:$REVIEW_PORT/"
    else
        review="(not started: this install has no \`newsletter serve\`)"
    fi

    echo "Home:         $HOME_DIR"
    echo "Prefect UI:   $PREFECT_UI_URL"
    echo "Prefect API:  $PREFECT_API_URL   (export PREFECT_API_URL=$PREFECT_API_URL to approve into \`deliver\`)"
    echo "Review page:  $review"
    echo "Logs and PIDs: $RUN/   Stop: make stop"
}

stop_one() {
    local name="$1" pidfile="$RUN/$1.pid" pid
    [ -f "$pidfile" ] || return 0
    pid="$(cat "$pidfile")"
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 40); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.25
        done
        if kill -0 "$pid" 2>/dev/null; then
            kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
        fi
        echo "stopped $name (PID $pid)"
    fi
    rm -f "$pidfile"
}

stop() {
    local i
    for ((i = ${#SERVICES[@]} - 1; i >= 0; i--)); do
        stop_one "${SERVICES[$i]}"
    done
}

status() {
    local name
    for name in "${SERVICES[@]}"; do
        if alive "$name"; then echo "$name: running (PID $(cat "$RUN/$name.pid"))"; else echo "$name: stopped"; fi
    done
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
