/*
 * The keeper's log writer: the entity's stdout and stderr are FIFOs in its log
 * folder (DIR/.stdout, DIR/.stderr), which the keeper reads and writes as lines
 * to DIR/current:
 *   2026-12-01T18:46:03.123Z out 3 the line, escaped
 * (UTC time of reading, ms; out|err|ham; HAM_INSTANCE; the text). Escaped:
 * '\' as \\, tab as \t, CR as \r, other control bytes and bytes that are not
 * UTF-8 as \xNN, so the file is text whatever the entity wrote. A line longer
 * than LINE_MAX bytes is cut there (the piece says so) and goes on in the next.
 * At maxBytes `current` becomes `1`, `1` becomes `2`, ... up to `keep`.
 * A write that fails (disk full) drops the lines and counts them; a `ham` line
 * says how many once writing works again. The entity never waits on the disk.
 *
 * Why FIFOs with fixed names: a keeper that is SIGKILLed leaves the entity
 * running; the keeper that adopts it opens the same FIFOs and reads on. Between
 * the two, the entity's own read-write end keeps it from SIGPIPE, and the
 * pipe's buffer (raised to 1 MiB as root) takes what it writes meanwhile.
 */
#define _GNU_SOURCE
#include "keeper-log.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_BYTES 16384
#define OUT_SIZE (LINE_MAX_BYTES * 4 + 16384) /* a whole line fully escaped, and more */
#define PIPE_ROOM (1 << 20)

static const char *ldir;
static long max_bytes = 10L << 20, keep = 5, inst;
static int cur_fd = -1, dir_fd = -1;
static long cur_size;
static int in_fd[2] = {-1, -1};
static char *line[2];
static size_t line_len[2];
static long line_since[2]; /* when a line without its newline began waiting (0: none) */
static char out[OUT_SIZE];
static size_t out_len;
static unsigned long dropped;
static int drop_errno, torn; /* torn: the last failed write left part of a line */
static char stamp[96];
/* Each stream's line head, made once per read (its time) rather than once per line. */
static char heads[3][128];
static size_t head_len[3];
static const char *const names[3] = {"out", "err", "ham"};

long klog_now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static long env_num(const char *name, long dflt, long max) {
  const char *v = getenv(name);
  long n = dflt;
  if (v && *v && strspn(v, "0123456789") == strlen(v) && strlen(v) < 12) n = strtol(v, NULL, 10);
  unsetenv(name);
  return n > max ? max : n;
}

static void set_stamp(void) {
  struct timespec t;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &t);
  gmtime_r(&t.tv_sec, &tm);
  snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
           tm.tm_sec, t.tv_nsec / 1000000);
  head_len[0] = head_len[1] = head_len[2] = 0;
}

static int open_current(void) {
  cur_fd = klog_file_open(dir_fd, &cur_size);
  return cur_fd < 0 ? -1 : 0;
}

/* current → 1 → 2 ... → keep (the oldest goes). */
static void rotate(void) {
  char from[24], to[24];
  if (cur_fd >= 0) close(cur_fd);
  cur_fd = -1;
  for (long i = keep - 1; i >= 1; i--) {
    snprintf(from, sizeof from, "%ld", i);
    snprintf(to, sizeof to, "%ld", i + 1);
    renameat(dir_fd, from, dir_fd, to);
  }
  if (keep > 0) renameat(dir_fd, "current", dir_fd, "1");
  else unlinkat(dir_fd, "current", 0);
  open_current();
}

static void flush(void) {
  if (out_len == 0) return;
  if (cur_fd < 0 && open_current() != 0) cur_fd = -1;
  ssize_t w = cur_fd < 0 ? -1 : write(cur_fd, out, out_len);
  if (w == (ssize_t)out_len) {
    cur_size += (long)w;
    torn = 0;
  } else {
    if (w > 0) cur_size += (long)w, torn = 1;
    drop_errno = w < 0 ? errno : ENOSPC;
    /* the lines whose newline did not reach the file */
    size_t from = w > 0 ? (size_t)w : 0;
    for (size_t i = from; i < out_len; i++) dropped += out[i] == '\n';
  }
  out_len = 0;
}

