# run_one.sh, main: the order of it all, and the exit status run_queue.sh trusts.
# Plain bash, included verbatim after the rendered header (values, EXIT_* statuses) and
# _lib.sh; shellchecked on its own by tests/test_render.py.
main() {
  local rc holder f
  # shellcheck disable=SC2153  # CELLS is set in the rendered header
  if [ "$#" -ne 1 ] || ! cell_command "$1" >/dev/null; then
    printf 'usage: bash run_one.sh CELL   (cells: %s)\n' "${CELLS[*]}" >&2
    exit "$EXIT_USAGE"
  fi
  CELL=$1
  # shellcheck disable=SC2034  # LOG_TAG is read by log() in _lib.sh
  LOG_TAG="[$CELL]"
  if [ -z "$DATA_DIR" ]; then
    log "DATA_DIR is empty in the $RGT_PLATFORM profile ($RGT_VARIANT); set it in section 8 and render again"
    exit "$EXIT_USAGE"
  fi
  need_tools flock setsid || exit "$EXIT_USAGE"
  [ -n "$WORKDIR" ] || WORKDIR=$HERE
  CKPT_DIR="$CKPT_ROOT/$CELL"
  if ! rc=$(mkdir -p -- "$CKPT_DIR" "$STATE_DIR" "$LOG_DIR" 2>&1); then
    log "cannot create the run directories under $RUN_ROOT: $rc"
    exit "$EXIT_USAGE"
  fi
  LOG="$LOG_DIR/$CELL.log"
  take_lock "$STATE_DIR/$CELL.flock"
  rc=$?
  if [ "$rc" -eq "$LOCK_BUSY" ]; then
    holder=$(lock_holder "$STATE_DIR/$CELL.flock") || holder="another process"
    log "BUSY: cell $CELL is already running ($holder); not starting a second copy"
    exit "$EXIT_BUSY"
  fi
  [ "$rc" -eq 0 ] || exit "$EXIT_USAGE"
  trap 'clear_own_stop' EXIT
  trap 'on_signal TERM' TERM
  trap 'on_signal INT' INT
  trap 'on_signal HUP' HUP
  log "=== $JOB_NAME, cell $CELL, on $RGT_PLATFORM ($RGT_VARIANT), host $(uname -n), pid $$"
  log "data $RUN_ROOT; checkpoints $CKPT_DIR; durable ${DURABLE_REMOTE:-${DURABLE_ROOT:-none}} (profile DURABLE_DIR: ${DURABLE_DIR:-empty})"
  if [ -e "$STATE_DIR/$CELL.done" ]; then
    log "already done; nothing to do"
    exit "$EXIT_OK"
  fi
  if stop_requested; then
    log "NOT STARTED $CELL: $STOP_FILE asks the job to stop; remove it to resume (rm $STOP_FILE)"
    exit "$EXIT_STOPPED"
  fi
  rm -f -- "$STATE_DIR/$CELL.failed"
  check_secrets || fail "$EXIT_SECRET_MISSING" "FAILED $CELL: a required secret is missing (see above)"

  if [ -e "$STATE_DIR/$CELL.trained" ]; then
    log "the command finished in an earlier attempt; retrying the durable copy only"
  else
    for f in "$CKPT_DIR"/*.tmp; do  # leftovers of a save that was cut off
      rm -f -- "$f" && log "removed unfinished ${f##*/}"
    done
    space_gate
    if [ ! -d "$WORKDIR" ]; then
      fail "$EXIT_USAGE" "FAILED $CELL: working directory $WORKDIR does not exist"
    fi
    proxy_hook
    run_command
    rc=$?
    if [ "$STOPPING" = 1 ] || stop_requested; then
      log "STOPPED $CELL on request (command exit $rc); checkpoints kept in $CKPT_DIR, the next start resumes"
      exit "$EXIT_STOPPED"
    fi
    if [ "$rc" -ne 0 ]; then
      fail "$EXIT_COMMAND_FAILED" "FAILED $CELL: the command exited $rc; checkpoints kept in $CKPT_DIR," \
        "a rerun resumes from the newest complete one (log: $LOG)"
    fi
    date -u +%Y-%m-%dT%H:%M:%SZ >"$STATE_DIR/$CELL.trained"
    log "command finished (exit 0)"
  fi
  durable_step
  exit "$EXIT_OK"
}

main "$@"
# shellcheck disable=SC2317  # main exits on every path; this exit is a guard
exit $?
