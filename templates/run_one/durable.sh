# run_one.sh, the verified durable copy (a mount or an rclone remote), the manifest, pruning.
# Plain bash, included verbatim after the rendered header (values, EXIT_* statuses) and
# _lib.sh; shellchecked on its own by tests/test_render.py.
copy_verified() {  # copy_verified SRC DST: copy via a temp name, then compare size and sha256
  local src=$1 dst=$2 tmp err s1 s2 h1 h2
  if [ -d "$src" ]; then
    copy_verified_dir "$src" "$dst"
    return
  fi
  tmp="${dst%/*}/.${dst##*/}.rgt-tmp"
  if ! err=$(cp -- "$src" "$tmp" 2>&1); then
    log "copy of ${src##*/} failed: $err"
    rm -f -- "$tmp"
    return 1
  fi
  sync -- "$tmp" 2>/dev/null || sync
  if ! err=$(mv -f -- "$tmp" "$dst" 2>&1); then
    log "rename into $dst failed: $err"
    return 1
  fi
  s1=$(stat -c %s -- "$src") && s2=$(stat -c %s -- "$dst") || return 1
  if [ "$s1" != "$s2" ]; then
    log "size mismatch for ${src##*/}: source $s1 bytes, copy $s2 bytes"
    return 1
  fi
  h1=$(sha256sum <"$src") && h2=$(sha256sum <"$dst") || return 1
  if [ "${h1%% *}" != "${h2%% *}" ]; then
    log "sha256 mismatch for ${src##*/}: source ${h1%% *}, copy ${h2%% *}"
    return 1
  fi
  COPY_SUMS+=("${h1%% *}  ${src##*/}")
  COPY_SIZES+=("$s1  ${src##*/}")
  COPY_BYTES=$((COPY_BYTES + s1))
}

files_in() {  # files_in DIR: every regular file under DIR, as paths relative to it, NUL-separated
  (cd -- "$1" && find . -type f -print0 | sort -z)
}

copy_verified_dir() {  # copy_verified_dir SRC DST: a checkpoint directory, copied whole to a temp
  # name, each file's size and sha256 compared, and only then renamed into place
  local src=$1 dst=$2 tmp old err rel s1 s2 h1 h2 name=${1##*/}
  local -a sums=() sizes=()
  tmp="${dst%/*}/.${dst##*/}.rgt-tmp"
  old="${dst%/*}/.${dst##*/}.rgt-old"
  rm -rf -- "$tmp" "$old"
  if ! err=$(cp -R -- "$src" "$tmp" 2>&1); then
    log "copy of $name/ failed: $err"
    rm -rf -- "$tmp"
    return 1
  fi
  sync 2>/dev/null || true
  local problem=""
  while IFS= read -r -d '' rel; do
    rel=${rel#./}
    case "$rel" in *$'\n'*) problem="a file in $name/ has a newline in its name"; break ;; esac
    if [ ! -f "$tmp/$rel" ]; then
      problem="$name/$rel is missing from the copy"
      break
    fi
    if ! { s1=$(stat -c %s -- "$src/$rel") && s2=$(stat -c %s -- "$tmp/$rel") &&
      h1=$(sha256sum <"$src/$rel") && h2=$(sha256sum <"$tmp/$rel"); }; then
      problem="cannot read $name/$rel"
      break
    fi
    if [ "$s1" != "$s2" ] || [ "${h1%% *}" != "${h2%% *}" ]; then
      problem="size or sha256 mismatch for $name/$rel: source $s1 bytes ${h1%% *}, copy $s2 bytes ${h2%% *}"
      break
    fi
    sums+=("${h1%% *}  $name/$rel")
    sizes+=("$s1  $name/$rel")
  done < <(files_in "$src")
  [ -n "$problem" ] || [ "${#sums[@]}" -gt 0 ] || problem="checkpoint directory $name/ holds no files"
  if [ -n "$problem" ]; then
    log "$problem; the partial copy is removed"
    rm -rf -- "$tmp"
    return 1
  fi
  if [ -e "$dst" ] && ! err=$(mv -f -- "$dst" "$old" 2>&1); then
    log "cannot move the earlier copy of $name/ aside: $err"
    return 1
  fi
  if ! err=$(mv -f -- "$tmp" "$dst" 2>&1); then
    log "rename into $dst failed: $err"
    if [ -e "$old" ]; then mv -f -- "$old" "$dst"; fi  # put the earlier copy back
    return 1
  fi
  rm -rf -- "$old"
  COPY_SUMS+=("${sums[@]}")
  COPY_SIZES+=("${sizes[@]}")
  for rel in "${sizes[@]}"; do COPY_BYTES=$((COPY_BYTES + ${rel%%  *})); done
}

size_of() {  # size_of PATH: bytes of a file, or of every file in a directory
  if [ -d "$1" ]; then
    du -sb -- "$1" | cut -f1
  else
    stat -c %s -- "$1"
  fi
}

local_entries() {  # local_entries NAME: manifest lines for a file or a checkpoint directory in CKPT_DIR
  local rel
  if [ -d "$CKPT_DIR/$1" ]; then
    while IFS= read -r -d '' rel; do
      rel=${rel#./}
      COPY_SUMS+=("$(sha256sum <"$CKPT_DIR/$1/$rel" | cut -d' ' -f1)  $1/$rel")
      COPY_SIZES+=("$(stat -c %s -- "$CKPT_DIR/$1/$rel")  $1/$rel")
    done < <(files_in "$CKPT_DIR/$1")
  else
    COPY_SUMS+=("$(sha256sum <"$CKPT_DIR/$1" | cut -d' ' -f1)  $1")
    COPY_SIZES+=("$(stat -c %s -- "$CKPT_DIR/$1")  $1")
  fi
}

copy_set() {  # copy_set NEWEST: the newest complete checkpoint, its sidecar, and every other
  # regular file that is not an older checkpoint, a temp file or a rolling file (PRUNE)
  local f name g base
  local -a globs
  read -r -a globs <<<"$PRUNE"
  COPY_NAMES=()
  for f in "$CKPT_DIR"/*; do
    name=${f##*/}
    case "$name" in
      *$'\n'*) log "skipping a file whose name holds a newline: not copied" ; continue ;;
    esac
    if [ "$f" = "$1" ] || [ "$f" = "$1.sha256" ] || [ "$f" = "$1.complete" ]; then
      COPY_NAMES+=("$name")
      continue
    fi
    [ -f "$f" ] || continue  # other directories: older checkpoints or the command's own business
    case "$name" in *.tmp | *.rgt-tmp | MANIFEST.sha256 | MANIFEST.sizes) continue ;; esac
    base=$name
    case "$name" in *.sha256) base=${name%.sha256} ;; *.complete) base=${name%.complete} ;; esac
    is_checkpoint "$base" && continue
    for g in ${globs[@]+"${globs[@]}"}; do
      # shellcheck disable=SC2254  # PRUNE holds globs on purpose
      case "$base" in $g) continue 2 ;; esac
    done
    COPY_NAMES+=("$name")
  done
}

