/*
 * The keeper's readiness: `notify` (systemd's sd_notify) or `fd` (s6 style).
 *
 * notify: a SOCK_DGRAM unix socket at HAM_READY_PATH (never abstract: see notify-dir.ts), with
 * SO_PASSCRED; the entity gets NOTIFY_SOCKET. A datagram counts only if its
 * SCM_CREDENTIALS show our uid (or its user's: keeper-runas.c) and one of the entity's processes (its main pid,
 * its process group, or a descendant of it or of this keeper); anything else,
 * and a malformed one, is ignored and counted. Every fd passed by SCM_RIGHTS is
 * closed at once (BARRIER=1: the sender waits for that). Keys: READY=1,
 * STATUS=, RELOADING=1, STOPPING=1, WATCHDOG=1, EXTEND_TIMEOUT_USEC=, MAINPID=
 * (one of the entity's processes: once the command ends, the entity goes on as
 * that one, watched by pidfd: not our child, so its exit status is unknown);
 * others are ignored. fd: a FIFO at HAM_READY_PATH, fd N in the entity; a newline
 * written on it means ready; each instance gets a fresh FIFO (kready_fresh), so
 * a newline from an earlier instance's leftover child is not this one's.
 *
 * Not sequenced records (a keeper may see many WATCHDOG beats with no HAM
 * there): a cumulative state file DIR/ready, renamed into place whole,
 *   INSTANCE READY RELOADING STOPPING WATCHDOG EXTEND_UNTIL_MS IGNORED MAINPID
 *     MAINSTART RELOADS RELOADED\n
 *   STATUS TEXT\n
 * MAINSTART: MAINPID's start time (field 22 of /proc/PID/stat), so the HAM never
 * takes a reused pid for it; RELOADS: RELOADING=1 seen, RELOADED: RELOADS at the
 * last READY=1 (a reload is done once RELOADED passes RELOADS as it was when its
 * signal went). A change of WATCHDOG alone is published at most once per
 * watchdog_gap ms (a flood costs neither us nor the HAM a write per beat).
 * and a poke INBOX/TAG-r, always the same name, renamed over itself; the HAM
 * removes the poke, then reads the state. Paths are per entity, not per keeper,
 * so a keeper that adopts the entity binds or opens the same ones again.
 */
#define _GNU_SOURCE
#include "keeper-ready.h"
#include "keeper-log.h"
#include "keeper-runas.h"
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

/* The bound on the STATUS text kept (READY_TEXT_MAX in model/readiness.ts). */
#define STATUS_MAX 256
/* systemd's own bound on a notification. */
#define DGRAM_MAX 4096
/* Datagrams read per wake-up: a flood is worked through over several turns. */
#define DGRAMS_PER_TURN 64

static void stat_of(pid_t pid, pid_t *ppid, pid_t *pgrp, unsigned long long *start);
static int mode; /* 0: none, 'n': notify, 'f': fd */
static int rfd = -1, want_fd = -1;
static char *rpath, *watchdog_usec;
static char *state_tmp, *state_final, *poke_tmp, *poke_final;
static pid_t main_pid;
/* The process group the instance's command leads (the keeper's child, or the one
 * HAM_KEEPER_GROUP names at an adoption), and a pidfd held on the MAINPID= one:
 * that process's death is the entity's, and it ends the rest of the group. */
static pid_t group, adopt_group;
static int main_fd = -1;
/* Watchdog-only news waits for this gap since the last publish (a quarter of WATCHDOG_USEC, 1..100 ms). */
static long watchdog_gap = 100, published_at, pending_since = -1;
static struct {
  long instance;
  int ready, reloading, stopping;
  unsigned long watchdog, ignored;
  long long extend_until;
  long mainpid;
  unsigned long long mainstart;
  unsigned long reloads, reloaded;
  char status[STATUS_MAX + 1];
} st;

static char *join(const char *a, const char *b) {
  size_t n = strlen(a) + strlen(b) + 2;
  char *p = malloc(n);
  if (p) snprintf(p, n, "%s/%s", a, b);
  return p;
}

