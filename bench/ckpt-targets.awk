# bench/checkpoint.sh's summary: medians per mode and issue 15's targets.
# Input lines: run mode ckpt_s image_bytes pause_ms first_s pass_s floor_s
# floor4k_s floorthp_s (floor_s the lesser);
# -v cli=SECONDS (the CLI's start). A ratio is taken within each run (side
# by side) and its median printed. DMTCP's reference is its --no-gzip mode.
function median(list,   a, n, i, j, t) {
  n = split(list, a, " ")
  if (n == 0) return ""
  for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
  return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
function verdict(ok) { return ok ? "PASS" : "MISS" }
{
  if (!($2 in seen)) { seen[$2] = 1; modes[++nm] = $2 }
  if (!($1 in runs)) { runs[$1] = 1; nr++ }
  for (c = 3; c <= 10; c++) { v[$1, $2, c] = $c; col[$2, c] = col[$2, c] " " $c }
}
END {
  D = "dmtcp-nogzip"
  hasd = (D in seen)
  printf "medians of %d run(s):\n", length(runs)
  printf "  %-14s %8s %9s %9s %8s %8s %8s %9s %10s\n", "mode", "ckpt_s", "image_MiB", "pause_ms", "first_s", "pass_s", "floor_s", "floor4k_s", "floorthp_s"
  for (i = 1; i <= nm; i++) {
    m = modes[i]
    printf "  %-14s %8.3f %9.1f %9.1f %8.3f %8.3f %8.3f %9.3f %10.3f\n", m, median(col[m, 3]), median(col[m, 4]) / 1048576,
      median(col[m, 5]), median(col[m, 6]), median(col[m, 7]), median(col[m, 8]), median(col[m, 9]), median(col[m, 10])
  }
  # Per-run ratios, medians.
  for (i = 1; i <= nm; i++) {
    m = modes[i]
    for (r in runs) {
      if (!((r, m, 3) in v)) continue
      pf[m] = pf[m] " " v[r, m, 7] / v[r, m, 8]
      if (hasd && (r, D, 3) in v) {
        ck[m] = ck[m] " " v[r, m, 3] / v[r, D, 3]
        pd[m] = pd[m] " " v[r, m, 7] / v[r, D, 7]
      }
    }
  }
  print "ratios (median of each run's ratio; DMTCP = " (hasd ? D : "not measured") "):"
  printf "  %-14s %11s %11s %10s\n", "mode", "ckpt/DMTCP", "pass/DMTCP", "pass/floor"
  for (i = 1; i <= nm; i++) {
    m = modes[i]
    printf "  %-14s %11s %11s %10.2f\n", m, hasd ? sprintf("%.2f", median(ck[m])) : "-", hasd ? sprintf("%.2f", median(pd[m])) : "-", median(pf[m])
  }
  print "issue 15 targets:"
  p = median(col["stasis-forked", 5])
  printf "  pause with --forked <= 50 ms: %.1f ms %s\n", p, verdict(p <= 50)
  line = ""
  for (i = 1; i <= nm; i++) if (modes[i] ~ /^stasis/) {
    m = modes[i]
    line = line sprintf("  %s %s", m, hasd ? sprintf("%.2fx %s", median(ck[m]), verdict(median(ck[m]) <= 0.5)) : "-")
  }
  printf "  checkpoint wall <= 0.5x DMTCP's uncompressed%s:\n   %s\n", hasd ? sprintf(" (%.3f s)", median(col[D, 3])) : " (no DMTCP: not measured)", line
  limit = 0.1 + cli
  line = ""
  for (i = 1; i <= nm; i++) if (modes[i] ~ /^stasis/) {
    m = modes[i]
    line = line sprintf("  %s %.3f s %s", m, median(col[m, 6]), verdict(median(col[m, 6]) <= limit))
  }
  printf "  restart to first progress <= 0.1 s + the CLI's start (%.3f s) = %.3f s:\n   %s\n", cli, limit, line
  # The floor forbids 0.5x DMTCP when it is above half of DMTCP's time.
  floorcase = !hasd || median(col[D, 8]) > 0.5 * median(col[D, 7])
  line = ""
  for (i = 1; i <= nm; i++) if (modes[i] ~ /^stasis/) {
    m = modes[i]
    if (floorcase) line = line sprintf("  %s %.2fx floor %s", m, median(pf[m]), verdict(median(pf[m]) <= 1.15))
    else line = line sprintf("  %s %.2fx DMTCP %s", m, median(pd[m]), verdict(median(pd[m]) <= 0.5))
  }
  if (!hasd) how = "no DMTCP: <= 1.15x the floor"
  else if (floorcase) how = sprintf("the floor (%.3f s) is above 0.5x DMTCP's %.3f s, so <= 1.15x the floor", median(col[D, 8]), median(col[D, 7]))
  else how = sprintf("<= 0.5x DMTCP's %.3f s (the floor, %.3f s, allows it)", median(col[D, 7]), median(col[D, 8]))
  printf "  restart to a full pass: %s:\n   %s\n", how, line
}