static void put(const char *s, size_t n) {
  memcpy(out + out_len, s, n);
  out_len += n;
}

/* Room for a line of up to `need` bytes: flushed first if the buffer is full, rotated first at maxBytes. */
static void room(size_t need) {
  if (out_len + need > OUT_SIZE) flush();
  if (cur_size + (long)(out_len + need) > max_bytes && cur_size + (long)out_len > 0) {
    flush();
    if (cur_size > 0) rotate();
  }
}

static void head(int stream) {
  if (!head_len[stream]) head_len[stream] = (size_t)snprintf(heads[stream], sizeof heads[stream], "%s %s %ld ", stamp, names[stream], stream == 2 ? 0 : inst);
  put(heads[stream], head_len[stream]);
}

/* The length of the UTF-8 sequence at s (1..4), or 0 if it is not one. */
static int utf8_len(const unsigned char *s, size_t n) {
  unsigned char c = s[0];
  int len = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
  if (len == 0 || (size_t)len > n) return 0;
  for (int i = 1; i < len; i++)
    if ((s[i] & 0xc0) != 0x80) return 0;
  if (len == 3 && ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] >= 0xa0))) return 0; /* overlong, surrogate */
  if (len == 4 && ((c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] >= 0x90))) return 0;
  return len;
}

static void emit(int stream, const char *text, size_t n, int cut) {
  static const char hex[] = "0123456789abcdef";
  const unsigned char *s = (const unsigned char *)text;
  char note[64];
  int nn = cut ? snprintf(note, sizeof note, " [ham: line cut at %d bytes]", LINE_MAX_BYTES) : 0;
  if (dropped > 0 && stream != 2) { /* say what went, before the next line that comes through */
    flush();
    unsigned long d = dropped;
    char m[160];
    int k = snprintf(m, sizeof m, "[ham: %lu lines dropped: the log could not be written (%s)]", d, strerror(drop_errno));
    room((size_t)k + 81);
    if (torn) put("\n", 1);
    head(2);
    put(m, (size_t)k);
    put("\n", 1);
    dropped = 0;
    flush();
    if (dropped > 0) { /* still failing: the note is not a line that went, this one is */
      dropped = d + 1;
      return;
    }
  }
  room(n * 4 + 80 + (size_t)nn);
  head(stream);
  for (size_t i = 0; i < n;) {
    unsigned char c = s[i];
    if (c >= 0x20 && c < 0x7f && c != '\\') { /* a run of plain text: one copy */
      size_t j = i + 1;
      while (j < n && s[j] >= 0x20 && s[j] < 0x7f && s[j] != '\\') j++;
      put((const char *)s + i, j - i);
      i = j;
    } else if (c >= 0x80 && utf8_len(s + i, n - i)) {
      int l = utf8_len(s + i, n - i);
      put((const char *)s + i, (size_t)l);
      i += (size_t)l;
    } else {
      out[out_len++] = '\\';
      if (c == '\\' || c == '\t' || c == '\r') out[out_len++] = c == '\\' ? '\\' : c == '\t' ? 't' : 'r';
      else {
        out[out_len++] = 'x';
        out[out_len++] = hex[c >> 4];
        out[out_len++] = hex[c & 15];
      }
      i++;
    }
  }
  put(note, (size_t)nn);
  put("\n", 1);
}

/* Bytes read from stream `k`: whole lines out, the rest kept for the next read. */
static void take(int k, const char *p, size_t n) {
  while (n > 0) {
    const char *nl = memchr(p, '\n', n);
    size_t part = nl ? (size_t)(nl - p) : n;
    size_t fit = LINE_MAX_BYTES - line_len[k];
    if (part > fit) { /* over the bound: cut here, the rest is a new line (exactly full: wait for the next byte) */
      memcpy(line[k] + line_len[k], p, fit);
      emit(k, line[k], LINE_MAX_BYTES, 1);
      line_len[k] = 0;
      line_since[k] = 0;
      p += fit;
      n -= fit;
      continue;
    }
    memcpy(line[k] + line_len[k], p, part);
    line_len[k] += part;
    if (!nl) {
      if (line_len[k] > 0 && !line_since[k]) line_since[k] = klog_now_ms();
      return;
    }
    emit(k, line[k], line_len[k], 0);
    line_len[k] = 0;
    line_since[k] = 0;
    p += part + 1;
    n -= part + 1;
  }
}

