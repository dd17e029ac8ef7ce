# The skeleton of the node scripts that run one server as a background process with a pid file
# (network/nodes/minio.sh, seaweedfs.sh, anvil.sh, tsa.sh), and the Go build they share. Sourced after the
# script's config. A script sets what is its own, then hands its arguments to `native_main "$@"`:
#   NATIVE_NAME     the server's name: its folder $STATE/NAME (server.pid, server.log) and messages
#   NATIVE_WHERE    where it serves, for messages (127.0.0.1:PORT)
#   NATIVE_TIMEOUT  seconds `up` waits for `ready`
#   NATIVE_KEEPS    what `up` reports after starting (where its data is)
#   NATIVE_EXTRA    more commands the script defines as functions (e.g. build); optional
#   launch()        checks or installs what it needs and calls native_start NATIVE_NAME CMD...
#   ready()         succeeds once the server serves
#   url()           prints what its clients take
# and gets the commands up, down, status and url (plus NATIVE_EXTRA).
# shellcheck disable=SC2034

STATE=${TIEZHENG_STATE:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/.tiezheng/services}

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# native_pid NAME: the pid of NAME's process if it is alive, else nothing (and status 1).
native_pid() {
  local pid
  pid=$(cat "$STATE/$1/server.pid" 2>/dev/null) || return 1
  kill -0 "$pid" 2>/dev/null && echo "$pid"
}

# native_start NAME CMD...: runs CMD in the background in its own session (at normal priority: the
# servers answer tests), output appended to $STATE/NAME/server.log, its pid in server.pid.
native_start() {
  local name=$1; shift
  mkdir -p "$STATE/$name"
  setsid "$@" >>"$STATE/$name/server.log" 2>&1 < /dev/null &
  echo $! >"$STATE/$name/server.pid"
}

# native_wait NAME TIMEOUT CHECK...: waits until CHECK succeeds; dies with the log's tail if the process
# exits or TIMEOUT seconds pass.
native_wait() {
  local name=$1 timeout=$2 waited=0; shift 2
  until "$@" >/dev/null 2>&1; do
    native_pid "$name" >/dev/null || die "$name exited while starting; last lines of $STATE/$name/server.log:
$(tail -n 20 "$STATE/$name/server.log")"
    [ "$waited" -ge "$((timeout * 4))" ] && die "$name did not become ready in ${timeout}s; see $STATE/$name/server.log"
    sleep 0.25; waited=$((waited + 1))
  done
}

# native_stop NAME: SIGTERM, then SIGKILL after 20 s; removes the pid file.
native_stop() {
  local pid i
  pid=$(native_pid "$1") || { rm -f "$STATE/$1/server.pid"; echo "$1: not running"; return 0; }
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid"
  for i in $(seq 80); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  kill -0 "$pid" 2>/dev/null && kill -KILL -- "-$pid" 2>/dev/null
  rm -f "$STATE/$1/server.pid"
  echo "$1: stopped"
}

# go_build_needed BIN NAME: fails (status 1) if BIN is built already; dies if it must be built without go.
go_build_needed() {
  [ -x "$1" ] && return 1
  command -v go >/dev/null || die "go is not installed; $2 is built from source with the Go toolchain"
}

# go_build_logged DIR CMD...: runs the build command CMD at the lowest priority, one package at a time
# (the machine is shared), its output appended to DIR/build.log; dies with the log's tail on failure.
go_build_logged() {
  local dir=$1 started; shift
  mkdir -p "$dir"
  started=$(date +%s)
  log "building: $* (log: $dir/build.log; a cold build takes about 10 minutes)"
  if ! (export GOFLAGS="${GOFLAGS:-} -p=1"; nice -n 19 "$@") >>"$dir/build.log" 2>&1; then
    die "build failed after $(($(date +%s) - started))s; last lines of $dir/build.log:
$(tail -n 20 "$dir/build.log")"
  fi
  log "built in $(($(date +%s) - started))s"
}

# native_up: starts the server unless it is running, and waits until it is ready.
native_up() {
  if native_pid "$NATIVE_NAME" >/dev/null; then echo "$NATIVE_NAME: already running on $NATIVE_WHERE"; return; fi
  launch
  native_wait "$NATIVE_NAME" "$NATIVE_TIMEOUT" ready
  echo "$NATIVE_NAME: running on $NATIVE_WHERE, $NATIVE_KEEPS"
}

# native_status: "running" only when the process is alive and answers.
native_status() {
  if native_pid "$NATIVE_NAME" >/dev/null && ready; then echo "$NATIVE_NAME: running on $NATIVE_WHERE ($STATE/$NATIVE_NAME)"
  else echo "$NATIVE_NAME: stopped"; fi
}

# native_main COMMAND: runs one of up, down, status, url or the script's NATIVE_EXTRA; else prints the usage.
native_main() {
  local commands="up down status url${NATIVE_EXTRA:+ $NATIVE_EXTRA}" command=${1:-}
  if [ -z "$command" ] || [[ " $commands " != *" $command "* ]]; then
    echo "usage: $0 ${commands// /|}" >&2; exit 2
  fi
  case "$command" in
    up) native_up ;;
    down) native_stop "$NATIVE_NAME" ;;
    status) native_status ;;
    *) "$command" ;;
  esac
}
