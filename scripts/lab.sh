# lab.sh: sourced by every chapter's compare.sh. A lab is a short recipe:
#
#   source "$(dirname "$0")/../../scripts/lab.sh"
#   lab_begin 02-threads threads "$@"          # --quick | --tour | (full), --help
#   server_start 01-blocking                   # sets SERVER_PID, SERVER_PORT, SERVER_NAME
#   measure "1 busy" --x 1 -- --connections 1  # loadgen's options after --
#   server_stop
#   lab_report --summary "100 busy" --plot ...
#
# Servers are stopped by PID whatever happens (trap); the fd limit is raised and reported.

LAB_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export BUILD=${BUILD:-build}

lab() { python3 "$LAB_ROOT/scripts/lab" "$@"; }

lab_usage() {
  cat <<USAGE
usage: $0 [--quick | --tour] [--keep]
  (default)  full run: the numbers the write-up quotes (a few minutes)
  --tour     shorter runs, as make tour runs it
  --quick    a few seconds, to check that the lab works (make test runs this)
  --keep     keep the lab's state folder (server logs, nginx config) for a look afterwards
USAGE
}

# lab_begin CHAPTER LAB "$@": parse the mode, raise the fd limit, arrange cleanup.
lab_begin() {
  LAB_CHAPTER=$1 LAB_NAME=$2
  shift 2
  LAB_MODE=full LAB_KEEP=0
  for arg in "$@"; do
    case $arg in
      --quick) LAB_MODE=quick ;;
      --tour) LAB_MODE=tour ;;
      --keep) LAB_KEEP=1 ;;
      -h|--help) lab_usage; exit 0 ;;
      *) echo "$0: unknown option '$arg'" >&2; lab_usage >&2; exit 2 ;;
    esac
  done
  case $LAB_MODE in  # seconds of warm-up and of measurement per run
    quick) WARMUP=0.2 DURATION=0.5 ;;
    tour) WARMUP=0.5 DURATION=2 ;;
    full) WARMUP=1 DURATION=5 ;;
  esac
  ulimit -n "$(ulimit -Hn)" 2>/dev/null  # loadgen and the servers inherit the raised soft limit
  LAB_STATE=$(mktemp -d /tmp/one-loop-lab.XXXXXX)
  export LAB_STATE
  trap lab_cleanup EXIT
  trap 'exit 130' INT TERM
  for tool in "$LAB_ROOT/$BUILD/bin/loadgen" "$LAB_ROOT/$BUILD/bin/$LAB_CHAPTER"; do
    [[ -x $tool ]] || { echo "$0: $tool is not built; run make" >&2; exit 1; }
  done
  echo "== lab $LAB_CHAPTER/$LAB_NAME ($LAB_MODE mode: ${WARMUP}s warm-up + ${DURATION}s measured per run)"
  echo "   limits: $(lab limits)"
}

lab_cleanup() {
  lab stop-all
  if [[ $LAB_KEEP -eq 1 ]]; then echo "lab state kept in $LAB_STATE"; else rm -rf "$LAB_STATE"; fi
}

# server_start NAME [ARGS...]: NAME is a chapter (02-threads), nginx [WORKERS] or node.
# The server runs as a child of this shell, so the shell reaps it when it exits.
server_start() {
  local spec port out="$LAB_STATE/$1.out"
  spec=$(lab command "$@") || exit 1
  mapfile -t argv <<<"$spec"
  port=${argv[0]}
  "${argv[@]:1}" >"$out" 2>>"$LAB_STATE/$1.log" </dev/null &
  SERVER_PID=$!
  SERVER_NAME=$1 SERVER_LOG=$1
  SERVER_PORT=$(lab ready "$1" "$SERVER_PID" "$port" "$out") || exit 1
}

server_stop() {
  lab stop "$SERVER_PID"
}

# has_peer nginx|node|haproxy: true when the peer can be run here; prints why not otherwise.
has_peer() {
  case $1 in
    nginx) command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || { echo "   (nginx not installed: skipped; make deps installs it)"; return 1; } ;;
    node) command -v node >/dev/null || command -v nodejs >/dev/null || { echo "   (node not installed: skipped)"; return 1; } ;;
    haproxy) command -v haproxy >/dev/null || [[ -x /usr/sbin/haproxy ]] || { echo "   (haproxy not installed: skipped; make deps installs it)"; return 1; } ;;
  esac
}

# measure LABEL [--series S] [--x X] -- LOADGEN_OPTIONS...
measure() {
  local label=$1
  shift
  lab measure --label "$label" --server "$SERVER_NAME" --pid "$SERVER_PID" --port "$SERVER_PORT" \
    --warmup "$WARMUP" --duration "$DURATION" "$@" || exit 1
}

# measure_beside_crowd LABEL TOTAL PROCESSES SOURCES [--series S] -- LOADGEN_OPTIONS...: holds an
# idle crowd of TOTAL connections from PROCESSES loadgens (chapter 06's headline run) and measures
# the busy clients beside it.
measure_beside_crowd() {
  local label=$1 total=$2 processes=$3 sources=$4
  shift 4
  lab crowd --label "$label" --server "$SERVER_NAME" --pid "$SERVER_PID" --port "$SERVER_PORT" \
    --total "$total" --processes "$processes" --sources "$sources" \
    --warmup "$WARMUP" --duration "$DURATION" "$@" || exit 1
}

# worker_counts LABEL: after server_stop, what each of chapter 06's workers accepted, onto row LABEL.
worker_counts() {
  lab workers --log "$LAB_STATE/$SERVER_LOG.log" --label "$1" || exit 1
}

# lab_pin: the runs after it put loadgen alone on one CPU and the server on the others, so that
# one loop compares with another and not with where the scheduler happened to put it (see
# scripts/lab/limits.py). For one-worker comparisons; a lab whose servers use several cores
# (threads, workers) leaves it off. `lab_pin one`: the server on one CPU and loadgen on all the
# others, a thread for each, for flat-out runs of one-worker servers. lab_unpin ends it.
lab_pin() { export LAB_PIN=${1:-1}; echo "   pinned from here: $(lab pinning)"; }
lab_unpin() { unset LAB_PIN; }

# half_slowest LABEL SERVER PEER...: half the lowest requests/s that row LABEL measured for SERVER
# (the lab's own chapter: its row must be there) and the PEERs (one that is not installed, and so
# has no row, is left out). Flat out, a faster server finds fewer requests waiting per wake-up and
# pays more per request for it; at one rate for all, CPU per request compares the same work.
# Use as: rate=$(half_slowest ...) || exit 1
half_slowest() {
  local label=$1 lowest rps peer
  lowest=$(lab rps "$label" "$2") || return 1
  shift 2
  for peer in "$@"; do
    has_peer "${peer%% *}" >/dev/null || continue
    rps=$(lab rps "$label" "$peer") || return 1
    ((rps < lowest)) && lowest=$rps
  done
  if ((lowest < 2)); then
    echo "$0: row '$label' measured $lowest requests/s: no rate to share (0 would mean flat out)" >&2
    return 1
  fi
  echo $((lowest / 2))
}

lab_report() {
  lab report --chapter "$LAB_CHAPTER" --lab "$LAB_NAME" --mode "$LAB_MODE" "$@"
}
