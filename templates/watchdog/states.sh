# watchdog.sh, the states: plain bash, included verbatim after the rendered values.
cell_state() {  # cell_state CELL: print "STATE why"
  local cell=$1 pid="" log="$LOG_DIR/$1.log" age now
  if [ -f "$STATE_DIR/$cell.done" ]; then
    printf 'finished exit=0 durable copy verified: %s\n' "$(head -n 1 -- "$STATE_DIR/$cell.done")"
    return
  fi
  [ -r "$STATE_DIR/$cell.flock" ] && read -r pid <"$STATE_DIR/$cell.flock"
  if [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q 'run_one\.sh'; then
    now=$(date +%s)
    if [ -f "$log" ]; then
      age=$((now - $(stat -c %Y -- "$log")))
      if [ "$age" -gt "$LOG_SILENT_S" ]; then
        printf 'stalled pid %s, log silent for %s s\n' "$pid" "$age"
      else
        printf 'running pid %s, log written %s s ago\n' "$pid" "$age"
      fi
    else
      printf 'running pid %s, no log yet\n' "$pid"
    fi
    return
  fi
  if [ -f "$STATE_DIR/$cell.failed" ]; then
    printf 'finished %s\n' "$(head -n 1 -- "$STATE_DIR/$cell.failed" | cut -d' ' -f2-)"
  elif [ -f "$log" ]; then
    printf 'dead no run_one.sh alive and no completion marker; last log line: %s\n' "$(tail -n 1 -- "$log")"
  else
    printf 'waiting not started\n'
  fi
}

states_file() {
  if [ -n "$DURABLE_ROOT" ] && [ -d "$DURABLE_ROOT" ]; then
    printf '%s/watchdog.states\n' "$DURABLE_ROOT"
  else
    printf '%s/watchdog.states\n' "$STATE_DIR"
  fi
}

check_once() {  # append each cell whose state changed since its last recorded line
  local cell line last file
  file=$(states_file)
  for cell in "${CELLS[@]}"; do
    line=$(cell_state "$cell")
    last=$(grep -- " $cell " "$file" 2>/dev/null | tail -n 1 | cut -d' ' -f3)
    if [ "${line%% *}" != "$last" ]; then
      printf '%s %s %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$cell" "$line" >>"$file"
    fi
    [ "${1:-}" = print ] && printf '%s %s\n' "$cell" "$line"
  done
}

if [ "${1:-}" = --once ]; then
  check_once print
  exit 0
fi
while :; do
  check_once
  sleep "$INTERVAL"
done