static char *take_env(const char *name) {
  const char *v = getenv(name);
  char *c = v && *v ? strdup(v) : NULL;
  unsetenv(name);
  return c;
}

static long long wall_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* The state file, then the poke (errors only cost the HAM this news: it reads the state at its next look). */
static void publish(void) {
  char buf[STATUS_MAX + 220];
  published_at = klog_now_ms(), pending_since = -1;
  int n = snprintf(buf, sizeof buf, "%ld %d %d %d %lu %lld %lu %ld %llu %lu %lu\n%s\n", st.instance, st.ready, st.reloading, st.stopping,
                   st.watchdog, st.extend_until, st.ignored, st.mainpid, st.mainstart, st.reloads, st.reloaded, st.status);
  int fd = open(state_tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return;
  int ok = write(fd, buf, (size_t)n) == n;
  if (close(fd) != 0 || !ok || rename(state_tmp, state_final) != 0) return;
  fd = open(poke_tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return;
  close(fd);
  rename(poke_tmp, poke_final);
}

static int bind_socket(void) {
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  size_t len = strlen(rpath);
  if (len >= sizeof a.sun_path) return errno = ENAMETOOLONG, -1;
  memcpy(a.sun_path, rpath, len);
  struct stat s;
  if (lstat(rpath, &s) == 0 && !S_ISSOCK(s.st_mode)) return errno = EEXIST, -1;
  unlink(rpath); /* a killed keeper's: bound again here (nobody else can create in its folder) */
  rfd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  if (rfd < 0 || setsockopt(rfd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one) != 0) return -1;
  mode_t old = umask(077); /* 0600 from its birth: no window for another user to send */
  int b = bind(rfd, (struct sockaddr *)&a, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1));
  umask(old);
  /* Run as another user (under /run/ham-notify, notify-dir.ts): the socket is that user's, so only it and root can send. */
  if (b != 0 || chmod(rpath, 0600) != 0 || (krunas_uid() != geteuid() && lchown(rpath, krunas_uid(), (gid_t)-1) != 0)) return -1;
  return 0;
}

static int open_fifo(void) {
  struct stat s;
  if (lstat(rpath, &s) != 0 && (errno != ENOENT || mkfifo(rpath, 0600) != 0)) return -1;
  rfd = open(rpath, O_RDWR | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
  if (rfd < 0) return -1;
  if (fstat(rfd, &s) != 0 || !S_ISFIFO(s.st_mode) || s.st_uid != geteuid()) return close(rfd), rfd = -1, errno = EPERM, -1;
  return 0;
}

int kready_open(const char *dir, const char *inbox, const char *tag) {
  char *g = take_env("HAM_KEEPER_GROUP");
  adopt_group = g ? (pid_t)atol(g) : 0;
  free(g);
  char *m = take_env("HAM_READY"), *fdn = take_env("HAM_READY_FD");
  rpath = take_env("HAM_READY_PATH");
  watchdog_usec = take_env("HAM_WATCHDOG_USEC");
  if (watchdog_usec) watchdog_gap = atol(watchdog_usec) / 4000 < 1 ? 1 : atol(watchdog_usec) / 4000 > 100 ? 100 : atol(watchdog_usec) / 4000;
  mode = !m || !rpath ? 0 : strcmp(m, "notify") == 0 ? 'n' : strcmp(m, "fd") == 0 && fdn ? 'f' : 0;
  if (mode == 'f') want_fd = atoi(fdn);
  free(m), free(fdn);
  if (!mode || (mode == 'f' && (want_fd < 3 || want_fd > 1023))) return mode = 0, 0;
  char poke[64];
  snprintf(poke, sizeof poke, "%s-r", tag);
  state_tmp = join(dir, ".ready"), state_final = join(dir, "ready"), poke_tmp = join(dir, ".poke"), poke_final = join(inbox, poke);
  if (!state_tmp || !state_final || !poke_tmp || !poke_final) return mode = 0, errno = ENOMEM, -1;
  /* The folder beside the inbox (0700): made by whichever keeper comes first. */
  char *slash = strrchr(rpath, '/');
  if (slash && slash != rpath) {
    *slash = 0;
    if (mkdir(rpath, 0700) != 0 && errno != EEXIST) return *slash = '/', mode = 0, -1;
    *slash = '/';
  }
  if ((mode == 'n' ? bind_socket() : open_fifo()) != 0) {
    int e = errno;
    if (rfd >= 0) close(rfd), rfd = -1;
    return mode = 0, errno = e, -1;
  }
  return 0;
}

int kready_child(int keep) {
  if (mode == 'n') {
    setenv("NOTIFY_SOCKET", rpath, 1);
    if (watchdog_usec) {
      char pid[24];
      snprintf(pid, sizeof pid, "%ld", (long)getpid());
      setenv("WATCHDOG_USEC", watchdog_usec, 1);
      setenv("WATCHDOG_PID", pid, 1);
    }
  } else if (mode == 'f') {
    if (keep == want_fd) keep = fcntl(keep, F_DUPFD_CLOEXEC, 3);
    int fd = open(rpath, O_RDWR | O_NOFOLLOW);
    if (fd >= 0 && fd != want_fd) dup2(fd, want_fd), close(fd);
  }
  return keep;
}

void kready_start(long instance, pid_t pid) {
  pid_t pp, pg = 0;
  if (adopt_group > 0) stat_of(pid, &pp, &pg, NULL); /* adopted: still in the group its command led? */
  group = adopt_group > 0 && pg == adopt_group ? adopt_group : pid;
  adopt_group = 0;
  if (main_fd >= 0) close(main_fd), main_fd = -1;
  if (!mode) return;
  main_pid = pid;
  st.instance = instance;
  st.ready = st.reloading = st.stopping = 0;
  st.extend_until = 0;
  st.mainpid = 0, st.mainstart = 0, st.reloads = st.reloaded = 0;
  st.status[0] = 0;
}

pid_t kready_successor(pid_t ended) {
  struct pollfd p = {.fd = kready_main_fd(ended), .events = POLLIN};
  if (p.fd < 0 || poll(&p, 1, 0) != 0) return 0; /* none, or it has ended too */
  main_pid = (pid_t)st.mainpid;
  return main_pid;
}

int kready_main_fd(pid_t running) { return mode == 'n' && st.mainpid > 0 && st.mainpid != running ? main_fd : -1; }

pid_t kready_main_pid(void) { return (pid_t)st.mainpid; }

void kready_end_group(pid_t ended) {
  if (group > 0 && group != ended) kill(-group, SIGKILL);
}

/* From /proc/PID/stat: its parent, process group and (if `start`) start time (0 if it is gone). */
static void stat_of(pid_t pid, pid_t *ppid, pid_t *pgrp, unsigned long long *start) {
  char path[40], buf[512];
  *ppid = *pgrp = 0;
  if (start) *start = 0;
  snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return;
  buf[n] = 0;
  char *p = strrchr(buf, ')');
  long a, b;
  unsigned long long s = 0;
  /* fields 3-5, then 6-21 skipped, then 22: starttime */
  int got = p ? sscanf(p + 1, " %*c %ld %ld %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %llu", &a, &b, &s) : 0;
  if (got >= 2) *ppid = (pid_t)a, *pgrp = (pid_t)b;
  if (start && got == 3) *start = s;
}

/* Is `pid` one of the entity's processes? */
static int ours(pid_t pid) {
  if (pid <= 0 || main_pid <= 0) return 0;
  if (pid == main_pid) return 1;
  pid_t ppid, pgrp, mppid, mpgrp;
  stat_of(main_pid, &mppid, &mpgrp, NULL);
  stat_of(pid, &ppid, &pgrp, NULL);
  if (mpgrp > 0 && pgrp == mpgrp) return 1;
  for (int i = 0; i < 64 && ppid > 1; i++) { /* a descendant of the entity or of this keeper */
    if (ppid == main_pid || ppid == getpid()) return 1;
    stat_of(ppid, &ppid, &pgrp, NULL);
  }
  return 0;
}

/* One datagram's lines: 1 if it said anything we keep (a WATCHDOG=1 beat alone: 2, published at most once per gap). */
static int apply(char *msg, size_t n) {
  int changed = 0;
  for (char *line = msg, *end = msg + n; line < end;) {
    char *nl = memchr(line, '\n', (size_t)(end - line));
    if (!nl) nl = end;
    *nl = 0;
    if (strcmp(line, "READY=1") == 0) changed |= !st.ready || st.reloading || st.reloaded != st.reloads, st.ready = 1, st.reloading = 0, st.reloaded = st.reloads;
    else if (strcmp(line, "RELOADING=1") == 0) changed = 1, st.reloading = 1, st.reloads++;
    else if (strcmp(line, "STOPPING=1") == 0) changed |= !st.stopping, st.stopping = 1;
    else if (strcmp(line, "WATCHDOG=1") == 0) changed |= 2, st.watchdog++;
    else if (strncmp(line, "STATUS=", 7) == 0) {
      char *s = line + 7;
      size_t l = strlen(s) > STATUS_MAX ? STATUS_MAX : strlen(s);
      if (strlen(st.status) != l || memcmp(st.status, s, l) != 0) changed |= 1, memcpy(st.status, s, l), st.status[l] = 0;
    } else if (strncmp(line, "MAINPID=", 8) == 0) {
      char *e = NULL;
      errno = 0;
      long pid = strtol(line + 8, &e, 10);
      if (line[8] >= '1' && line[8] <= '9' && errno == 0 && e && *e == 0 && pid <= 4194304 && pid != st.mainpid && ours((pid_t)pid)) {
        /* Held from now on: the pid cannot name another process while we watch it. */
        int fd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
        pid_t pp, pg;
        unsigned long long start = 0;
        if (fd >= 0) stat_of((pid_t)pid, &pp, &pg, &start);
        struct pollfd alive = {.fd = fd, .events = POLLIN};
        /* Still running after its start time was read: that start time is its own. */
        if (fd >= 0 && (start == 0 || poll(&alive, 1, 0) != 0)) close(fd), fd = -1;
        if (fd >= 0) {
          if (main_fd >= 0) close(main_fd);
          main_fd = fd, changed |= 1, st.mainpid = pid, st.mainstart = start;
        }
      }
    } else if (strncmp(line, "EXTEND_TIMEOUT_USEC=", 20) == 0) {
      char *s = line + 20, *e = NULL;
      errno = 0;
      unsigned long long us = strtoull(s, &e, 10);
      if (*s >= '0' && *s <= '9' && errno == 0 && e && *e == 0 && us <= 86400000000ULL) {
        long long until = wall_ms() + (long long)(us / 1000);
        if (until > st.extend_until) changed |= 1, st.extend_until = until;
      }
    }
    line = nl + 1;
  }
  return changed;
}

/* What the socket holds now: a bounded number of datagrams. */
static void take_notify(void) {
  static char buf[DGRAM_MAX + 1];
  int changed = 0;
  for (int i = 0; i < DGRAMS_PER_TURN; i++) {
    union {
      struct cmsghdr h;
      char b[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int) * 64)];
    } c;
    struct iovec iov = {.iov_base = buf, .iov_len = DGRAM_MAX};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = c.b, .msg_controllen = sizeof c.b};
    ssize_t n = recvmsg(rfd, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC | MSG_TRUNC);
    if (n < 0) break;
    struct ucred *cred = NULL;
    for (struct cmsghdr *h = CMSG_FIRSTHDR(&m); h; h = CMSG_NXTHDR(&m, h)) {
      if (h->cmsg_level != SOL_SOCKET) continue;
      if (h->cmsg_type == SCM_RIGHTS) { /* closed unread: BARRIER=1 waits for exactly this */
        int *fds = (int *)CMSG_DATA(h);
        for (size_t k = 0; k < (h->cmsg_len - CMSG_LEN(0)) / sizeof(int); k++) close(fds[k]);
      } else if (h->cmsg_type == SCM_CREDENTIALS && h->cmsg_len >= CMSG_LEN(sizeof *cred))
        cred = (struct ucred *)CMSG_DATA(h);
    }
    int good = n > 0 && n <= DGRAM_MAX && !(m.msg_flags & MSG_CTRUNC) && !memchr(buf, 0, (size_t)n) && cred && (cred->uid == geteuid() || cred->uid == krunas_uid()) && ours(cred->pid);
    /* A lone BARRIER=1 is not counted: systemd-notify sends it from a helper that may be
     * gone by the time we look, and it asks only for its fds closed (done above). */
    if (!good) {
      if (!(n == 9 && memcmp(buf, "BARRIER=1", 9) == 0)) st.ignored++, changed |= 1;
      continue;
    }
    changed |= apply(buf, (size_t)n);
  }
  if (changed & 1) publish();
  else if (changed && pending_since < 0) pending_since = klog_now_ms();
}

