#!/usr/bin/perl
# ham keeper: the tiny parent of one entity (the runsv / s6-supervise pattern).
#
# It outlives any HAM, so an entity's exit status is always recorded by its
# parent, whichever process holds the HAM role. It decides nothing: it starts
# the command, reports what happened as files in the inbox, and waits for the
# HAM's decision on its ctl FIFO. Perl, without POSIX (which costs 10 ms to
# load): ~2 ms to start, ~4 MB RSS, and the exact wait status (signal, core).
#
# usage: keeper.pl DIR INBOX TAG start -- ARGV...
#        keeper.pl DIR INBOX TAG adopt PID -- ARGV...   (watch an orphan via pidfd)
#
# Records (one file each, written then renamed into INBOX as TAG-SEQ):
#   K PID         keeper PID up, holding DIR/life open for writing
#   P PID         forked PID for the command (before exec: if the keeper dies
#                 now, the HAM still knows which process to adopt)
#   S PID         the command was exec'd as PID (in its own process group)
#   F ERRNO       the command could not be exec'd
#   X PID STATUS  PID ended; STATUS is the raw wait status, -1 when unknown
#   X PID STATUS o  the same, and the keeper is restarting it by its standing
#                 order (P/S or F follow at once): the HAM counts that restart
# Commands on DIR/ctl, one line each, SEQ = the death record they answer:
#   r SEQ         start the command again      x SEQ   exit
#   o EPOCH SEQ N MINRUN_MS  a standing order: at the next N deaths of a
#                 process that ran at least MINRUN_MS, restart at once without
#                 asking. Taken only if SEQ is the keeper's last record (the HAM
#                 saw everything) and EPOCH is not older than the last order's;
#                 N = 0 revokes (whatever SEQ); N is at most 6. A death that
#                 asks (X without o, F) drops the order. Uptime here is counted
#                 in whole seconds, rounded down (no Time::HiRes to load).
# SIGUSR1 detaches: the keeper leaves the entity running and exits (first, if it
# runs, its output is drained to its end). Any exit drains first while another
# process holds the output FIFOs (a daemon's child): log_linger. A drain
# ignores SIGUSR1 (`ham stop --all` sends it to every keeper it finds alive).
# Waiting for a decision with no HAM: the HAM holds the read end of DIR/life;
# with nobody there for HAM_KEEPER_ALONE_MS (default 60000) the keeper exits 0.
# Its death record stays in the inbox: the next HAM applies it from there.
# No `use strict; use warnings` at run time: warnings.pm alone costs ~320 KiB
# of PSS per keeper. test/keeper/keeper.test.ts compiles it under both.

my ($dir, $inbox, $tag, $mode) = splice(@ARGV, 0, 4);
my $adopt = $mode eq 'adopt' ? shift @ARGV : 0;
# Ours, not the entity's: taken out of the environment the command inherits.
my $alone_ms = delete $ENV{HAM_KEEPER_ALONE_MS};
delete $ENV{HAM_KEEPER_DIR}; # the C keeper's (keeper-title.c): this one keeps its argv as it was
$alone_ms = 60000 unless defined $alone_ms && $alone_ms =~ /^\d+$/;
shift @ARGV if @ARGV && $ARGV[0] eq '--';
my @argv = @ARGV;
die "keeper: no command\n" unless @argv || $adopt;

# Only the HAM speaks to a keeper, and only through ctl and SIGUSR1; a stray
# signal to the process group must not orphan the entity.
my @quiet = qw(HUP INT QUIT TERM PIPE USR2 TSTP TTIN TTOU XFSZ);
$SIG{$_} = 'IGNORE' for @quiet;
# The entity running now (0: none), and the one to detach from (set by SIGUSR1;
# -1 while a decision is awaited: none runs, but its output may still come).
our ($running, $detach, $deciding) = (0, 0, 0);
$SIG{USR1} = sub { exit 0 unless $running || $deciding; $detach = $running || -1 };

