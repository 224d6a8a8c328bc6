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
# runs, its output is drained to its end: log_detach).
# Waiting for a decision with no HAM: the HAM holds the read end of DIR/life;
# with nobody there for HAM_KEEPER_ALONE_MS (default 60000) the keeper exits 0.
# Its death record stays in the inbox: the next HAM applies it from there.
# No `use strict; use warnings` at run time: warnings.pm alone costs ~320 KiB
# of PSS per keeper. test/keeper/keeper.test.ts compiles it under both.

my ($dir, $inbox, $tag, $mode) = splice(@ARGV, 0, 4);
my $adopt = $mode eq 'adopt' ? shift @ARGV : 0;
# Ours, not the entity's: taken out of the environment the command inherits.
my $alone_ms = delete $ENV{HAM_KEEPER_ALONE_MS};
$alone_ms = 60000 unless defined $alone_ms && $alone_ms =~ /^\d+$/;
shift @ARGV if @ARGV && $ARGV[0] eq '--';
my @argv = @ARGV;
die "keeper: no command\n" unless @argv || $adopt;

# Only the HAM speaks to a keeper, and only through ctl and SIGUSR1; a stray
# signal to the process group must not orphan the entity.
my @quiet = qw(HUP INT QUIT TERM PIPE USR2 TSTP TTIN TTOU XFSZ);
$SIG{$_} = 'IGNORE' for @quiet;
# The entity running now (0: none), and the one to detach from (set by SIGUSR1).
my ($running, $detach) = (0, 0);
$SIG{USR1} = sub { exit 0 unless $running; $detach = $running };

