# The check runner's output capture (loaded by runner.pl): a check's stdout
# and stderr written to its log folder in the keepers' format (keeper-log.pl
# and keeper-log.c are the reference), so `ham logs NAME/=detector` reads it:
#   2026-12-01T18:46:03.123Z err 3 the line, escaped
# rotated at the folder's maxBytes keeping `keep` older files, lines cut at
# 16 KiB. Written here, not by the HAM: a check's flood costs the runner (a
# process of its own, one read at a time per check), never the HAM's loop.
# At most RUN_KEPT bytes of one run are kept (a check is a probe: a check
# that floods is drained and the rest counted, not escaped byte by byte:
# Perl escapes binary at about 1 MB/s, text at several).
# A write that fails drops the lines and counts them; the count is said in
# the folder once a write works again, by this run or a later one.
use strict;
use warnings;
use Fcntl qw(O_WRONLY O_APPEND O_CREAT O_NOFOLLOW O_NONBLOCK);
use Time::HiRes ();

my $LINE_MAX = 16384;
my $RUN_KEPT = 256 << 10;
my %dropped;    # folder => [lines, why]: said before the next line that gets through
my %lesc = ("\\" => "\\\\", "\t" => "\\t", "\r" => "\\r");
my @lname = ('out', 'err');

# A run's log: undef when its output is not kept.
sub rlog_new {
  my ($dir, $max, $keep, $inst) = @_;
  return undef unless defined $dir && $dir ne '';
  $max = 10485760 unless defined $max && $max =~ /^\d{1,12}$/;
  $max = 1024 if $max < 1024;
  $keep = 5 unless defined $keep && $keep =~ /^\d{1,12}$/;
  $keep = 1000 if $keep > 1000;
  $inst = 0 unless defined $inst && $inst =~ /^\d{1,15}$/;
  return { dir => $dir, max => $max, keep => $keep, inst => $inst, part => ['', ''], taken => 0, over => 0, fh => undef, size => 0, out => '' };
}

sub stamp {
  my $t = Time::HiRes::time();
  my @g = gmtime($t);
  return sprintf('%04d-%02d-%02dT%02d:%02d:%02d.%03dZ', $g[5] + 1900, $g[4] + 1, @g[3, 2, 1, 0], ($t - int $t) * 1000);
}

