# ham keeper's output capture (the Perl fallback's keeper-log.c), loaded by
# keeper.pl. Its variables shared with keeper.pl are package ones (`our`).
our ($mkfifo, $ctl, $life, $detach);
require Time::HiRes;    # the log's times, in ms
require Fcntl;         # O_NOFOLLOW and O_NONBLOCK differ by architecture

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
my $ldraining = 0;    # no keeper now: leave the FIFOs to a new one

# 1 when logging; else the problem is said in DIR/log-problem (the keeper's
# folder: the HAM shows it in `ham status NAME`) and the command keeps ours.
sub log_open {
    my ($kdir) = @_;
    my $ok = log_open_($kdir);
    return 1 if $ok;
    my $why = "$!";
    @lin = ();
    return 0 unless defined $ldir && $ldir ne '';
    print STDERR "keeper $$: the log folder $ldir: $why: the command keeps the keeper's output\n";
    log_problem($kdir, "the log folder $ldir: $why");
    return 0;
}
sub log_open_ {
    return 0 unless defined $ldir && $ldir ne '';
    mkdir $ldir, 0700;
    lstat $ldir or return 0;
    return ($! = 20, 0)[1] unless -d _;    # ENOTDIR, as keeper-log.c says it
    return ($! = 1, 0)[1] unless (stat _)[4] == $> && !((stat _)[2] & 022);    # EPERM
    for my $k (0, 1) {
        my $f = "$ldir/$lfifo[$k]";
        system($mkfifo // 'mkfifo', '-m', '600', $f) unless lstat($f);
        lstat $f or return 0;
        return ($! = 1, 0)[1] unless -p _ && (stat _)[4] == $>;
        open($lin[$k], '+<', $f) or return 0;    # read-write: no EOF, never waits
        # Headroom as root only (keeper-log.c says why): F_GETPIPE_SZ 1032, F_SETPIPE_SZ 1031.
        my $sz = $> == 0 ? fcntl($lin[$k], 1032, 0) : 1 << 20;
        fcntl($lin[$k], 1031, 1 << 20) if !$sz || $sz < (1 << 20);
    }
    # A reader's mark, LOCK_SH|LOCK_NB (keeper-drain.c, klog_others_read, says why).
    for (1 .. 20) { last if flock($lin[0], 5); select(undef, undef, undef, 0.001) }
    # If it fails, lines are counted as dropped until it opens; something planted there is said.
    my $what = log_current() ? undef : log_current_what();
    log_problem($_[0], "the log file $ldir/current $what: its lines are dropped") if defined $what;
    return 1;
}
sub log_problem {
    my ($kdir, $text) = @_;
    my $how = Fcntl::O_WRONLY() | Fcntl::O_CREAT() | Fcntl::O_TRUNC() | Fcntl::O_NOFOLLOW() | Fcntl::O_NONBLOCK();
    if (sysopen(my $f, "$kdir/log-problem", $how, 0600)) {
        print $f "$text\n";
        close $f;
    }
}
# `current` opened never blocking nor followed (a FIFO planted there would hang
# the keeper), then checked on the handle: a regular file of ours, else refused.
sub log_current {
    undef $lcur;
    my $mask = umask 077;
    my $how = Fcntl::O_WRONLY() | Fcntl::O_APPEND() | Fcntl::O_CREAT() | Fcntl::O_NONBLOCK() | Fcntl::O_NOFOLLOW() | Fcntl::O_NOCTTY();
    my $ok = sysopen($lcur, "$ldir/current", $how, 0600);    # close-on-exec: Perl's own, above $^F
    umask $mask;
    unless ($ok && -f $lcur && (stat $lcur)[4] == $>) {
        undef $lcur;
        return 0;
    }
    binmode $lcur;
    $lsize = -s $lcur;
    return 1;
}
# What is at `current` instead of a regular file of ours, or undef (as klog_file_what).
sub log_current_what {
    lstat "$ldir/current" or return undef;
    return "is a symbolic link (never followed), not a regular file" if -l _;
    return "is a FIFO, not a regular file" if -p _;
    return "is a directory, not a regular file" if -d _;
    return "is a socket, not a regular file" if -S _;
    return "is a device, not a regular file" unless -f _;
    return (stat _)[4] == $> ? undef : "is owned by uid " . (stat _)[4] . ", not by the keeper's $>";
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
            exit 0 if $ldraining && log_others_read();    # a new keeper reads now: its lines, not ours
            log_stamp() unless $logs++;
            log_drain($k);
            vec($rb, fileno($lin[$k]), 1) = 0;
        }
        log_flush();
        return $rb if $rb =~ /[^\0]/;
        return undef if defined $timeout && ($timeout = $until - Time::HiRes::time()) <= 0;
    }
}
# No keeper now: ctl and life closed (the HAM sees this keeper gone), the
# command line "ham-log-drain DIR". Then (keeper-drain.c says why) the output is
# read while another process holds the FIFOs, looked for every 3 s, and exit.
sub log_linger {
    $SIG{USR1} = 'IGNORE';    # no keeper now: `ham stop --all`'s detach must not cut a survivor's output
    ($0, $ldraining) = ("ham-log-drain $ldir", 1);
    close $ctl;
    close $life;
    my %paths = map { (readlink("/proc/self/fd/" . fileno($_)) // '') => 1 } @lin;
    delete $paths{''};
    my $who = 0;
    while (%paths && ($who = log_holder(\%paths, $who))) {
        $detach = 0;
        log_select('', 3);
    }
    log_settle();
    exit 0;
}
# A process other than this one with one of the paths open ($last checked first), or 0.
sub log_holder {
    my ($paths, $last) = @_;
    return $last if $last && $last != $$ && log_holds($paths, $last);
    opendir(my $d, '/proc') or return 0;
    for my $pid (grep { /^[1-9]\d*$/ } readdir $d) {
        return $pid if $pid != $$ && $pid != $last && log_holds($paths, $pid);
    }
    return 0;
}
sub log_holds {
    my ($paths, $pid) = @_;
    opendir(my $d, "/proc/$pid/fd") or return 0;
    for (readdir $d) {
        my $l = readlink("/proc/$pid/fd/$_");
        return 1 if defined $l && $paths->{$l};
    }
    return 0;
}
# Another reader holds its shared lock: our LOCK_EX|LOCK_NB fails (else back to LOCK_SH).
sub log_others_read {
    return 1 unless flock($lin[0], 6);
    flock($lin[0], 1);
    return 0;
}
# The keeper ends with no command running (a stop's `x`, a detach, no HAM).
sub log_end {
    exit 0 unless @lin;
    log_linger();
}
# Detached (SIGUSR1) while $pid runs: its output drained until it ends, then as log_end.
sub log_detach {
    my ($pid) = @_;
    exit 0 unless @lin;
    ($detach, $SIG{USR1}) = (0, 'IGNORE');    # as in log_linger
    ($0, $ldraining) = ("ham-log-drain $ldir", 1);    # no longer a keeper
    close $ctl;
    close $life;
    my $fd = syscall(434, $pid + 0, 0);
    my $h;
    undef $h unless $fd >= 0 && open($h, '<&=', $fd);
    while (kill(0, $pid)) {
        $detach = 0;
        my $bits = '';
        vec($bits, fileno($h), 1) = 1 if $h;
        my $rb = log_select($bits, $h ? undef : 0.2);
        last if $h && defined $rb && vec($rb, fileno($h), 1);
    }
    log_settle();
    log_linger();
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

# Whose lines come now (HAM_INSTANCE of the running command).
sub log_instance { $linst = $_[0] }

# In the child before exec: the FIFOs as stdout and stderr, read-write (the
# command holds a read end itself: never SIGPIPE, whoever else died).
sub log_child {
    return unless @lin;
    open(STDOUT, '+<', "$ldir/$lfifo[0]");
    open(STDERR, '+<', "$ldir/$lfifo[1]");
}
1;
