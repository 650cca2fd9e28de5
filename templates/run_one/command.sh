# run_one.sh, running the command in its own process group, and signals that stop it.
# Plain bash, included verbatim after the rendered header (values, EXIT_* statuses) and
# _lib.sh; shellchecked on its own by tests/test_render.py.
signal_group() {  # signal_group SIG PGID: the command and everything it started
  kill "-$1" -- "-$2" 2>/dev/null || kill "-$1" "$2" 2>/dev/null || true
}

on_signal() {  # TERM, INT, HUP: ask the command to checkpoint and stop (STOP + TERM to its group)
  STOPPING=1
  request_stop "$1"
  log "caught SIG$1: STOP is in $STOP_FILE; passing TERM to the command's process group"
  if [ -n "$CHILD" ]; then signal_group TERM "$CHILD"; fi
}

end_group() {  # end_group PGID: nothing the command started outlives it (nor holds the lock)
  local waited=0
  kill -0 -- "-$1" 2>/dev/null || return 0
  if [ "$STOPPING" = 0 ]; then
    log "the command left processes running in its group; sending them TERM"
    signal_group TERM "$1"
  fi
  while kill -0 -- "-$1" 2>/dev/null; do
    if [ "$waited" -ge $((STOP_GRACE_S * 5)) ]; then
      log "the command's processes outlived TERM by ${STOP_GRACE_S}s; sending KILL"
      signal_group KILL "$1"
      return 0
    fi
    sleep 0.2
    waited=$((waited + 1))
  done
}

run_command() {  # run the cell's command, resuming from the newest complete checkpoint
  local cmd
  cmd=$(cell_command "$CELL")
  RGT_RESUME=$(newest_complete) || RGT_RESUME=""
  export RGT_RESUME RGT_CELL="$CELL" RGT_CKPT_DIR="$CKPT_DIR" RGT_STOP_FILE="$STOP_FILE" RGT_LOG="$LOG"
  export PYTHONUNBUFFERED=1  # the log shows each line as it is printed, like python -u (U43)
  export PY
  cell_env "$CELL"
  if [ -n "$RGT_RESUME" ]; then
    log "START $CELL: resuming from $RGT_RESUME"
  else
    log "START $CELL: no complete checkpoint in $CKPT_DIR, starting from step 0"
  fi
  log "command: $cmd"
  [ "$STOPPING" = 0 ] || return 0
  # setsid: a process group of its own, so a signal reaches every process of the command. The
  # command inherits the cell's lock descriptor, so the lock lives as long as it does.
  (cd -- "$WORKDIR" && exec setsid -w bash -c "$cmd") </dev/null >>"$LOG" 2>&1 &
  CHILD=$!
  local group=$CHILD rc
  wait_child
  rc=$?
  end_group "$group"
  return "$rc"
}
