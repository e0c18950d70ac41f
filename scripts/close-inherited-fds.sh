# Sourced by the demo and benches: closes descriptors above stderr that the
# environment leaked into this shell, so the programs started here inherit
# only stdio, as in a batch job (pipes held by other programs cannot be
# checkpointed yet).
for _fd in /proc/$BASHPID/fd/*; do
  _fd=${_fd##*/}
  if [ "$_fd" -gt 2 ] 2>/dev/null; then eval "exec $_fd>&-" 2>/dev/null || true; fi
done
unset _fd