/* Read what FIFO k holds now, a bounded amount (the other stream and ctl get their turn). */
static void drain(int k) {
  static char buf[65536];
  for (int round = 0; round < 16; round++) {
    ssize_t r = read(in_fd[k], buf, sizeof buf);
    if (r <= 0) break;
    take(k, buf, (size_t)r);
    if ((size_t)r < sizeof buf) break;
  }
}

static int open_fifo(const char *name) {
  struct stat st;
  if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno != ENOENT || mkfifoat(dir_fd, name, 0600) != 0) return -1;
  }
  /* read-write: no EOF when the writers go, and opening never waits */
  int fd = openat(dir_fd, name, O_RDWR | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return -1;
  if (fstat(fd, &st) != 0 || !S_ISFIFO(st.st_mode) || st.st_uid != geteuid()) {
    close(fd);
    errno = EPERM;
    return -1;
  }
  /* Headroom for the gap a killed keeper leaves; as root only: a user's pipes share
   * a budget (pipe-user-pages-soft) that bigger ones would spend for all its pipes. */
  if (geteuid() == 0 && fcntl(fd, F_GETPIPE_SZ) < PIPE_ROOM) fcntl(fd, F_SETPIPE_SZ, PIPE_ROOM);
  /* A reader's mark (a drain that sees another's leaves: klog_others_read); only a drain's check holds it a moment. */
  for (int i = 0; i < 20 && flock(fd, LOCK_SH | LOCK_NB) != 0; i++) usleep(1000);
  return fd;
}

static char **args;
static int nargs;

