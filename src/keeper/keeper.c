/*
 * ham keeper: the tiny parent of one entity (the runsv / s6-supervise pattern),
 * in C with libc only: the same records, commands and guarantees as keeper.pl
 * (the fallback where no compiler was found at install), at a fraction of its
 * memory and start-up time.
 *
 * It outlives any HAM, so an entity's exit status is always recorded by its
 * parent, whichever process holds the HAM role. It decides nothing: it starts
 * the command, reports what happened as files in the inbox, and waits for the
 * HAM's decision on its ctl FIFO.
 *
 * usage: keeper DIR INBOX TAG start -- ARGV...
 *        keeper DIR INBOX TAG adopt PID -- ARGV...   (watch an orphan via pidfd)
 *
 * Records (one file each, written then renamed into INBOX as TAG-SEQ):
 *   K PID         keeper PID up, holding DIR/life open for writing
 *   P PID         forked PID for the command (before exec: if the keeper dies
 *                 now, the HAM still knows which process to adopt)
 *   S PID         the command was exec'd as PID (in its own process group)
 *   F ERRNO       the command could not be exec'd
 *   X PID STATUS  PID ended; STATUS is the raw wait status, -1 when unknown
 *   X PID STATUS o  the same, and the keeper is restarting it by its standing
 *                 order (P/S or F follow at once): the HAM counts that restart
 * Commands on DIR/ctl, one line each, SEQ = the death record they answer:
 *   r SEQ         start the command again      x SEQ   exit
 *   o EPOCH SEQ N MINRUN_MS  a standing order: at the next N deaths of a
 *                 process that ran at least MINRUN_MS, restart at once without
 *                 asking. Taken only if SEQ is the keeper's last record (the HAM
 *                 saw everything) and EPOCH is not older than the last order's;
 *                 N = 0 revokes (whatever SEQ); N is at most 6. A death that
 *                 asks (X without o, F) drops the order.
 * SIGUSR1 detaches: the keeper leaves the entity running and exits (first, if it
 * runs, its output is drained to its end). Any exit drains first while another
 * process holds the output FIFOs (a daemon's child): keeper-drain.c. A drain
 * ignores SIGUSR1 (`ham stop --all` sends it to every keeper it finds alive).
 * Output: keeper-log.c; readiness: keeper-ready.c; user, limits: keeper-runas.c; `d` fences: keeper-fence.c.
 * Waiting for a decision with no HAM: the HAM holds the read end of DIR/life;
 * with nobody there for HAM_KEEPER_ALONE_MS (default 60000) the keeper exits 0.
 * Its death record stays in the inbox: the next HAM applies it from there.
 */
#define _GNU_SOURCE
#include "keeper-parts.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434 /* the same on every Linux architecture */
#endif

static const char *dir, *inbox, *tag;
static char **argv_cmd;
static unsigned long seq;
static long instance, alone_ms = 60000;
static int life_fd = -1, ctl_fd = -1;
/* At most this many restarts per order: with X P S each, still within the
 * records the HAM reads ahead of the last it applied (MAX_AHEAD, records.ts). */
#define ORDER_MAX 6
/* The standing order (see the header): restarts left, the uptime it needs, its epoch. */
static unsigned long order_n, order_epoch;
static long order_min_ms;

/* Only the HAM speaks to a keeper, and only through ctl and SIGUSR1; a stray
 * signal to the process group must not orphan the entity. */
static const int quiet[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGPIPE, SIGUSR2, SIGTSTP, SIGTTIN, SIGTTOU, SIGXFSZ};
#define NQUIET (sizeof quiet / sizeof quiet[0])

/* The entity running now (0: none), and the one to detach from (set by SIGUSR1;
 * -1 while a decision is awaited: none runs, but its output may still come). */
static volatile pid_t running, detach_now;
static volatile sig_atomic_t deciding;
static void on_usr1(int sig) {
  (void)sig;
  if (!running && !deciding) _exit(0);
  detach_now = running ? running : -1, klog_stop = 1; /* the poll loops see it now */
}

static void die(const char *what) { fprintf(stderr, "keeper: %s: %s\n", what, strerror(errno)), exit(111); }

/* "FOLDER/NAME" in a fresh allocation: paths are built once, so the keeper's
 * stack stays a page or two (its memory is most of what a keeper costs). */
static char *path_of(const char *folder, const char *name) {
  size_t n = strlen(folder) + strlen(name) + 2;
  char *p = malloc(n);
  if (!p) die("memory");
  snprintf(p, n, "%s/%s", folder, name);
  return p;
}

/* The record's temp and final names, reused: INBOX/.TAG-SEQ and INBOX/TAG-SEQ. */
static char *rec_tmp, *rec_final;
static size_t rec_size;

