/*
 * ham pair watch: tells a Node process whether its partner's event loop is
 * idle, so that an idle pair needs no beats at all (a Node wake-up costs
 * ~0.1-0.3 ms of CPU; this program's costs a few microseconds).
 *
 * usage: watch PID START_TICKS PERIOD_MS [HOME]
 *
 * (HOME is only read by people: whoever counts a home's processes by their
 * command lines finds the watch.) The fallback of guardian/nanny.c.
 *
 * Every PERIOD_MS it reads the partner's main thread from /proc: sleeping in
 * epoll_wait is an idle event loop, which is proof of life (it serves the next
 * event at once). Anything else (running, in another call, stopped) is
 * sampled again every 10 ms for half a period (a loop that merely woke up is
 * soon back in epoll_wait); still not idle, it prints "busy AGE_MS AT_MS" (AGE_MS: since it was last seen idle;
 * AT_MS: now on CLOCK_MONOTONIC, so a reader can tell it read the line late); the
 * caller then probes the partner over their pipe until it answers or its hang
 * threshold passes. Seen idle again, it prints "idle" (and every 32 idle
 * samples, so the caller can tell a watch that stopped sampling). A partner that is gone
 * (or whose pid was reused: START_TICKS differs) ends it; so does its own
 * parent's death. When /proc does not show the wait channel it prints "blind"
 * and exits: the caller then beats as before.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

static long long now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Read a /proc file from its start through an fd kept open: on a VM each
 * open/close of a /proc file costs tens of microseconds. */
static int read_small(int fd, char *buf, size_t n) {
  ssize_t got = pread(fd, buf, n - 1, 0);
  if (got < 0) return -1;
  buf[got] = 0;
  return (int)got;
}

/* Field 3 (state) and 22 (start time, in clock ticks) of /proc/PID/stat. */
static int stat_of(int fd, char *state, unsigned long long *start) {
  char buf[1024];
  if (read_small(fd, buf, sizeof buf) <= 0) return -1;
  char *p = strrchr(buf, ')'); /* the name may hold spaces and parentheses */
  if (!p || p[1] != ' ') return -1;
  *state = p[2];
  p += 2;
  for (int field = 3; field < 22; field++) {
    p = strchr(p, ' ');
    if (!p) return -1;
    p++;
  }
  *start = strtoull(p, NULL, 10);
  return 0;
}

static void say(const char *line) {
  size_t n = strlen(line);
  if (write(1, line, n) != (ssize_t)n) _exit(0); /* nobody reads: the caller is gone */
}

int main(int argc, char **argv) {
  if (argc != 4 && argc != 5) {
    fprintf(stderr, "usage: watch PID START_TICKS PERIOD_MS [HOME]\n");
    return 2;
  }
  long pid = strtol(argv[1], NULL, 10);
  unsigned long long want_start = strtoull(argv[2], NULL, 10);
  long period = strtol(argv[3], NULL, 10);
  if (pid <= 0 || period <= 0) {
    fprintf(stderr, "watch: expected a pid and a period, got %s %s\n", argv[1], argv[3]);
    return 2;
  }
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  signal(SIGPIPE, SIG_IGN);
  char stat_path[64], wchan_path[64];
  snprintf(stat_path, sizeof stat_path, "/proc/%ld/task/%ld/stat", pid, pid);
  snprintf(wchan_path, sizeof wchan_path, "/proc/%ld/task/%ld/wchan", pid, pid);
  int stat_fd = open(stat_path, O_RDONLY | O_CLOEXEC), wchan_fd = open(wchan_path, O_RDONLY | O_CLOEXEC);
  if (stat_fd < 0) return 0; /* gone already */

  long long last_idle = now_ms(), last_tick = last_idle;
  int busy = 0, seen = 0, blind_votes = 0;
  unsigned sample = 0;
  unsigned quiet = 0; /* idle samples since the last line */
  long long suspect = 0; /* when a sample last found it not idle (0: it was idle) */
  struct timespec nap = {period / 1000, (period % 1000) * 1000000L};
  for (;;) {
    char state = 0, wchan[128];
    unsigned long long start = 0;
    /* Each /proc read costs tens of microseconds on a VM: the identity (a reused
     * pid) is checked every 8th sample; the caller sees a death on its pipe at once. */
    if (sample++ % 8 == 0 && (stat_of(stat_fd, &state, &start) != 0 || (want_start && start != want_start) || state == 'Z' || state == 'X')) return 0;
    long long now = now_ms();
    /* Our own tick came late: we were stalled too (a VM pause, a frozen machine).
     * What we saw before says nothing about now: a fresh window. */
    if (now - last_tick > period * 3) last_idle = now;
    last_tick = now;
    int n = wchan_fd < 0 ? -1 : read_small(wchan_fd, wchan, sizeof wchan);
    if (n <= 0 || (n == 1 && wchan[0] == '0')) {
      /* A running thread shows "0" too, and so does one that ran at the read and slept by the
       * stat read (likely on a loaded machine, with a busy partner): blind only if a sleeping
       * one shows it on 3 samples in a row (10 ms apart: this sample counts as not idle). */
      if (!seen) {
        if (stat_of(stat_fd, &state, &start) != 0) return 0;
        blind_votes = state == 'S' || state == 'D' ? blind_votes + 1 : 0;
        if (blind_votes >= 3) {
          say("blind\n");
          return 0;
        }
      }
      wchan[0] = 0;
    } else {
      seen = 1;
    }
    int idle = strstr(wchan, "epoll") || strstr(wchan, "ep_poll"); /* stopped: do_signal_stop */
    if (idle) {
      last_idle = now;
      /* Said once per episode, and every 32 samples anyway: the caller learns that we still sample. */
      if (busy || ++quiet >= 32) {
        say("idle\n");
        quiet = 0;
      }
      busy = 0;
      suspect = 0;
    } else if (!busy && !suspect) {
      /* Not idle at this sample: look again soon rather than at the next period. */
      suspect = now;
    } else if (!busy && now - suspect >= period / 2) {
      char line[48];
      snprintf(line, sizeof line, "busy %lld %lld\n", now - last_idle, now);
      say(line);
      busy = 1;
      suspect = 0;
    }
    if (suspect) {
      struct timespec quick = {0, 10 * 1000 * 1000};
      nanosleep(&quick, NULL);
      continue;
    }
    while (nanosleep(&nap, &nap) != 0 && errno == EINTR) {
    }
    nap.tv_sec = period / 1000;
    nap.tv_nsec = (period % 1000) * 1000000L;
  }
}
