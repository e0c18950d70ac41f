# A perl program as users write them: hashes, sprintf, regexes, Digest::MD5,
# backticks and system() (children perl waits for), and its environment
# (perl frees it at exit).
use strict;
use warnings;
use Digest::MD5 qw(md5_hex);
use Time::HiRes qw(sleep);
$| = 1;
$ENV{WORKLOAD_STEP} = 'start';
my %count;
for my $i (1 .. 50) {
  my $h = md5_hex("item $i");
  $count{substr($h, 0, 1)}++;
  my $up = `echo $h | tr a-f A-F`;
  chomp $up;
  my $rc = system('sh', '-c', "exit " . ($i % 3)) >> 8;
  $ENV{WORKLOAD_STEP} = "step $i";
  printf "%d %s %s rc=%d\n", $i, $h, $up, $rc;
  sleep 0.08;
}
print join(' ', map { "$_=$count{$_}" } sort keys %count), "\n";
print "done $ENV{WORKLOAD_STEP}\n";