/* Write `line` as the next record: a hidden temp file, then renamed into place,
 * so the HAM never reads half a record. Returns its sequence number. */
static unsigned long record(const char *line) {
  seq++;
  snprintf(rec_tmp, rec_size, "%s/.%s-%lu", inbox, tag, seq);
  snprintf(rec_final, rec_size, "%s/%s-%lu", inbox, tag, seq);
  int fd = open(rec_tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) die("inbox");
  size_t len = strlen(line);
  char out[128];
  if (len + 1 >= sizeof out) len = sizeof out - 2;
  memcpy(out, line, len);
  out[len++] = '\n';
  if (write(fd, out, len) != (ssize_t)len) die("inbox");
  if (close(fd) != 0) die("inbox");
  if (rename(rec_tmp, rec_final) != 0) die("inbox");
  return seq;
}

static unsigned long recordf(const char *kind, long a, long b, int two) {
  char line[96];
  snprintf(line, sizeof line, two ? "%s %ld %ld" : "%s %ld", kind, a, b);
  return record(line);
}

/* Is a HAM there? It holds life's read end: a byte written with no reader
 * fails (EPIPE; SIGPIPE is ignored). A full pipe means a reader that lags. */
static int ham_there(void) {
  struct pollfd p = {.fd = life_fd, .events = POLLOUT};
  if (poll(&p, 1, 0) <= 0 || !(p.revents & POLLOUT)) return (p.revents & POLLERR) ? 0 : 1;
  return write(life_fd, "\n", 1) == 1;
}

/* Commands read from ctl but not yet used; a line longer than this is junk. */
static char pending[512]; static size_t npending;

/* An order line "EPOCH SEQ N MINRUN_MS" (after "o "): taken or ignored (see the header). */
static void take_order(const char *p) {
  unsigned long v[4];
  for (int i = 0; i < 4; i++) {
    char *end = NULL;
    if (*p < '0' || *p > '9') return;
    errno = 0;
    v[i] = strtoul(p, &end, 10);
    if (errno != 0 || !end || (i < 3 ? *end != ' ' : *end != 0)) return;
    p = end + (i < 3);
  }
  if (v[0] < order_epoch || v[3] > 86400000UL) return;
  if (v[2] > ORDER_MAX) v[2] = ORDER_MAX;
  if (v[2] != 0 && v[1] != seq) return; /* made before records the HAM has not seen */
  order_epoch = v[0];
  order_n = v[2];
  order_min_ms = (long)v[3];
}

/* Take the next complete line out of `pending`: 'r' or 'x' answering `death`,
 * or 0 when there is none. Orders are taken on the way; stale answers and junk
 * lines are dropped (death 0: the command runs, no answer is awaited). */
static char next_command(unsigned long death) {
  for (;;) {
    char *nl = memchr(pending, '\n', npending);
    if (!nl) return 0;
    *nl = 0;
    char cmd = 0;
    unsigned long n = 0;
    char *end = NULL;
    if (pending[1] == ' ' && (pending[0] == 'o' || pending[0] == 'd')) pending[0] == 'o' ? take_order(pending + 2) : kfence_take(pending + 2);
    else if ((pending[0] == 'r' || pending[0] == 'x') && pending[1] == ' ' && pending[2] >= '0' && pending[2] <= '9') {
      errno = 0;
      n = strtoul(pending + 2, &end, 10);
      if (errno == 0 && end && *end == 0) cmd = pending[0];
    }
    size_t used = (size_t)(nl - pending) + 1;
    memmove(pending, nl + 1, npending - used);
    npending -= used;
    if (cmd && death && n == death) return cmd;
  }
}

/* Read what ctl holds now (timeout_ms 0: without waiting) and take its orders. */
static int read_ctl(int timeout_ms) {
  struct pollfd p = {.fd = ctl_fd, .events = POLLIN};
  int n = kready_poll(&p, 1, timeout_ms);
  if (n <= 0) return n;
  if (npending == sizeof pending) npending = 0; /* a line with no end: junk */
  ssize_t got = read(ctl_fd, pending + npending, sizeof pending - npending);
  if (got > 0) npending += (size_t)got;
  return 1;
}

/* Wait for our child `pid`, taking orders from ctl and its output meanwhile
 * (through a pidfd; without one, a plain wait: the orders are read at its death).
 * If the process MAINPID= named ends first, that is the entity's death (`*gone`):
 * the group is killed and `pid` reaped. */
