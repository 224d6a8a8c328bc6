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
# Commands on DIR/ctl, one line each, SEQ = the death record they answer:
#   r SEQ         start the command again      x SEQ   exit
# SIGUSR1 detaches: the keeper exits and leaves the entity running.
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
my @quiet = qw(HUP INT QUIT TERM PIPE USR2 TSTP TTIN TTOU);
$SIG{$_} = 'IGNORE' for @quiet;
$SIG{USR1} = sub { exit 0 };

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
        while ($pending =~ s/^([rx]) (\d+)\n//) {
            next unless $2 == $death;    # an answer to an older death: stale
            return $1;
        }
        my $r = '';
        vec($r, fileno($ctl), 1) = 1;
        my $n = select(my $ro = $r, undef, undef, $tick);
        if ($n > 0) {
            my $got = sysread($ctl, my $buf, 256);
            $pending .= $buf if $got;
            next;
        }
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

sub start {
    return record("F 2") unless @argv;    # adopted without a command: ENOENT
    $ENV{HAM_INSTANCE} = ++$instance;
    pipe(my $r, my $w) or return record("F " . ($! + 0));
    my $pid = fork;
    return record("F " . ($! + 0)) unless defined $pid;
    if ($pid == 0) {
        close $r;
        setpgrp(0, 0);
        $SIG{$_} = 'DEFAULT' for @quiet, 'USR1';
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
        return record("F $err");
    }
    record("S $pid");
    waitpid($pid, 0);
    return record("X $pid $?");
}

# An orphan whose keeper was killed: not our child, so wait on a pidfd
# (pidfd_open is 434 on every Linux architecture); its status is unknown.
sub watch {
    my ($pid) = @_;
    my $fd = syscall(434, $pid + 0, 0);
    if ($fd >= 0 && open(my $h, '<&=', $fd)) {
        my $bits = '';
        vec($bits, fileno($h), 1) = 1;
        select(my $rb = $bits, undef, undef, undef) while kill(0, $pid) && !readable($h);
    } else {
        select(undef, undef, undef, 0.2) while kill(0, $pid);
    }
    return record("X $pid -1");
}
sub readable {
    my ($h) = @_;
    my $bits = '';
    vec($bits, fileno($h), 1) = 1;
    return select($bits, undef, undef, 0) > 0;
}

record("K $$");
my $death = $adopt ? watch($adopt) : start();
while (decision($death) eq 'r') {
    $death = start();
}
exit 0;
