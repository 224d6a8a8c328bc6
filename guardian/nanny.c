/*
 * ham nanny: the parent of one daemon (HAM or Guardian), so that its hangs
 * reach its partner as events and an idle pair wakes for nothing.
 *
 * usage: nanny NODE ARG...   (the daemon's own command line: it holds the home)
 *
 * It forks and execs the daemon with the same argv, environment and fds (the
 * Node IPC channel passes through), then sleeps in poll(2) until something
 * happens; it exits with its child's exact status (the same code, or killed by
 * the same signal), so its caller sees the daemon's exit as its own.
 *
 * The daemon inherits one end of a socketpair, its fd number in $HAM_NANNY (no
 * name: nobody else can reach it; Node makes it close-on-exec once opened), and writes "partner PID START PERIOD_MS" whenever its
 * partner changes. The nanny then alerts that partner with SIGUSR2 (through a
 * pidfd checked against START: never a reused pid) when its child:
 * - stops or continues (SIGCHLD: only a parent learns of a SIGSTOP at once);
 * - has used PERIOD/8 of CPU (a POSIX CPU-time timer on the child: free while
 *   it sleeps) and then is not back in epoll_wait within PERIOD/2 (sampled
 *   every 10 ms from /proc, as guardian/watch.c does), and again every PERIOD
 *   while it stays so.
 * - is not in epoll_wait at a slow check (every SLOW_MS, 5 s: one wake-up, ~90 us, per 5 s, ~0.004 % of a
 *   core for an idle pair) and then not back within PERIOD/2, as above: a hang that neither stops nor
 *   spins (blocked in the kernel: D state, a futex, the freezer) is found within the threshold + SLOW_MS.
 * At that slow check it also reads the state of the partner's nanny: stopped (T/t), it can tell of
 * nothing, so it alerts its own daemon to probe the partner (as when that nanny dies), again at each
 * slow check while it stays so: the partner's hang is found within the threshold + SLOW_MS.
 * When /proc hides the wait channel (unreadable, or "0" on a sleeping thread: blind, as guardian/watch.c
 * says), it writes "blind" and closes the daemon's socket: the daemon tells its partner `unwatched`.
 * The partner then probes the daemon over their pipe, as with the watch: an
 * answer clears it, silence for the hang threshold is a hang. The daemon sees
 * this nanny's death as its socket's EOF and tells its partner, which falls
 * back to the watch; and the partner's nanny (which holds a pidfd on this one,
 * the partner's parent) alerts its own child at once, in case the daemon hangs
 * before it could tell.
 * SIGTERM, SIGINT and SIGHUP sent to the nanny are passed to the daemon.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

static pid_t child;
static int partner_fd = -1;
/* The partner's parent (its nanny): if it dies, the partner may hang untold, so our child probes it. */
static int partner_parent_fd = -1;
static long period_ms = 0;
static timer_t cpu_timer;
static int have_timer = 0;
static long partner_parent = 0;
/* The slow check's period (see the header). */
#define SLOW_MS 5000

static long long now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* /proc/PID/stat read into buf, from the ')' that ends the name (which may hold spaces and
 * parentheses) on; NULL if it cannot be read. */
static char *stat_read(long pid, char *buf, size_t size) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%ld/stat", pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return NULL;
  ssize_t n = read(fd, buf, size - 1);
  close(fd);
  if (n <= 0) return NULL;
  buf[n] = 0;
  return strrchr(buf, ')');
}

/* Field `want` of /proc/PID/stat (4: the parent; 22: the start time in clock ticks, the pid's identity). */
static unsigned long long stat_field(long pid, int want) {
  char buf[1024];
  char *p = stat_read(pid, buf, sizeof buf);
  for (int field = 2; field < want && p; field++) p = strchr(p + 1, ' ');
  return p ? strtoull(p + 1, NULL, 10) : 0;
}

/* Field 3 of /proc/PID/stat: the state (R, S, D, T, t, Z...); 0 unknown. */
static char stat_state(long pid) {
  char buf[512];
  char *p = stat_read(pid, buf, sizeof buf);
  return p && p[1] == ' ' ? p[2] : 0;
}

/* Close every fd from `from` up, but `keep`. */
static void close_from(int from, int keep) {
  if (keep >= from && keep > from && syscall(SYS_close_range, from, keep - 1, 0) != 0 && errno == ENOSYS) {
    for (int fd = from; fd < keep; fd++) close(fd);
  }
  int next = keep >= from ? keep + 1 : from;
  if (syscall(SYS_close_range, next, ~0U, 0) != 0 && errno == ENOSYS)
    for (int fd = next; fd < 1024; fd++) close(fd);
}

static void alert(void) {
  if (partner_fd >= 0 && syscall(SYS_pidfd_send_signal, partner_fd, SIGUSR2, NULL, 0) != 0 && errno == ESRCH) {
    close(partner_fd); /* gone: its successor will be told to us */
    partner_fd = -1;
  }
}