# The mkfifo tool by its full path: our PATH is the entity's, which may not have it.
our ($mkfifo) = grep { -x $_ } map { "$_/mkfifo" } qw(/usr/bin /bin /usr/local/bin);
for my $f ('ctl', 'life') {
    system($mkfifo // 'mkfifo', '-m', '600', "$dir/$f") unless -p "$dir/$f";
}
# Hold the only write end of life: the HAM reads it and sees EOF when we die.
open(my $rw, '+<', "$dir/life") or die "keeper: life: $!\n";
open(our $life, '>', "$dir/life") or die "keeper: life: $!\n";
close $rw;
open(our $ctl, '+<', "$dir/ctl") or die "keeper: ctl: $!\n";
# The output capture (keeper-log.pl, as keeper-log.c): log_open, log_select, log_settle, log_detach.
require((__FILE__ =~ s{[^/]*$}{}r) . 'keeper-log.pl');

my $seq = 0;
sub record {
    my ($line) = @_;
    $seq++;
    my $tmp = "$inbox/.$tag-$seq";
    open(my $f, '>', $tmp) or die "keeper: inbox: $!\n";
    print $f "$line\n";
    close $f or die "keeper: inbox: $!\n";
    rename($tmp, "$inbox/$tag-$seq") or die "keeper: inbox: $!\n";
    return $seq;
}

my $pending = '';
# The standing order: restarts left, the uptime it needs (ms), its epoch.
my ($order_n, $order_min, $order_epoch) = (0, 0, 0);
sub take_order {
    my ($epoch, $base, $n, $min) = @_;
    return if $epoch < $order_epoch || $min > 86400000;
    return if $n != 0 && $base != $seq;    # made before records the HAM has not seen
    $n = 6 if $n > 6;
    ($order_epoch, $order_n, $order_min) = ($epoch, $n, $min);
}
# The next answer to death record $death from what ctl gave (orders taken on
# the way, stale answers dropped); $death 0: the command runs, none awaited.
sub next_command {
    my ($death) = @_;
    while ($pending =~ s/^([^\n]*)\n//) {
        my $line = $1;
        if ($line =~ /^o (\d{1,15}) (\d{1,15}) (\d{1,15}) (\d{1,15})$/) {
            take_order($1, $2, $3, $4);
        } elsif ($line =~ /^([rx]) (\d+)$/) {
            return $1 if $death && $2 == $death;    # else an answer to an older death: stale
        }
    }
    $pending = '' if length($pending) >= 512;    # a line with no end: junk
    return undef;
}
# Read what ctl holds (waiting at most $timeout seconds); 1 if something came.
sub read_ctl {
    my ($timeout) = @_;
    my $r = '';
    vec($r, fileno($ctl), 1) = 1;
    return 0 unless defined log_select($r, $timeout);
    my $got = sysread($ctl, my $buf, 512);
    $pending .= $buf if $got;
    return 1;
}

# Is a HAM there? It holds life's read end: a byte written with no reader
# fails (EPIPE; SIGPIPE is ignored). A full pipe means a reader that lags.
sub ham_there {
    my $w = '';
    vec($w, fileno($life), 1) = 1;
    return 1 unless select(undef, my $wo = $w, undef, 0) > 0;
    return defined syswrite($life, "\n", 1);
}
sub decision {
    my ($death) = @_;
    my $tick = $alone_ms < 4000 ? $alone_ms / 4000 : 1;
    my $alone = 0;
    $deciding = 1;
    while (1) {
        log_end() if $detach;
        my $c = next_command($death);
        return ($deciding = $c eq 'x', $c)[1] if defined $c;    # leaving (x): a SIGUSR1 must not cut the drain short
        my $n = read_ctl($tick);
        next if $n > 0;
        next if $n < 0;    # a signal
        if (ham_there()) {
            $alone = 0;
            next;
        }
        $alone += $tick * 1000;
        next if $alone < $alone_ms;
        print STDERR "keeper $$: no HAM for ${alone_ms} ms after death record $death: exiting; the record stays in the inbox\n";
        return 'x';
    }
}

# HAM_INSTANCE comes in as the number of the first start; count on from it.
my $instance = ($ENV{HAM_INSTANCE} // 1) - 1;

# An asking record: the order is dropped.
sub failed {
    $order_n = 0;
    return record("F $_[0]");
}

# Start the command and wait for it: the death record to answer (0: the
# standing order restarts it at once).
sub start {
    return failed(2) unless @argv;    # adopted without a command: ENOENT
    $ENV{HAM_INSTANCE} = ++$instance;
    log_instance($instance);
    pipe(my $r, my $w) or return failed($! + 0);
    my $pid = fork;
    return failed($! + 0) unless defined $pid;
    if ($pid == 0) {
        close $r;
        setpgrp(0, 0);
        $SIG{$_} = 'DEFAULT' for @quiet, 'USR1';
        log_child();
        if (defined(my $cg = delete $ENV{HAM_RUN_CGROUP})) {    # into its cgroup first; a failure is 2048 + errno (keeper-runas.c)
            my $fh;
            unless (open($fh, '>', "$cg/cgroup.procs") && syswrite($fh, $$)) {
                print $w (2048 + $!);
                exit 127;
            }
            close $fh;
        }
        exec { $argv[0] } @argv;
        print $w ($! + 0);    # the pipe is close-on-exec: EOF means exec'd
        exit 127;
    }
    close $w;
    record("P $pid");
    my $err = <$r>;
    close $r;
    if (defined $err) {
        waitpid($pid, 0);
        return failed($err);
    }
    record("S $pid");
    my $since = time;
    $running = $pid;
    my $status = wait_child($pid);
    $running = 0;
    log_settle();
    # What the HAM wrote before the death (a revoke before a stop's signal) comes first.
    next_command(0) while read_ctl(0) > 0;
    next_command(0);
    if ($order_n > 0 && $status != -1 && ($order_min == 0 || (time - $since - 1) * 1000 >= $order_min)) {
        $order_n--;
        record("X $pid $status o");
        return 0;    # restarted by the order: start again
    }
    $order_n = 0;    # asking: the HAM gives a new order after this death
    return record("X $pid $status");
}

# Wait for our child, taking orders from ctl meanwhile (through a pidfd;
# without one, a plain wait: the orders are read at its death).
sub wait_child {
    my ($pid) = @_;
    my $fd = syscall(434, $pid + 0, 0);
    if ($fd >= 0 && open(my $h, '<&=', $fd)) {
        while (1) {
            log_detach($detach) if $detach;
            my $bits = '';
            vec($bits, fileno($h), 1) = 1;
            vec($bits, fileno($ctl), 1) = 1;
            my $rb = log_select($bits, undef);
            next unless defined $rb;
            last if vec($rb, fileno($h), 1);
            next_command(0) if read_ctl(0) > 0;
        }
        close $h;
    }
    return waitpid($pid, 0) == $pid ? $? : -1;
}

# An orphan whose keeper was killed: not our child, so wait on a pidfd
# (pidfd_open is 434 on every Linux architecture); its status is unknown.
sub watch {
    my ($pid) = @_;
    my $fd = syscall(434, $pid + 0, 0);
    if ($fd >= 0 && open(my $h, '<&=', $fd)) {
        my $bits = '';
        vec($bits, fileno($h), 1) = 1;
        $running = $pid;
        log_select($bits, undef), $detach && log_detach($pid) while kill(0, $pid) && !readable($h);
    } else {
        $running = $pid;
        log_select('', 0.2), $detach && log_detach($pid) while kill(0, $pid);
    }
    $running = 0;
    return record("X $pid -1");
}
sub readable {
    my ($h) = @_;
    my $bits = '';
    vec($bits, fileno($h), 1) = 1;
    return select($bits, undef, undef, 0) > 0;
}

log_instance($instance);    # an orphan's: HAM_INSTANCE names the next start
log_open($dir);    # if it fails, the command keeps our stdout and stderr (it says why)
record("K $$");
my $death = $adopt ? watch($adopt) : 0;
while (1) {
    $death = start() while $death == 0;
    last unless decision($death) eq 'r';
    $death = 0;
}
log_end();    # a process the command left may still write: read it first