write_manifest() {  # write_manifest DIR: MANIFEST.sha256 (sha256sum -c format) and MANIFEST.sizes
  local dir=$1
  printf '%s\n' "${COPY_SUMS[@]}" >"$dir/.MANIFEST.sha256.rgt-tmp" &&
    printf '%s\n' "${COPY_SIZES[@]}" >"$dir/.MANIFEST.sizes.rgt-tmp" &&
    mv -f -- "$dir/.MANIFEST.sha256.rgt-tmp" "$dir/MANIFEST.sha256" &&
    mv -f -- "$dir/.MANIFEST.sizes.rgt-tmp" "$dir/MANIFEST.sizes" &&
    [ -s "$dir/MANIFEST.sha256" ] && [ -s "$dir/MANIFEST.sizes" ]
}

prune() {  # remove rolling checkpoints (PRUNE) once the durable copy is verified
  local f name g
  local -a globs
  read -r -a globs <<<"$PRUNE"
  [ "${#globs[@]}" -gt 0 ] || return 0
  for f in "$CKPT_DIR"/*; do
    { [ -f "$f" ] || [ -d "$f" ]; } || continue
    name=${f##*/}
    for g in ${globs[@]+"${globs[@]}"}; do
      # shellcheck disable=SC2254  # PRUNE holds globs on purpose
      case "$name" in
        $g)
          rm -rf -- "$f" && rm -f -- "$f.sha256" "$f.complete" && log "pruned $name (rolling; durable copy verified)"
          break
          ;;
      esac
    done
  done
}

mark_done() {
  printf '%s %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$1" >"$STATE_DIR/$CELL.done"
  rm -f -- "$STATE_DIR/$CELL.failed" "$STATE_DIR/$CELL.trained"
}

