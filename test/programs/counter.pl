#!/usr/bin/perl
# Prints "perl N" for N = 1..LAST (argv[0], default 60) every 100 ms, then
# the job's variables as a child sees them ("env NAME=VALUE"), then "done";
# exits 0. Perl frees its copy of the environment at exit, so any environ
# entry it does not own aborts it there (free(): invalid pointer). With
# "shorten" (argv[1]), STASIS_TOKEN is first cut to 8 characters: a new
# token no longer fits in its string.
use strict;
use warnings;
$| = 1;
my $last = $ARGV[0] // 60;
$ENV{STASIS_TOKEN} = substr($ENV{STASIS_TOKEN}, 0, 8) if ($ARGV[1] // '') eq 'shorten';
for my $n (1 .. $last) {
  print "perl $n\n";
  select(undef, undef, undef, 0.1);
}
system('sh', '-c', "echo env $_=\$$_") == 0 or die "sh: $?" for qw(STASIS_COORD STASIS_TOKEN);
print "done\n";
exit 0;