static int wait_child(pid_t pid, pid_t *gone) {
  int status;
  int fd = (int)syscall(SYS_pidfd_open, pid, 0);
  if (fd >= 0) {
    for (;;) {
      if (detach_now) klog_detach(detach_now);
      struct pollfd p[3] = {{.fd = fd, .events = POLLIN}, {.fd = ctl_fd, .events = POLLIN}, {.fd = *gone ? -1 : kready_main_fd(pid), .events = POLLIN}};
      int n = kready_poll(p, 3, kfence_wait_ms(-1));
      if (kfence_check(pid), n < 0 && errno != EINTR) break;
      if (n > 0 && (p[1].revents & POLLIN) && read_ctl(0) > 0) next_command(0);
      if (n > 0 && p[2].fd >= 0 && (p[2].revents & POLLIN)) *gone = (pid_t)kready_main_pid(), kready_end_group(*gone);
      if (n > 0 && (p[0].revents & (POLLIN | POLLHUP | POLLERR))) break;
    }
    close(fd);
  }
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return status;
}

static char decision(unsigned long death) {
  long tick = alone_ms < 4000 ? alone_ms / 4 : 1000; /* ms */
  if (tick < 1) tick = 1;
  long alone = 0;
  for (deciding = 1;; klog_stop = 0) {
    if (detach_now) klog_end();
    char c = next_command(death);
    if (c) return deciding = c == 'x', c; /* leaving (x): a SIGUSR1 now must not cut the drain short */
    int n = read_ctl((int)tick);
    if (n != 0) continue; /* ctl, or a signal */
    if (ham_there()) {
      alone = 0;
      continue;
    }
    alone += tick;
    if (alone < alone_ms) continue;
    fprintf(stderr, "keeper %ld: no HAM for %ld ms after death record %lu: exiting; the record stays in the inbox\n", (long)getpid(), alone_ms, death);
    return 'x';
  }
}

/* The command could not be started: an asking record, so the order is dropped. */
static unsigned long failed(long e) { return order_n = 0, recordf("F", e, 0, 0); }

/* Start the command and wait for it: the death record to answer (0: the
 * standing order restarts it at once). */
static unsigned long start(void) {
  if (!argv_cmd[0] || kfence_past()) return failed(argv_cmd[0] ? EPERM : ENOENT); /* adopted without a command; fenced */
  char num[32];
  snprintf(num, sizeof num, "%ld", ++instance);
  klog_instance(instance), kready_fresh();
  setenv("HAM_INSTANCE", num, 1);
  int pfd[2];
  if (pipe2(pfd, O_CLOEXEC) != 0) return failed(errno);
  pid_t pid = fork();
  if (pid < 0) {
    int e = errno;
    close(pfd[0]), close(pfd[1]);
    return failed(e);
  }
  if (pid == 0) {
    close(pfd[0]);
    setpgid(0, 0);
    for (size_t i = 0; i < NQUIET; i++) signal(quiet[i], SIG_DFL);
    signal(SIGUSR1, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    klog_child(), pfd[1] = kready_child(pfd[1]);
    if (krunas_child() == 0) execvp(argv_cmd[0], argv_cmd);
    char err[16];
    int len = snprintf(err, sizeof err, "%d", errno);
    (void)!write(pfd[1], err, (size_t)len); /* the pipe is close-on-exec: EOF means exec'd */
    _exit(127);
  }
  close(pfd[1]);
  recordf("P", pid, 0, 0), kready_start(instance, pid);
  char err[16];
  size_t got = 0;
  for (;;) {
    ssize_t r = read(pfd[0], err + got, sizeof err - 1 - got);
    if (r > 0 && (got += (size_t)r) < sizeof err - 1) continue;
    if (r < 0 && errno == EINTR) continue;
    break;
  }
  close(pfd[0]);
  int status;
  if (got > 0 && !(err[got] = 0)) {
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) continue;
    return failed(strtol(err, NULL, 10));
  }
  recordf("S", pid, 0, 0);
  long since = klog_now_ms();
  running = pid;
  pid_t gone = 0, next;
  while ((status = wait_child(pid, &gone)), !gone && (next = kready_successor(pid)) > 0) pid = running = next; /* MAINPID= */
  if (gone) pid = gone, status = -1; /* not our child: its status is unknown */
  running = 0, kready_end_group(pid);
  klog_settle();
  /* What the HAM wrote before the death (a revoke before a stop's signal) comes first. */
  while (read_ctl(0) > 0) next_command(0);
  next_command(0);
  if (order_n > 0 && status != -1 && klog_now_ms() - since >= order_min_ms) {
    order_n--;
    char line[96];
    snprintf(line, sizeof line, "X %ld %d o", (long)pid, status);
    record(line);
    return 0; /* restarted by the order: start again */
  }
  order_n = 0; /* asking: the HAM gives a new order after this death */
  return recordf("X", pid, status, 1);
}