/* ms until a watchdog-only change is due (0: now), or -1: none waits. */
static long pending_due(void) {
  if (pending_since < 0) return -1;
  long d = published_at + watchdog_gap - klog_now_ms();
  return d < 0 ? 0 : d;
}

void kready_fresh(void) {
  if (mode != 'f') return;
  struct stat s;
  if (rfd >= 0) close(rfd), rfd = -1;
  if (lstat(rpath, &s) == 0 && S_ISFIFO(s.st_mode)) unlink(rpath);
  if (open_fifo() != 0) rfd = -1; /* its kready_child finds no FIFO: it never says it is ready */
}

/* What the FIFO holds now: a newline means ready; the bytes are not kept. */
static void take_fd(void) {
  char buf[4096];
  int nl = 0;
  for (int i = 0; i < 16; i++) {
    ssize_t n = read(rfd, buf, sizeof buf);
    if (n <= 0) break;
    nl |= memchr(buf, '\n', (size_t)n) != NULL;
  }
  if (nl && !st.ready) st.ready = 1, publish();
}

int kready_poll(struct pollfd *fds, int n, int timeout_ms) {
  if (rfd < 0 || n > 5) return klog_poll(fds, n, timeout_ms);
  struct pollfd p[6];
  long until = timeout_ms > 0 ? klog_now_ms() + timeout_ms : 0;
  for (;;) {
    long due = pending_due();
    if (due == 0) publish(), due = -1;
    int wait = due >= 0 && (timeout_ms < 0 || due < timeout_ms) ? (int)due : timeout_ms;
    if (n > 0) memcpy(p, fds, sizeof *p * (size_t)n);
    p[n] = (struct pollfd){.fd = rfd, .events = POLLIN};
    int r = klog_poll(p, n + 1, wait);
    for (int i = 0; i < n; i++) fds[i].revents = p[i].revents;
    if (r < 0 || (r == 0 && wait == timeout_ms)) return r;
    if (r == 0) { /* the watchdog's gap, not the caller's timeout: published at the top */
      if (timeout_ms > 0 && (timeout_ms = (int)(until - klog_now_ms())) <= 0) return publish(), 0;
      continue;
    }
    if (p[n].revents) {
      r--;
      long before = st.mainpid;
      if (mode == 'n') take_notify();
      else take_fd();
      /* A new MAINPID= means a new pidfd the caller's set lacks: back to it at once,
       * as a signal would (EINTR), so it polls that pid's death too. */
      if (st.mainpid != before && r == 0) return errno = EINTR, -1;
    }
    if (r > 0 || timeout_ms == 0) return r;
    if (timeout_ms > 0 && (timeout_ms = (int)(until - klog_now_ms())) <= 0) return 0;
  }
}