sub escape {
  my ($s) = @_;
  $s =~ s{([\x00-\x1f\x7f\\]|[\xc2-\xdf][\x80-\xbf]|\xe0[\xa0-\xbf][\x80-\xbf]|[\xe1-\xec\xee\xef][\x80-\xbf]{2}|\xed[\x80-\x9f][\x80-\xbf]|\xf0[\x90-\xbf][\x80-\xbf]{2}|[\xf1-\xf3][\x80-\xbf]{3}|\xf4[\x80-\x8f][\x80-\xbf]{2}|[\x80-\xff])}{length($1) > 1 ? $1 : $lesc{$1} // sprintf('\\x%02x', ord $1)}ge
    if $s =~ /[^\x20-\x5b\x5d-\x7e]/;
  return $s;
}

sub emit {
  my ($l, $k, $s, $cut, $ts) = @_;
  $l->{out} .= "$ts $lname[$k] $l->{inst} " . escape($s) . ($cut ? " [ham: line cut at $LINE_MAX bytes]" : '') . "\n";
}

# Bytes of stdout (0) or stderr (1) of the run: whole lines out, the rest kept for later.
sub rlog_take {
  my ($l, $k, $data) = @_;
  return unless $l;
  my $room = $RUN_KEPT - $l->{taken};
  if (length($data) > $room) {
    $l->{over} += length($data) - ($room > 0 ? $room : 0);
    $data = $room > 0 ? substr($data, 0, $room) : '';
  }
  return if $data eq '';
  $l->{taken} += length $data;
  my $ts = stamp();
  my $buf = $l->{part}[$k] . $data;
  my ($at, $nl) = (0, 0);
  while (($nl = index($buf, "\n", $at)) >= 0) {    # by index: no copy of the rest per line
    my $line = substr($buf, $at, $nl - $at);
    $at = $nl + 1;
    emit($l, $k, substr($line, 0, $LINE_MAX, ''), 1, $ts) while length($line) > $LINE_MAX;
    emit($l, $k, $line, 0, $ts);
  }
  $l->{part}[$k] = substr($buf, $at);
  emit($l, $k, substr($l->{part}[$k], 0, $LINE_MAX, ''), 1, $ts) while length($l->{part}[$k]) > $LINE_MAX;
  flush($l);
}

# The run ended: a line without its newline goes out as it is, and what was not kept is said.
sub rlog_end {
  my ($l) = @_;
  return unless $l;
  my $ts = stamp();
  for my $k (0, 1) {
    emit($l, $k, $l->{part}[$k], 0, $ts) if $l->{part}[$k] ne '';
    $l->{part}[$k] = '';
  }
  $l->{out} .= "$ts ham 0 [ham: $l->{over} more bytes of this run not kept: over $RUN_KEPT bytes in one run]\n" if $l->{over};
  flush($l);
  close $l->{fh} if $l->{fh};
  $l->{fh} = undef;
}

# The folder ours (made 0700 if missing), `current` a plain file of ours; else $! says why.
sub open_current {
  my ($l) = @_;
  my $d = $l->{dir};
  mkdir $d, 0700;
  lstat $d or return 0;
  return ($! = 20, 0)[1] unless -d _;                                          # ENOTDIR
  return ($! = 1, 0)[1] unless (stat _)[4] == $> && !((stat _)[2] & 022);    # EPERM
  sysopen(my $fh, "$d/current", O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK, 0600) or return 0;
  return ($! = 1, 0)[1] unless -f $fh && (stat $fh)[4] == $>;               # a FIFO or another's file: never waited on
  ($l->{fh}, $l->{size}) = ($fh, -s $fh);
  return 1;
}

sub rotate {
  my ($l) = @_;
  my $d = $l->{dir};
  close $l->{fh};
  $l->{fh} = undef;
  rename("$d/" . ($_ - 1), "$d/$_") for reverse 2 .. $l->{keep};
  if   ($l->{keep} > 0) { rename("$d/current", "$d/1") }
  else                  { unlink "$d/current" }
}

sub flush {
  my ($l) = @_;
  return if $l->{out} eq '';
  my $out = $l->{out};
  $l->{out} = '';
  my $d = $dropped{$l->{dir}};
  my $note = $d ? stamp() . " ham 0 [ham: $d->[0] lines dropped: the log could not be written ($d->[1])]\n" : '';
  $out = $note . $out;
  my ($ok, $sent, $rotated) = (($l->{fh} || open_current($l)) ? 1 : 0, 0, 0);
  while ($ok && $out ne '') {
    # Rotated before a line that would take `current` over its bound (unless it is empty,
    # or was just rotated: a rename that failed must not loop).
    my $n = 0;
    while ($n < length $out) {
      my $e = index($out, "\n", $n);
      $e = $e < 0 ? length $out : $e + 1;
      last if $l->{size} + $e > $l->{max} && $l->{size} + $n > 0 && !($rotated && $n == 0);
      $n = $e;
    }
    if ($n == 0) {
      rotate($l);
      $ok = open_current($l);
      $rotated = 1;
      next;
    }
    my $w = syswrite($l->{fh}, $out, $n);
    unless (defined $w && $w == $n) {
      $ok = 0;
      $! = 28 if defined $w;    # ENOSPC: a short write
      last;
    }
    ($l->{size}, $sent, $rotated) = ($l->{size} + $n, $sent + $n, 0);
    substr($out, 0, $n, '');
  }
  if ($ok) {
    delete $dropped{$l->{dir}};
    return;
  }
  # What did not go, counted (the note is not a line of the check's; if it went, its count was said).
  my $noted = $sent >= length $note;
  my $lost = ($out =~ tr/\n//) - ($noted ? 0 : ($note ne '' ? 1 : 0)) + ($d && !$noted ? $d->[0] : 0);
  $dropped{$l->{dir}} = [$lost, "$!"];
  close $l->{fh} if $l->{fh};
  $l->{fh} = undef;
}

1;