/* An orphan whose keeper was killed: not our child, so wait on a pidfd (without
 * one, poll kill(pid, 0)); its status is unknown. Fenced and ordered as our child. */
static unsigned long watch(pid_t pid) {
  int fd = (int)syscall(SYS_pidfd_open, pid, 0);
  kready_start(instance, pid);
  for (running = pid; kill(pid, 0) == 0;) {
    if (detach_now) klog_detach(pid);
    struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = ctl_fd, .events = POLLIN}};
    int n = kready_poll(p, 2, kfence_wait_ms(fd >= 0 ? -1 : 200));
    if (kfence_check(pid), n > 0 && (p[1].revents & POLLIN) && read_ctl(0) > 0) next_command(0);
    if (n > 0 && (p[0].revents & (POLLIN | POLLHUP | POLLERR))) break;
  }
  if (fd >= 0) close(fd);
  running = 0, kready_end_group(pid);
  return recordf("X", pid, -1, 1);
}

static int digits(const char *s) { return s && *s && strspn(s, "0123456789") == strlen(s); }

int main(int argc, char **argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: keeper DIR INBOX TAG start|adopt [PID] -- ARGV...\n");
    return 2;
  }
  ktitle_keeper(argc, argv); /* before any pointer into argv is kept */
  dir = argv[1];
  inbox = argv[2];
  tag = argv[3];
  int i = 5;
  pid_t adopt = 0;
  if (strcmp(argv[4], "adopt") == 0) {
    if (argc < 6 || !digits(argv[5])) {
      fprintf(stderr, "keeper: adopt: expected a pid, got %s\n", argc < 6 ? "nothing" : argv[5]);
      return 2;
    }
    adopt = (pid_t)strtol(argv[5], NULL, 10);
    i = 6;
  } else if (strcmp(argv[4], "start") != 0) {
    fprintf(stderr, "keeper: expected start or adopt, got %s\n", argv[4]);
    return 2;
  }
  if (i < argc && strcmp(argv[i], "--") == 0) i++;
  argv_cmd = argv + i;
  if (!argv_cmd[0] && !adopt) {
    fprintf(stderr, "keeper: no command\n");
    return 2;
  }
  /* Ours, not the entity's: taken out of the environment the command inherits. */
  const char *a = getenv("HAM_KEEPER_ALONE_MS");
  if (digits(a) && strlen(a) < 12) alone_ms = strtol(a, NULL, 10);
  unsetenv("HAM_KEEPER_ALONE_MS"), kfence_init();
  const char *inst = getenv("HAM_INSTANCE");
  instance = (digits(inst) && strlen(inst) < 12 ? strtol(inst, NULL, 10) : 1) - 1;

  for (size_t q = 0; q < NQUIET; q++) signal(quiet[q], SIG_IGN);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_usr1;
  sigaction(SIGUSR1, &sa, NULL);

  char *ctl = path_of(dir, "ctl"), *life = path_of(dir, "life");
  rec_size = strlen(inbox) + strlen(tag) + 32;
  rec_tmp = malloc(rec_size), rec_final = malloc(rec_size);
  if (!rec_tmp || !rec_final) die("memory");
  struct stat st;
  if ((lstat(ctl, &st) != 0 || !S_ISFIFO(st.st_mode)) && mkfifo(ctl, 0600) != 0) die("ctl");
  if ((lstat(life, &st) != 0 || !S_ISFIFO(st.st_mode)) && mkfifo(life, 0600) != 0) die("life");
  /* Hold the only write end of life: the HAM reads it and sees EOF when we die.
   * Opened read-write first so opening for writing does not wait for a reader. */
  int rw = open(life, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
  if (rw < 0) die("life");
  life_fd = open(life, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
  if (life_fd < 0) die("life");
  close(rw);
  ctl_fd = open(ctl, O_RDWR | O_CLOEXEC | O_NOFOLLOW); /* read-write: never EOF */
  if (ctl_fd < 0) die("ctl");

  klog_instance(instance); /* an orphan's: HAM_INSTANCE names the next start */
  if (klog_open(argv, argc) != 0) fprintf(stderr, "keeper %ld: the log folder: %s: the command keeps the keeper's output\n", (long)getpid(), strerror(errno));
  if (kready_open(dir, inbox, tag) != 0) fprintf(stderr, "keeper %ld: readiness: %s: the command cannot tell it is ready\n", (long)getpid(), strerror(errno));
  recordf("K", getpid(), 0, 0);
  unsigned long death = adopt ? watch(adopt) : 0;
  for (;;) {
    while (death == 0) death = start();
    if (decision(death) != 'r') break;
    death = 0;
  }
  klog_end(); /* a process the command left may still write: read it first */
}
