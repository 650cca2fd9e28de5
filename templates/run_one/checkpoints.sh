# run_one.sh, fail, and which checkpoints count: the pattern, the sidecar, the newest complete one.
# Plain bash, included verbatim after the rendered header (values, EXIT_* statuses) and
# _lib.sh; shellchecked on its own by tests/test_render.py.
fail() {  # fail CODE MESSAGE: say why in the log, mark the cell failed, exit CODE
  local code=$1
  shift
  log "$*"
  printf '%s exit=%s %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$code" "$*" >"$STATE_DIR/$CELL.failed" 2>/dev/null || true
  exit "$code"
}

is_checkpoint() {  # is_checkpoint NAME: NAME matches checkpoint_pattern and is no temp file or sidecar
  case "$1" in *.tmp | *.rgt-tmp | *.sha256 | *.complete | MANIFEST.*) return 1 ;; esac
  # shellcheck disable=SC2254  # CKPT_PATTERN is a glob on purpose
  case "$1" in $CKPT_PATTERN) return 0 ;; esac
  return 1
}

is_complete() {  # is_complete PATH: a sidecar says the atomic write finished, and its hash holds
  local want got
  if [ -d "$1" ] && [ -f "$1.sha256" ]; then  # every file the listing names, checked inside the dir
    (cd -- "$1" && sha256sum --quiet --strict -c -- "../${1##*/}.sha256") >/dev/null 2>&1
    return
  fi
  if [ -f "$1.sha256" ]; then
    read -r want _ <"$1.sha256" || return 1
    got=$(sha256sum <"$1") || return 1
    [ "${got%% *}" = "$want" ]
    return
  fi
  [ -e "$1.complete" ]
}

later() {  # later A B: A was saved after B. File times tick coarsely (a few ms), so two saves
  # in one tick tie; then the name decides, by number (checkpoint-10 after checkpoint-9)
  [ "$1" -nt "$2" ] && return 0
  [ "$2" -nt "$1" ] && return 1
  [ "$1" != "$2" ] && [ "$(printf '%s\n%s\n' "${1##*/}" "${2##*/}" | sort -V | tail -n 1)" = "${1##*/}" ]
}

newest_complete() {  # print the newest complete checkpoint in CKPT_DIR; skip incomplete ones
  local f i best
  local -a cands=()
  for f in "$CKPT_DIR"/*; do
    { [ -f "$f" ] || [ -d "$f" ]; } && is_checkpoint "${f##*/}" && cands+=("$f")
  done
  while [ "${#cands[@]}" -gt 0 ]; do
    best=""
    for i in "${!cands[@]}"; do
      if [ -z "$best" ] || later "${cands[$i]}" "${cands[$best]}"; then
        best=$i
      fi
    done
    if is_complete "${cands[$best]}"; then
      printf '%s\n' "${cands[$best]}"
      return 0
    fi
    log "skipping incomplete checkpoint ${cands[$best]##*/} (no valid .sha256 or .complete sidecar)" >&2
    unset 'cands[best]'
  done
  return 1
}