/* Arm the CPU-time timer: it fires once the child has used another PERIOD/8 of CPU (a wake-up,
 * ~90 us, per PERIOD/8 of a busy daemon's CPU: 0.2 %; a spin is seen that much sooner). */
static void arm(void) {
  if (!have_timer || period_ms <= 0) return;
  long budget = period_ms / 8 < 10 ? 10 : period_ms / 8;
  struct itimerspec its = {{0, 0}, {budget / 1000, (budget % 1000) * 1000000L}};
  timer_settime(cpu_timer, 0, &its, NULL);
}

/* Is the child's main thread in epoll_wait (an idle event loop)? -1: unknown (gone); -2: blind. */
static int blind_votes = 0, wchan_seen = 0;
static int idle_now(int wchan_fd) {
  char w[128];
  ssize_t n = wchan_fd < 0 ? -1 : pread(wchan_fd, w, sizeof w - 1, 0);
  if (n <= 0 || (n == 1 && w[0] == '0')) {
    /* A running thread shows "0" too: blind only if a sleeping one shows it on 3 samples in a row
     * (or it cannot be read at all), as guardian/watch.c judges. */
    if (wchan_seen) return 0;
    char st = stat_state(child);
    if (st == 0 || st == 'Z' || st == 'X') return -1;
    blind_votes = wchan_fd < 0 || n < 0 || st == 'S' || st == 'D' ? blind_votes + 1 : 0;
    return blind_votes >= 3 ? -2 : 0;
  }
  wchan_seen = 1;
  w[n] = 0;
  return strstr(w, "epoll") || strstr(w, "ep_poll") ? 1 : 0;
}

/* "partner PID START PERIOD_MS": a new partner to alert. */
static void told(char *line) {
  long pid = 0, period = 0;
  unsigned long long start = 0;
  if (sscanf(line, "partner %ld %llu %ld", &pid, &start, &period) != 3 || pid <= 0 || period <= 0) return;
  if (partner_fd >= 0) close(partner_fd);
  partner_fd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
  /* Checked after the pidfd is open: the pid cannot be reused behind it any more. */
  if (partner_fd >= 0 && stat_field(pid, 22) != start) {
    close(partner_fd);
    partner_fd = -1;
  }
  if (partner_parent_fd >= 0) close(partner_parent_fd);
  partner_parent_fd = -1;
  partner_parent = 0;
  long parent = partner_fd >= 0 ? (long)stat_field(pid, 4) : 0;
  if (parent > 1 && parent != getpid()) {
    partner_parent_fd = (int)syscall(SYS_pidfd_open, (pid_t)parent, 0);
    /* Still its parent once the pidfd is open: it is that process, not a reused pid. */
    if (partner_parent_fd >= 0 && (long)stat_field(pid, 4) != parent) {
      close(partner_parent_fd);
      partner_parent_fd = -1;
    }
    if (partner_parent_fd >= 0) partner_parent = parent;
  }
  period_ms = period;
  arm();
}