# The mkfifo tool by its full path: our PATH is the entity's, which may not have it.
my ($mkfifo) = grep { -x $_ } map { "$_/mkfifo" } qw(/usr/bin /bin /usr/local/bin);
for my $f ('ctl', 'life') {
    system($mkfifo // 'mkfifo', '-m', '600', "$dir/$f") unless -p "$dir/$f";
}
# Hold the only write end of life: the HAM reads it and sees EOF when we die.
open(my $rw, '+<', "$dir/life") or die "keeper: life: $!\n";
open(my $life, '>', "$dir/life") or die "keeper: life: $!\n";
close $rw;
open(my $ctl, '+<', "$dir/ctl") or die "keeper: ctl: $!\n";
require Time::HiRes;    # the log's times, in ms

# Output (as keeper-log.c, which says why): the command's stdout and stderr are
# the FIFOs .stdout and .stderr in its log folder, read here and written as
#   2026-12-01T18:46:03.123Z out 3 the line, escaped
# to `current`, rotated at HAM_LOG_MAX_BYTES keeping HAM_LOG_KEEP older files.
my ($ldir, $lmax, $lkeep) = (delete $ENV{HAM_LOG_DIR}, delete $ENV{HAM_LOG_MAX_BYTES}, delete $ENV{HAM_LOG_KEEP});
$lmax = 10485760 unless defined $lmax && $lmax =~ /^\d{1,12}$/;
$lmax = 1024 if $lmax < 1024;
$lkeep = 5 unless defined $lkeep && $lkeep =~ /^\d{1,12}$/;
$lkeep = 1000 if $lkeep > 1000;
my $LINE_MAX = 16384;
my (@lin, $lcur);
my @lpart = ('', '');
my @lsince = (0, 0);    # when a line without its newline began waiting (0: none)
my ($lsize, $lout, $ldropped, $lerr, $ltorn, $lstamp, $linst) = (0, '', 0, '', 0, '', 0);
my @lfifo = ('.stdout', '.stderr');
my @lname = ('out', 'err', 'ham');

sub log_open {
    return 0 unless defined $ldir && $ldir ne '';
    mkdir $ldir, 0700;
    lstat $ldir;
    return 0 unless -d _ && (stat _)[4] == $> && !((stat _)[2] & 022);
    for my $k (0, 1) {
        my $f = "$ldir/$lfifo[$k]";
        system($mkfifo // 'mkfifo', '-m', '600', $f) unless lstat($f);
        lstat $f;
        return 0 unless -p _ && (stat _)[4] == $>;
        open($lin[$k], '+<', $f) or return 0;    # read-write: no EOF, never waits
        my $sz = fcntl($lin[$k], 1032, 0);        # F_GETPIPE_SZ; F_SETPIPE_SZ is 1031
        fcntl($lin[$k], 1031, 1 << 20) if !$sz || $sz < (1 << 20);
    }
    log_current();
    return 1;
}
sub log_current {
    undef $lcur;
    my $f = "$ldir/current";
    return 0 if lstat($f) && !(-f _ && (stat _)[4] == $>);
    my $mask = umask 077;
    my $ok = open($lcur, '>>', $f);
    umask $mask;
    unless ($ok) {
        undef $lcur;
        return 0;
    }
    $lsize = -s $lcur;
    return 1;
}
sub log_rotate {
    close $lcur if $lcur;
    rename("$ldir/" . ($_ - 1), "$ldir/$_") for reverse 2 .. $lkeep;
    if   ($lkeep > 0) { rename("$ldir/current", "$ldir/1") }
    else              { unlink "$ldir/current" }
    log_current();
}
sub log_flush {
    return if $lout eq '';
    log_current() unless $lcur;
    my $w = $lcur ? syswrite($lcur, $lout) : undef;
    if (defined $w && $w == length $lout) {
        ($lsize, $ltorn) = ($lsize + $w, 0);
    } else {
        $lerr = defined $w ? 'No space left on device' : "$!";
        $w //= 0;
        ($lsize, $ltorn) = ($lsize + $w, 1) if $w > 0;
        $ldropped += (substr($lout, $w) =~ tr/\n//);
    }
    $lout = '';
}
sub log_room {
    my ($need) = @_;
    log_flush() if length($lout) + $need > 4 * $LINE_MAX + 16384;
    if ($lsize + length($lout) + $need > $lmax && $lsize + length($lout) > 0) {
        log_flush();
        log_rotate() if $lsize > 0;
    }
}
sub log_stamp {
    my $t = Time::HiRes::time();
    my @g = gmtime($t);
    $lstamp = sprintf('%04d-%02d-%02dT%02d:%02d:%02d.%03dZ', $g[5] + 1900, $g[4] + 1, @g[3, 2, 1, 0], ($t - int $t) * 1000);
}
my %lesc = ("\\" => "\\\\", "\t" => "\\t", "\r" => "\\r");
sub log_emit {
    my ($k, $s, $cut) = @_;
    if ($ldropped && $k != 2) {    # say what went, before the next line that comes through
        log_flush();
        my $d = $ldropped;
        my $m = ($ltorn ? "\n" : '') . "$lstamp ham 0 [ham: $d lines dropped: the log could not be written ($lerr)]\n";
        log_room(length $m);
        $lout .= $m;
        $ldropped = 0;
        log_flush();
        if ($ldropped) {    # still failing: the note is not a line that went, this one is
            $ldropped = $d + 1;
            return;
        }
    }
    $s =~ s{([\x00-\x1f\x7f\\]|[\xc2-\xdf][\x80-\xbf]|\xe0[\xa0-\xbf][\x80-\xbf]|[\xe1-\xec\xee\xef][\x80-\xbf]{2}|\xed[\x80-\x9f][\x80-\xbf]|\xf0[\x90-\xbf][\x80-\xbf]{2}|[\xf1-\xf3][\x80-\xbf]{3}|\xf4[\x80-\x8f][\x80-\xbf]{2}|[\x80-\xff])}{length($1) > 1 ? $1 : $lesc{$1} // sprintf('\\x%02x', ord $1)}ge
      if $s =~ /[^\x20-\x5b\x5d-\x7e]/;
    my $l = "$lstamp $lname[$k] " . ($k == 2 ? 0 : $linst) . " $s" . ($cut ? " [ham: line cut at $LINE_MAX bytes]" : '') . "\n";
    log_room(length $l);
    $lout .= $l;
}
sub log_take {
    my ($k, $data) = @_;
    $lpart[$k] .= $data;
    while ($lpart[$k] =~ s/^([^\n]*)\n//) {
        my $line = $1;
        log_emit($k, substr($line, 0, $LINE_MAX, ''), 1) while length($line) > $LINE_MAX;
        log_emit($k, $line, 0);
    }
    log_emit($k, substr($lpart[$k], 0, $LINE_MAX, ''), 1) while length($lpart[$k]) > $LINE_MAX;
    $lsince[$k] = $lpart[$k] eq '' ? 0 : $lsince[$k] || Time::HiRes::time();
}
# A line without its newline for a second (a prompt, a progress bar) goes out as it is;
# the seconds until the next one is due (undef: none).
sub log_partials {
    my $next;
    for my $k (0, 1) {
        next unless $lsince[$k];
        my $left = $lsince[$k] + 1 - Time::HiRes::time();
        if ($left <= 0) {
            log_stamp();
            log_emit($k, $lpart[$k], 0);
            ($lpart[$k], $lsince[$k]) = ('', 0);
            log_flush();
        } elsif (!defined $next || $left < $next) {
            $next = $left;
        }
    }
    return $next;
}
sub log_drain {
    my ($k) = @_;
    for (1 .. 16) {
        my $got = sysread($lin[$k], my $buf, 65536);
        last unless $got;
        log_take($k, $buf);
        last if $got < 65536 || !log_ready($k);
    }
}
sub log_ready {
    my $b = '';
    vec($b, fileno($lin[$_[0]]), 1) = 1;
    return select($b, undef, undef, 0) > 0;
}
# select(2) on $bits and the FIFOs together, draining the FIFOs: the ready
# bits among $bits, or undef at the timeout (undef: none) or on a signal.
sub log_select {
    my ($bits, $timeout) = @_;
    my $until = defined $timeout ? Time::HiRes::time() + $timeout : undef;
    while (1) {
        return undef if $detach;    # the caller looks now
        my $all = $bits;
        vec($all, fileno($_), 1) = 1 for @lin;
        my ($due, $wait) = (log_partials(), $timeout);
        $wait = $due if defined $due && (!defined $wait || $due < $wait);
        my $n = select(my $rb = $all, undef, undef, $wait);
        return undef if $n < 0 || ($n == 0 && (defined $timeout && $wait == $timeout));
        $rb = '' if $n == 0;
        my $logs = 0;
        for my $k (0 .. $#lin) {
            next unless vec($rb, fileno($lin[$k]), 1);
            log_stamp() unless $logs++;
            log_drain($k);
            vec($rb, fileno($lin[$k]), 1) = 0;
        }
        log_flush();
        return $rb if $rb =~ /[^\0]/;
        return undef if defined $timeout && ($timeout = $until - Time::HiRes::time()) <= 0;
    }
}
# Detached (SIGUSR1) while $pid runs: ctl and life closed (the HAM sees this
# keeper gone), its output drained until it ends, then exit.
sub log_detach {
    my ($pid) = @_;
    exit 0 unless @lin;
    $detach = 0;
    $0 = "ham-log-drain $ldir";    # no longer a keeper
    close $ctl;
    close $life;
    my $fd = syscall(434, $pid + 0, 0);
    my $h;
    undef $h unless $fd >= 0 && open($h, '<&=', $fd);
    while (kill(0, $pid)) {
        my $bits = '';
        vec($bits, fileno($h), 1) = 1 if $h;
        my $rb = log_select($bits, $h ? undef : 0.2);
        last if $h && defined $rb && vec($rb, fileno($h), 1);
    }
    log_settle();
    exit 0;
}
# The command ended: what its pipes hold and a line without its newline go out.
sub log_settle {
    return unless @lin;
    log_stamp();
    for my $k (0, 1) {
        log_drain($k) if log_ready($k);
        log_emit($k, $lpart[$k], 0) if $lpart[$k] ne '';
        ($lpart[$k], $lsince[$k]) = ('', 0);
    }
    log_flush();
}

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
    while (1) {
        exit 0 if $detach;
        my $c = next_command($death);
        return $c if defined $c;
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
    $ENV{HAM_INSTANCE} = $linst = ++$instance;
    pipe(my $r, my $w) or return failed($! + 0);
    my $pid = fork;
    return failed($! + 0) unless defined $pid;
    if ($pid == 0) {
        close $r;
        setpgrp(0, 0);
        $SIG{$_} = 'DEFAULT' for @quiet, 'USR1';
        if (@lin) {    # read-write: the command holds a read end itself (never SIGPIPE)
            open(STDOUT, '+<', "$ldir/$lfifo[0]");
            open(STDERR, '+<', "$ldir/$lfifo[1]");
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

$linst = $instance;    # an orphan's: HAM_INSTANCE names the next start
unless (log_open()) {
    @lin = ();
    print STDERR "keeper $$: the log folder: $!: the command keeps the keeper's output\n";
}
record("K $$");
my $death = $adopt ? watch($adopt) : 0;
while (1) {
    $death = start() while $death == 0;
    last unless decision($death) eq 'r';
    $death = 0;
}
exit 0;
