# gawk: associative arrays, printf, commands read through a pipe
# ("cmd" | getline, closed with pclose) and run with system().
BEGIN {
  for (i = 1; i <= 50; i++) {
    cmd = "echo " i " | md5sum"
    cmd | getline line
    rc = close(cmd)
    split(line, f, " ")
    count[substr(f[1], 1, 1)]++
    printf "%d %s close=%d\n", i, f[1], rc
    fflush()
    rc = system("sleep 0.06; exit " (i % 3))
    printf "%d system=%d\n", i, rc
  }
  n = asorti(count, keys)
  for (k = 1; k <= n; k++) printf "%s=%d ", keys[k], count[keys[k]]
  print ""
  print "done"
}