static void pass_exit(const siginfo_t *si) {
  if (si->si_code == CLD_EXITED) _exit(si->si_status);
  signal(si->si_status, SIG_DFL);
  sigset_t all;
  sigfillset(&all);
  sigprocmask(SIG_UNBLOCK, &all, NULL);
  raise(si->si_status);
  _exit(128 + si->si_status); /* a signal that does not kill (cannot happen for a killed child) */
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: nanny NODE ARG...\n");
    return 2;
  }
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGCHLD);
  sigaddset(&mask, SIGRTMIN);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGHUP);
  sigprocmask(SIG_BLOCK, &mask, NULL);
  signal(SIGPIPE, SIG_IGN);

  int sv[2] = {-1, -1};
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    sv[0] = sv[1] = -1;
    unsetenv("HAM_NANNY"); /* the daemon then runs as without a nanny */
  } else {
    char fdname[16];
    snprintf(fdname, sizeof fdname, "%d", sv[1]);
    setenv("HAM_NANNY", fdname, 1);
  }

  child = fork();
  if (child < 0) {
    perror("nanny: fork");
    return 1;
  }
  if (child == 0) {
    sigprocmask(SIG_UNBLOCK, &mask, NULL);
    /* Its own process group, as when it was spawned detached without us: a signal to its group
     * (a group stop) leaves us free to tell of it, and one to ours does not reach it. */
    setpgid(0, 0);
    if (sv[1] >= 0) fcntl(sv[1], F_SETFD, 0); /* the daemon's end survives the exec */
    execvp(argv[1], argv + 1);
    perror("nanny: exec");
    _exit(127);
  }
  signal(SIGUSR2, SIG_IGN); /* an alert meant for the daemon, sent to us, must not kill us */
  /* The fds passed through (the IPC channel at 3...) are the daemon's alone: its partner must see
   * them close when the daemon dies. */
  if (sv[1] >= 0) close(sv[1]);
  int conn = sv[0];
  if (conn >= 0) fcntl(conn, F_SETFL, O_NONBLOCK);
  close_from(3, conn);

  int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  struct sigevent sev = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGRTMIN};
  clockid_t clock;
  if (clock_getcpuclockid(child, &clock) == 0 && timer_create(clock, &sev, &cpu_timer) == 0) have_timer = 1;
  char wpath[64];
  snprintf(wpath, sizeof wpath, "/proc/%ld/task/%ld/wchan", (long)child, (long)child);
  int wchan_fd = open(wpath, O_RDONLY | O_CLOEXEC);

  char buf[256];
  size_t have = 0;
  /* Sampling after the CPU timer fired: 0 none; else when it was last seen idle or the timer fired. */
  long long suspect = 0, busy_since = 0, slow_at = 0;
  int blind = 0;
  for (;;) {
    struct pollfd p[4] = {{sfd, POLLIN, 0}, {-1, 0, 0}, {conn, POLLIN, 0}, {partner_parent_fd, POLLIN, 0}};
    /* The slow check once there is a partner to alert, or a partner's nanny to read. */
    int slow = !blind && (partner_fd >= 0 || partner_parent_fd >= 0);
    if (!slow) slow_at = 0;
    else if (!slow_at) slow_at = now_ms() + SLOW_MS;
    long long left = slow ? slow_at - now_ms() : -1;
    int timeout = busy_since ? (int)period_ms : suspect ? 10 : slow ? (int)(left < 0 ? 0 : left) : -1;
    int r = poll(p, 4, timeout);
    if (r < 0 && errno != EINTR) return 1;
    if (partner_parent_fd >= 0 && (p[3].revents & (POLLIN | POLLHUP | POLLERR))) {
      /* The partner's nanny died: until the partner says so, only a probe tells if it hangs. */
      close(partner_parent_fd);
      partner_parent_fd = -1;
      partner_parent = 0;
      kill(child, SIGUSR2);
    }
    if (slow && now_ms() >= slow_at) {
      slow_at = now_ms() + SLOW_MS;
      /* Stopped, the partner's nanny tells of nothing: our daemon probes the partner itself. */
      char st = partner_parent_fd >= 0 ? stat_state(partner_parent) : 0;
      if (st == 'T' || st == 't') kill(child, SIGUSR2);
      /* Our daemon out of epoll_wait without a stop or CPU use (blocked in the kernel): sampled as after the CPU timer. */
      if (partner_fd >= 0 && !suspect && !busy_since) suspect = now_ms();
    }
    /* The socket before the signals: a partner told just before a stop is known when the stop is seen. */
    if (conn >= 0 && (p[2].revents & (POLLIN | POLLHUP | POLLERR))) {
      ssize_t n = read(conn, buf + have, sizeof buf - 1 - have);
      if (n <= 0 && !(n < 0 && errno == EAGAIN)) {
        close(conn); /* the daemon closed it (it is dying): keep waiting for its status */
        conn = -1;
      } else if (n > 0) {
        have += (size_t)n;
        buf[have] = 0;
        char *nl;
        while ((nl = strchr(buf, '\n'))) {
          *nl = 0;
          told(buf);
          have -= (size_t)(nl + 1 - buf);
          memmove(buf, nl + 1, have + 1);
        }
        if (have >= sizeof buf - 1) have = 0; /* not a line of ours */
      }
    }
    if (p[0].revents & POLLIN) {
      struct signalfd_siginfo si;
      while (read(sfd, &si, sizeof si) == sizeof si) {
        if ((int)si.ssi_signo == SIGRTMIN && !suspect && !busy_since) suspect = now_ms();
        if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT || si.ssi_signo == SIGHUP) kill(child, (int)si.ssi_signo);
      }
      siginfo_t w;
      for (;;) {
        memset(&w, 0, sizeof w);
        if (waitid(P_PID, child, &w, WEXITED | WSTOPPED | WCONTINUED | WNOHANG) != 0 || w.si_pid == 0) break;
        if (w.si_code == CLD_EXITED || w.si_code == CLD_KILLED || w.si_code == CLD_DUMPED) pass_exit(&w);
        alert(); /* stopped or continued: the partner probes */
      }
    }
    if (suspect || busy_since) {
      int idle = idle_now(wchan_fd);
      long long now = now_ms();
      if (idle == -2) {
        /* Blind: our alerts would be wrong; the daemon tells its partner, which watches (or beats). */
        blind = 1;
        suspect = busy_since = 0;
        if (have_timer) timer_delete(cpu_timer);
        have_timer = 0;
        if (conn >= 0) {
          if (write(conn, "blind\n", 6) < 0) { /* closing says it anyway */
          }
          close(conn);
          conn = -1;
        }
      } else if (idle != 0) {
        suspect = busy_since = 0;
        arm();
      } else if (busy_since || now - suspect >= period_ms / 2) {
        if (!busy_since) busy_since = now;
        alert(); /* busy: the partner probes, again every period while it stays busy */
      }
    }
  }
}
