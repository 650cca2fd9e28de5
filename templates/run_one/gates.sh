# run_one.sh, before the command runs: the disk and inode floors, the platform's network hook.
# Plain bash, included verbatim after the rendered header (values, EXIT_* statuses) and
# _lib.sh; shellchecked on its own by tests/test_render.py.
df_avail() {  # df_avail -k|-i PATH: the fourth column of `df -P` (free KiB or free inodes)
  local _fs _total _used avail _rest
  { read -r _fs && read -r _fs _total _used avail _rest; } < <(df -P "$1" -- "$2" 2>/dev/null) || return 1
  printf '%s\n' "$avail"
}

space_gate() {  # abort before the run when the checkpoint disk is below the floors (U6, U7)
  local avail ifree
  avail=$(df_avail -k "$CKPT_DIR") || avail=""
  case "$avail" in
    '' | *[!0-9]*) fail "$EXIT_DISK_FLOOR" "DISK_GATE_ABORT: df cannot read the free space of $CKPT_DIR; run not started (U6)" ;;
  esac
  if [ "$avail" -lt "$DISK_FLOOR_KB" ]; then
    fail "$EXIT_DISK_FLOOR" "DISK_GATE_ABORT: $((avail / 1048576)) GB free on $CKPT_DIR, below disk_floor_gb=$DISK_FLOOR_GB;" \
      "run not started. Free space (rolling checkpoints, the HF cache) or lower the floor (U6, U7)"
  fi
  ifree=$(df_avail -i "$CKPT_DIR") || ifree=""
  case "$ifree" in
    '' | *[!0-9]*)
      log "inode count not reported for $CKPT_DIR; inode floor not checked (U7)"
      ifree="n/a"
      ;;
    *)
      if [ "$ifree" -lt "$INODE_FLOOR" ]; then
        fail "$EXIT_INODE_FLOOR" "INODE_GATE_ABORT: $ifree inodes free on $CKPT_DIR, below inode_floor=$INODE_FLOOR;" \
          "run not started. Remove or pack small files (U7, U25)"
      fi
      ;;
  esac
  log "space gate ok: $((avail / 1048576)) GB and $ifree inodes free on $CKPT_DIR"
}

proxy_hook() {  # the platform's network hook and mirrors, before anything touches the network
  local rc
  if [ -n "$PROXY_HOOK" ]; then
    set +u
    eval "$PROXY_HOOK"
    rc=$?
    set -u
    [ "$rc" -eq 0 ] || log "WARNING: PROXY_HOOK exited $rc; downloads may fail"
  fi
  if [ -n "$HF_HOME" ]; then export HF_HOME; fi
  if [ -n "$HF_ENDPOINT" ]; then export HF_ENDPOINT; fi
}
