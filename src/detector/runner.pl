#!/usr/bin/perl
# The check runner: forks and execs check detectors for the HAM, so the HAM
# (a 50 MB Node process, whose every fork costs milliseconds of event loop)
# only writes and reads lines. Each check runs without a shell, in its own
# process group, with the environment it is given; at its timeout the whole
# group is SIGKILLed. When the check ends, what is left of its group is killed
# too. When the HAM goes (stdin EOF), every check goes with it: a takeover
# never leaves a check running twice.
#
# A check's child that calls setsid leaves its group, out of reach of that
# kill. So the runner is a child subreaper (prctl PR_SET_CHILD_SUBREAPER):
# whatever a check leaves behind is reparented to the runner, not to init.
# Each check carries HAM_CHECK_RUN (runner pid.id) in its environment, which
# its descendants inherit; after every reap, an adopted orphan is SIGKILLed
# (with its group) unless it carries the mark of a check still running: what
# a check leaves behind dies when it ends, by a timeout or a normal exit (as
# systemd's KillMode=control-group). An orphan without a mark (it cleared its
# environment) cannot be told apart: it is killed at once. Every child is
# reaped (waitpid -1), orphans included: no zombies.
#
# Requests on stdin, one a line, tab-separated, %-escaped (%25 %09 %0A):
#   ID  TIMEOUT_MS  ARGC  ARG...  ENVC  K=V...  [LOGDIR  MAXBYTES  KEEP  INSTANCE]
# With a LOGDIR, the check's stdout and stderr are kept there (runner-log.pl).
# Answers on stdout:
#   ID  CODE  SIGNAL  MS  TIMEDOUT  LASTLINE
# CODE is empty when killed by a signal; SIGNAL is a number or empty.
use strict;
use warnings;
use POSIX qw(:sys_wait_h setpgid _exit);
use Time::HiRes qw(time);
use IO::Handle;

$SIG{PIPE} = 'IGNORE';
# A child's exit wakes the select loop through a self-pipe (no lost wakeup).
pipe(my $wake_r, my $wake_w) or die "pipe: $!";
$wake_r->blocking(0); $wake_w->blocking(0);
$SIG{CHLD} = sub { syswrite($wake_w, 'x') };
STDOUT->autoflush(1);
# prctl's number per architecture (perl-base has no syscall.ph); 36 = PR_SET_CHILD_SUBREAPER.
my %PRCTL = (x86_64 => 157, aarch64 => 167, riscv64 => 167, loongarch64 => 167, i386 => 172, i686 => 172, armv7l => 172, armv6l => 172, s390x => 172, ppc64le => 171, ppc64 => 171);
my $machine = (POSIX::uname())[4];
my $subreaper = defined $PRCTL{$machine} && syscall($PRCTL{$machine}, 36, 1, 0, 0, 0) == 0;
print STDERR "check runner: not a child subreaper on $machine: what a check leaves in a new session outlives it\n" unless $subreaper;
my $KEEP = 4096; # bytes of output kept per check (for its last line)
# The output capture: rlog_new, rlog_take, rlog_end.
require((__FILE__ =~ s{[^/]*$}{}r) . 'runner-log.pl');

sub unesc { my $s = shift; $s =~ s/%([0-9A-Fa-f]{2})/chr(hex($1))/ge; return $s; }
sub esc { my $s = shift; $s =~ s/%/%25/g; $s =~ s/\t/%09/g; $s =~ s/\n/%0A/g; $s =~ s/\r/%0D/g; return $s; }

my %run;    # pid => { id, deadline, fh, out, start, timedout, status }
my %byfd;   # fileno => pid
my $inbuf = '';
my $open = 1;

sub start {
  my ($line) = @_;
  my @f = map { unesc($_) } split /\t/, $line, -1;
  my $id = shift @f; my $timeout = shift @f;
  my $argc = shift @f; my @argv = splice(@f, 0, $argc);
  my $envc = shift @f; my @env = splice(@f, 0, $envc);
  my $log = rlog_new(@f[0 .. 3]);
  # Two pipes: stdout and stderr are kept apart in the log.
  my ($r, $w, $re, $we);
  pipe($r, $w) && pipe($re, $we) or return answer($id, 126, '', 0, 0, "pipe: $!");
  my $parent = $$;
  my $pid = fork();
  if (!defined $pid) { close $_ for grep { $_ } $r, $w, $re, $we; return answer($id, 126, '', 0, 0, "fork: $!"); }
  if ($pid == 0) {
    setpgid(0, 0);
    close $r; close $re;
    open(STDIN, '<', '/dev/null');
    open(STDOUT, '>&', $w); open(STDERR, '>&', $we);
    %ENV = ();
    for my $kv (@env) { my ($k, $v) = split /=/, $kv, 2; $ENV{$k} = $v; }
    $ENV{HAM_CHECK_RUN} = "$parent.$id";
    $SIG{PIPE} = 'DEFAULT';
    { no warnings; exec { $argv[0] } @argv; }
    my $code = ($!{ENOENT} ? 127 : 126);
    print STDERR "cannot execute $argv[0]: $!\n";
    _exit($code);
  }
  close $w; close $we;
  $_->blocking(0) for $r, $re;
  $run{$pid} = { id => $id, mark => "$$.$id", deadline => time + $timeout / 1000, fh => [$r, $re], out => '', start => time, timedout => 0, log => $log };
  $byfd{fileno($r)} = [$pid, 0];
  $byfd{fileno($re)} = [$pid, 1];
}