remote_step() {  # the durable copy on an rclone remote: upload, download every file back and
  # compare its sha256 with the local one (a listing or an upload's exit status is not proof, U33)
  local dst="$DURABLE_REMOTE/$CELL" name entry rel want got err manifests
  command -v rclone >/dev/null 2>&1 ||
    fail "$EXIT_DURABLE_FAILED" "DURABLE FAIL $CELL: rclone is not installed on this box; local checkpoint kept in $CKPT_DIR (U33)"
  for name in "${COPY_NAMES[@]}"; do
    local_entries "$name"
    if [ -d "$CKPT_DIR/$name" ]; then
      err=$(rclone copy -- "$CKPT_DIR/$name" "$dst/$name" 2>&1)
    else
      err=$(rclone copyto -- "$CKPT_DIR/$name" "$dst/$name" 2>&1)
    fi || fail "$EXIT_DURABLE_FAILED" "DURABLE FAIL $CELL: rclone could not upload $name to $dst (${err##*$'\n'});" \
      "local checkpoint kept in $CKPT_DIR (U33)"
  done
  manifests="$STATE_DIR/$CELL.manifest"  # written here, uploaded and read back like the rest
  if ! { mkdir -p -- "$manifests" && write_manifest "$manifests"; }; then
    fail "$EXIT_DURABLE_FAILED" "DURABLE FAIL $CELL: cannot write the manifest in $manifests"
  fi
  for name in MANIFEST.sha256 MANIFEST.sizes; do
    err=$(rclone copyto -- "$manifests/$name" "$dst/$name" 2>&1) ||
      fail "$EXIT_DURABLE_FAILED" "DURABLE FAIL $CELL: rclone could not upload $name to $dst (${err##*$'\n'})"
    COPY_SUMS+=("$(sha256sum <"$manifests/$name" | cut -d' ' -f1)  $name")
  done
  COPY_BYTES=0
  for entry in "${COPY_SUMS[@]}"; do
    want=${entry%%  *}
    rel=${entry#*  }
    got=$(rclone cat -- "$dst/$rel" 2>/dev/null | sha256sum) || got=""
    if [ "${got%% *}" != "$want" ]; then
      fail "$EXIT_DURABLE_FAILED" "DURABLE FAIL $CELL: $rel read back from $dst does not match (sha256 ${got%% *}," \
        "expected $want); local checkpoint kept in $CKPT_DIR (U33)"
    fi
  done
  for entry in "${COPY_SIZES[@]}"; do COPY_BYTES=$((COPY_BYTES + ${entry%%  *})); done
  log "DURABLE OK $CELL -> $dst: ${#COPY_SIZES[@]} files, $COPY_BYTES bytes, read back and sha256 verified"
  prune
  mark_done "$dst"
}

durable_step() {  # copy, verify, manifest, and only then say so and prune
  local newest dst name need avail
  COPY_SUMS=()
  COPY_SIZES=()
  COPY_BYTES=0
  newest=$(newest_complete) || newest=""
  if [ -z "$newest" ]; then
    fail "$EXIT_DURABLE_FAILED" "DURABLE FAIL $CELL: no complete checkpoint matching $CKPT_PATTERN in $CKPT_DIR" \
      "(write CKPT.sha256 or CKPT.complete after the rename); nothing copied"
  fi
  copy_set "$newest"
  if [ -n "$DURABLE_REMOTE" ]; then
    remote_step
    return
  fi

  if [ -z "$DURABLE_ROOT" ]; then
    for name in "${COPY_NAMES[@]}"; do  # a manifest for verify_local.py after the pull
      local_entries "$name"
    done
    write_manifest "$CKPT_DIR" || fail "$EXIT_DURABLE_FAILED" "DURABLE FAIL $CELL: cannot write the manifest in $CKPT_DIR"
    if [ "$COPYOUT_GATE" = 1 ]; then
      fail "$EXIT_COPYOUT_REQUIRED" "COPY-OUT REQUIRED before $METER_STOP_VERB: $CELL finished, but its only copy is on" \
        "this box and $METER_STOP_VERB deletes it. Pull $CKPT_DIR to your machine and run" \
        "python3 verify_local.py on it before you $METER_STOP_VERB (U33)"
    fi
    log "LOCAL ONLY $CELL: no durable target; $CKPT_DIR survives $METER_STOP_VERB and holds MANIFEST.sha256"
    mark_done "local $CKPT_DIR"
    return 0
  fi

  dst="$DURABLE_ROOT/$CELL"
  if ! name=$(mkdir -p -- "$dst" 2>&1); then
    fail "$EXIT_DURABLE_FAILED" "DURABLE FAIL $CELL: cannot create $dst ($name); local checkpoint kept in $CKPT_DIR (U33)"
  fi
  need=0
  for name in "${COPY_NAMES[@]}"; do
    need=$((need + $(size_of "$CKPT_DIR/$name")))
  done
  avail=$(df_avail -k "$dst") || avail=""
  case "$avail" in
    '' | *[!0-9]*) log "free space of $dst unknown; copying anyway and verifying" ;;
    *)
      if [ $((avail * 1024)) -lt "$need" ]; then
        fail "$EXIT_DURABLE_FAILED" "DURABLE FAIL $CELL: $dst has $((avail / 1024)) MB free, the copy needs" \
          "$((need / 1048576)) MB; local checkpoint kept in $CKPT_DIR (U7, U33)"
      fi
      ;;
  esac
  for name in "${COPY_NAMES[@]}"; do
    copy_verified "$CKPT_DIR/$name" "$dst/$name" ||
      fail "$EXIT_DURABLE_FAILED" "DURABLE FAIL $CELL: $name did not copy to $dst intact; local checkpoint kept in $CKPT_DIR (U33)"
  done
  write_manifest "$dst" ||
    fail "$EXIT_DURABLE_FAILED" "DURABLE FAIL $CELL: cannot write the manifest in $dst; local checkpoint kept in $CKPT_DIR (U33)"
  log "DURABLE OK $CELL -> $dst: ${#COPY_SUMS[@]} files, $COPY_BYTES bytes, size and sha256 verified"
  prune
  mark_done "$dst"
}