static int open_all(void) {
  if (mkdir(ldir, 0700) != 0 && errno != EEXIST) return -1;
  dir_fd = open(ldir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  struct stat st;
  if (dir_fd < 0 || fstat(dir_fd, &st) != 0 || st.st_uid != geteuid() || (st.st_mode & 022)) {
    if (dir_fd >= 0) close(dir_fd), errno = EPERM;
    dir_fd = -1;
    return -1;
  }
  line[0] = malloc(LINE_MAX_BYTES);
  line[1] = malloc(LINE_MAX_BYTES);
  if (!line[0] || !line[1] || (in_fd[0] = open_fifo(".stdout")) < 0 || (in_fd[1] = open_fifo(".stderr")) < 0) return -1;
  char what[96], text[700];
  /* If it fails, lines are counted as dropped until it opens; something planted there is said. */
  if (open_current() != 0 && klog_file_what(dir_fd, what, sizeof what))
    snprintf(text, sizeof text, "the log file %s/current %s: its lines are dropped\n", ldir, what), klog_problem(args[1], text);
  return 0;
}

int klog_open(char **argv, int argc) {
  args = argv;
  nargs = argc;
  const char *d = getenv("HAM_LOG_DIR");
  max_bytes = env_num("HAM_LOG_MAX_BYTES", max_bytes, 1L << 40);
  keep = env_num("HAM_LOG_KEEP", keep, 1000);
  if (max_bytes < 1024) max_bytes = 1024;
  ldir = d && *d ? strdup(d) : NULL;
  unsetenv("HAM_LOG_DIR");
  if (!ldir) return errno = ENOENT, -1;
  if (open_all() == 0) return 0;
  /* Said in DIR/log-problem (the keeper's folder): the HAM shows it in `ham status NAME`. */
  int e = errno;
  char what[600];
  snprintf(what, sizeof what, "the log folder %s: %s\n", ldir, strerror(e));
  klog_problem(args[1], what);
  for (int k = 0; k < 2; k++)
    if (in_fd[k] >= 0) close(in_fd[k]), in_fd[k] = -1;
  return errno = e, -1;
}

void klog_child(void) {
  if (in_fd[0] < 0 || in_fd[1] < 0) return;
  const char *f[2] = {".stdout", ".stderr"};
  for (int k = 0; k < 2; k++) {
    int fd = openat(dir_fd, f[k], O_RDWR | O_NOFOLLOW);
    if (fd < 0) continue;
    dup2(fd, k + 1);
    if (fd != k + 1) close(fd);
  }
}

void klog_instance(long instance) {
  inst = instance;
  head_len[0] = head_len[1] = 0;
}

/* A line without its newline for PARTIAL_MS (a prompt, a progress bar) goes out as it is;
 * the ms until the next one is due (-1: none). */
#define PARTIAL_MS 1000
static int partials(void) {
  int next = -1;
  for (int k = 0; k < 2; k++) {
    if (!line_since[k]) continue;
    long left = line_since[k] + PARTIAL_MS - klog_now_ms();
    if (left <= 0) {
      set_stamp();
      emit(k, line[k], line_len[k], 0);
      line_len[k] = 0;
      line_since[k] = 0;
      flush();
    } else if (next < 0 || left < next) next = (int)left;
  }
  return next;
}

volatile sig_atomic_t klog_stop;
static int draining, hung[2]; /* hung: a drain's read-only end with no writer left (out of the poll: POLLHUP stays) */

int klog_poll(struct pollfd *fds, int n, int timeout_ms) {
  struct pollfd p[8];
  if (n > 6) n = 6;
  long until = timeout_ms > 0 ? klog_now_ms() + timeout_ms : 0;
  for (;;) {
    if (klog_stop) return errno = EINTR, -1;
    if (n > 0) memcpy(p, fds, sizeof *p * (size_t)n);
    for (int k = 0; k < 2; k++) p[n + k] = (struct pollfd){.fd = hung[k] ? -1 : in_fd[k], .events = POLLIN};
    int due = partials(), wait = timeout_ms;
    if (due >= 0 && (wait < 0 || due < wait)) wait = due;
    int r = poll(p, (nfds_t)n + 2, wait);
    if (r < 0) return -1;
    int logs = 0, ready = 0;
    for (int k = 0; k < 2; k++)
      if (p[n + k].revents & (POLLIN | POLLHUP)) {
        if (draining && klog_others_read(in_fd[0])) _exit(0); /* a new keeper reads now: its lines, not ours */
        if (!logs) set_stamp();
        drain(k);
        logs++;
        hung[k] = (p[n + k].revents & POLLHUP) != 0;
      }
    flush();
    for (int i = 0; i < n; i++) {
      fds[i].revents = p[i].revents;
      ready += p[i].revents != 0;
    }
    if (ready > 0 || timeout_ms == 0 || (r == 0 && wait == timeout_ms) || (hung[0] && hung[1])) return ready;
    /* only the pipes: wait on for what is left of the timeout */
    if (timeout_ms > 0 && (timeout_ms = (int)(until - klog_now_ms())) <= 0) return 0;
  }
}

int *klog_fifos(void) { return in_fd; }
int klog_hung_up(void) { int both = hung[0] && hung[1]; hung[0] = hung[1] = 0; return both; }

void klog_settle(void) {
  if (in_fd[0] < 0) return;
  set_stamp();
  for (int k = 0; k < 2; k++) {
    drain(k);
    if (line_len[k] > 0) emit(k, line[k], line_len[k], 0);
    line_len[k] = 0, line_since[k] = 0;
  }
  flush();
}

const char *klog_become_drain(int keep) {
  if (in_fd[0] < 0) return NULL;
  draining = 1;
  ktitle_set("ham-log-drain %s", ldir); /* in the argv area keeper-title.c kept */
  for (int fd = 0; fd < 1024; fd++)
    if (fd != 2 && fd != in_fd[0] && fd != in_fd[1] && fd != cur_fd && fd != dir_fd && fd != keep) close(fd);
  return ldir;
}