# Output of a check (stream k: 0 stdout, 1 stderr): its log, and the tail its last line comes from.
sub took {
  my ($c, $k, $buf) = @_;
  rlog_take($c->{log}, $k, $buf);
  $c->{out} .= $buf;
  $c->{out} = substr($c->{out}, -$KEEP) if length($c->{out}) > 2 * $KEEP;
}

sub answer {
  my ($id, $code, $sig, $ms, $timedout, $last) = @_;
  print STDOUT join("\t", $id, $code, $sig, $ms, $timedout, esc($last)), "\n";
}

sub finish {
  my ($pid) = @_;
  my $c = delete $run{$pid};
  for my $fh (@{$c->{fh}}) { delete $byfd{fileno($fh)}; close $fh; }
  rlog_end($c->{log});
  kill 'KILL', -$pid; # what the check left running in its group...
  sweep(0);           # ...and elsewhere: its answer comes after the kill
  my $st = $c->{status};
  my ($code, $sig) = (($st & 127) ? ('', $st & 127) : ($st >> 8, ''));
  my @lines = grep { /\S/ } split /\n/, $c->{out};
  my $last = @lines ? $lines[-1] : '';
  $last = substr($last, 0, 512);
  answer($c->{id}, $code, $sig, int((time - $c->{start}) * 1000), $c->{timedout}, $last);
}

# The mark of the check a process descends from, from its environment (undef: none).
sub mark_of {
  my ($pid) = @_;
  open(my $f, '<', "/proc/$pid/environ") or return undef;
  local $/;
  my $env = <$f> // '';
  close $f;
  return $env =~ /(?:^|\0)HAM_CHECK_RUN=([^\0]*)/ ? $1 : undef;
}

# Kill the orphans adopted from checks that ended (all of them when `all`).
sub sweep {
  my ($all) = @_;
  return unless $subreaper;
  open(my $f, '<', "/proc/$$/task/$$/children") or return;
  my @kids = split ' ', (<$f> // '');
  close $f;
  my %live = map { $run{$_}{mark} => 1 } keys %run;
  for my $pid (@kids) {
    next if $run{$pid} && !$all;    # a check itself
    my $mark = $all ? undef : mark_of($pid);
    next if defined $mark && $live{$mark};
    kill 'KILL', -$pid; kill 'KILL', $pid;
  }
}

for (;;) {
  # Reap what exited (checks and orphans alike); answer once its output is
  # drained (or it is gone for good); then kill what ended checks left behind.
  my $reaped = 0;
  while ((my $pid = waitpid(-1, WNOHANG)) > 0) {
    $reaped++;
    next unless $run{$pid};
    $run{$pid}{status} = $?;
    # Read what is left without waiting for grandchildren that hold the pipe.
    # At most 1 MiB: a grandchild that keeps writing must not hold the loop.
    for my $k (0, 1) {
      my $buf; my $reads = 0; while ($reads++ < 16 && defined(my $n = sysread($run{$pid}{fh}[$k], $buf, 65536))) {
        last if $n == 0;
        took($run{$pid}, $k, $buf);
      }
    }
    finish($pid);
  }
  sweep(0) if $reaped;
  my $now = time;
  my $next = 1;
  for my $pid (keys %run) {
    my $c = $run{$pid};
    next if defined $c->{status};
    if (!$c->{timedout} && $now >= $c->{deadline}) { $c->{timedout} = 1; kill 'KILL', -$pid; kill 'KILL', $pid; }
    my $left = $c->{deadline} - $now;
    $next = $left if $left > 0 && $left < $next;
  }
  $next = 0.25 if $next > 0.25 && %run; # a safety net: SIGCHLD wakes select anyway
  my $rin = '';
  vec($rin, fileno(STDIN), 1) = 1 if $open;
  vec($rin, $_, 1) = 1 for keys %byfd;
  vec($rin, fileno($wake_r), 1) = 1;
  my $n = select(my $rout = $rin, undef, undef, $next);
  next if $n <= 0;
  if (vec($rout, fileno($wake_r), 1)) { my $x; 1 while sysread($wake_r, $x, 4096); }
  if ($open && vec($rout, fileno(STDIN), 1)) {
    my $got = sysread(STDIN, my $buf, 65536);
    if (!$got) {
      # The HAM is gone: so is every check it started.
      kill 'KILL', -$_ for keys %run;
      sweep(1);
      exit 0;
    }
    $inbuf .= $buf;
    while ($inbuf =~ s/^([^\n]*)\n//) { start($1) if length $1; }
  }
  # stdout before stderr when both have output waiting: a check's last words are
  # usually its error, after its progress (and that is its last line, below).
  for my $fd (sort { $byfd{$a}[1] <=> $byfd{$b}[1] } keys %byfd) {
    next unless vec($rout, $fd, 1);
    my ($pid, $k) = @{$byfd{$fd}};
    my $c = $run{$pid};
    my $got = sysread($c->{fh}[$k], my $buf, 65536);
    if ($got) {
      took($c, $k, $buf);
    } elsif (defined $got) {
      # EOF: stop watching; the answer comes when it is reaped.
      delete $byfd{$fd};
    }
  }
}
