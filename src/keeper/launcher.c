/*
 * ham launcher: starts keepers for the HAM, so the HAM never forks itself (a
 * fork of the Node process costs milliseconds of its event loop each; this
 * process is a few hundred KiB and forks in microseconds). The pattern of the
 * check runner (src/detector/runner.pl): one long-lived child fed on a pipe.
 *
 * It decides nothing and keeps nothing: each keeper is started detached in its
 * own session and outlives the launcher and the HAM; its K/P/S records say
 * what happened to it. The HAM restarts a launcher that died and sends it again
 * every request it had not answered: a keeper folder's "spawned" marker
 * (created O_EXCL before the exec) makes a repeated request a no-op, so a
 * request is carried out exactly once whichever launcher got it.
 *
 * Requests on stdin, each "LEN\n" then LEN bytes of NUL-ended fields:
 *   TAG DIR LOG CWD NARGV ARGV... NENV ENV...    (ARGV[0]: a path, or looked up in ENV's PATH)
 * DIR (the keeper's folder, made 0700 if missing: its parent exists) gets the marker, which
 * holds "PID START\n": the launched child's pid and start time (clock ticks), which are the
 * keeper's (an exec keeps both), so a HAM that finds a marker and no keeper knows which process
 * to wait for, exec'd or not yet.
 * Answers on stdout, one line each:
 *   s TAG PID      started (exec'd)           d TAG PID START  already started by PID (the marker's)
 *   e TAG ERRNO    could not be started       x TAG STATUS     a keeper it started exited (raw wait status)
 * The HAM gone (EOF on stdin, or SIGKILL by PR_SET_PDEATHSIG): exit at once, starting nothing
 * more (the next HAM starts what was never started); the keepers stay.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_REQUEST (4u << 20) /* the HAM refuses larger ones first */
#define MAX_FIELDS 16384 /* argv ≤ 1024 and a bounded environment: plenty */
#define MAX_KIDS 1048576

/* Which tag each live keeper child has, for its exit answer. */
struct kid {
  pid_t pid;
  char *tag;
};
static struct kid *kids;
static size_t nkids, capkids;

/* Forked, exec not yet seen: the launcher does not wait for each exec (under load each
 * wait was a scheduling round trip), it watches their close-on-exec pipes. */
#define MAX_FLIGHT 128
struct flight {
  int fd;
  pid_t pid;
  char *tag;
  int dead, status; /* reaped before its pipe was read */
};
static struct flight flights[MAX_FLIGHT];
static size_t nflights;

static void answer(const char *fmt, const char *tag, long n) {
  char line[512];
  int len = snprintf(line, sizeof line, fmt, tag, n);
  if (len < 0 || (size_t)len >= sizeof line) return; /* tags are short: never */
  const char *p = line;
  while (len > 0) {
    ssize_t w = write(1, p, (size_t)len);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) exit(0); /* the HAM is gone */
    p += w;
    len -= (int)w;
  }
}

static void remember(pid_t pid, const char *tag) {
  if (nkids == capkids) {
    size_t cap = capkids ? capkids * 2 : 256;
    if (cap > MAX_KIDS) return; /* its exit goes unreported: its life FIFO still tells */
    struct kid *k = realloc(kids, cap * sizeof *k);
    if (!k) return;
    kids = k;
    capkids = cap;
  }
  char *t = strdup(tag);
  if (!t) return;
  kids[nkids].pid = pid;
  kids[nkids].tag = t;
  nkids++;
}

static void reap(void) {
  int status;
  pid_t pid;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
    for (size_t i = 0; i < nflights; i++)
      if (flights[i].pid == pid) {
        flights[i].dead = 1;
        flights[i].status = status;
      }
    for (size_t i = 0; i < nkids; i++) {
      if (kids[i].pid != pid) continue;
      answer("x %s %ld\n", kids[i].tag, status);
      free(kids[i].tag);
      kids[i] = kids[--nkids];
      break;
    }
  }
}

/* This process's start time (field 22 of /proc/self/stat), 0 if unknown. */
static unsigned long long start_time(void) {
  char st[1024];
  int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, st, sizeof st - 1);
  close(fd);
  if (n <= 0) return 0;
  st[n] = 0;
  char *p = strrchr(st, ')'); /* the name may hold spaces and parentheses */
  if (!p) return 0;
  for (int field = 2; field < 22 && p; field++) p = strchr(p + 1, ' ');
  return p ? strtoull(p + 1, NULL, 10) : 0;
}

/*
 * The marker, whole or not at all: written beside it, then moved into place. EEXIST: a previous launcher's child made it; what it says
 * goes to errfd after the errno ("17 PID START"), for the 'd' answer. 0 if made.
 */
static int mark(int errfd, const char *dir) {
  char marker[4096], temp[4096], line[64];
  if (snprintf(marker, sizeof marker, "%s/spawned", dir) >= (int)sizeof marker ||
      snprintf(temp, sizeof temp, "%s/.spawned.%ld", dir, (long)getpid()) >= (int)sizeof temp) {
    errno = ENAMETOOLONG;
    return -1;
  }
  int len = snprintf(line, sizeof line, "%ld %llu\n", (long)getpid(), start_time());
  int m = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (m < 0) return -1;
  int ok = write(m, line, (size_t)len) == len;
  close(m);
  /* No replace: fails with EEXIST as O_EXCL would. Where the file system cannot, a link (two
   * names for a moment: a child killed between them leaves a link the home check refuses). */
  int moved = ok ? renameat2(AT_FDCWD, temp, AT_FDCWD, marker, RENAME_NOREPLACE) : -1;
  if (moved == 0) return 0;
  int e = ok ? errno : EIO;
  if (e == EINVAL || e == ENOSYS) {
    moved = link(temp, marker);
    e = errno;
  }
  unlink(temp);
  if (moved == 0) return 0;
  if (e == EEXIST) {
    char said[64] = "";
    int r = open(marker, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    ssize_t n = r < 0 ? -1 : read(r, said, sizeof said - 1);
    if (r >= 0) close(r);
    said[n > 0 ? n : 0] = 0;
    long pid = 0;
    unsigned long long start = 0;
    if (sscanf(said, "%ld %llu", &pid, &start) != 2) pid = 0, start = 0; /* an older launcher's empty marker */
    len = snprintf(line, sizeof line, "%d %ld %llu", EEXIST, pid, start);
    (void)!write(errfd, line, (size_t)len);
    _exit(127);
  }
  errno = e;
  return -1;
}

/*
 * Failpoints for crash tests (as src/failpoints.ts; HAM_FAILPOINTS reaches the launcher only
 * when set): "POINT:ARG" holds the launched child whose keeper command line has ARG. It
 * announces itself once per HAM_FAILPOINT_DIR with a file named POINT:ARG holding its pid,
 * then stops itself (SIGSTOP) until the test continues or kills it.
 */
static void hold(const char *point, char **argv) {
  const char *list = getenv("HAM_FAILPOINTS"), *dir = getenv("HAM_FAILPOINT_DIR");
  if (!list || !dir) return;
  size_t plen = strlen(point);
  for (const char *at = list; *at;) {
    const char *end = strchr(at, ',');
    size_t len = end ? (size_t)(end - at) : strlen(at);
    if (len > plen + 1 && strncmp(at, point, plen) == 0 && at[plen] == ':') {
      const char *arg = at + plen + 1;
      size_t alen = len - plen - 1;
      for (char **a = argv; *a; a++) {
        if (strlen(*a) != alen || strncmp(*a, arg, alen) != 0) continue;
        char file[4096], pid[32];
        if (snprintf(file, sizeof file, "%s/%.*s", dir, (int)len, at) >= (int)sizeof file) return;
        mkdir(dir, 0700);
        int f = open(file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (f < 0) return; /* fired once already */
        int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
        (void)!write(f, pid, (size_t)n);
        close(f);
        raise(SIGSTOP);
        return;
      }
    }
    if (!end) break;
    at = end + 1;
  }
}

/* The child: its own session, the log as stdout and stderr, the marker, the exec.
 * Any failure is written as errno to `errfd` (close-on-exec: EOF means exec'd). */
static void child(int errfd, const sigset_t *mask, char *dir, char *log, char *cwd, char **argv, char **envp) {
  int e = 0;
  sigprocmask(SIG_UNBLOCK, mask, NULL);
  signal(SIGPIPE, SIG_DFL);
  setsid();
  int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
  int out = open(log, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC, 0600);
  struct stat st;
  if (in < 0 || out < 0 || fstat(out, &st) != 0) goto fail;
  /* The same checks as the HAM's own openLog: ours, a plain file, not writable by others, one link. */
  if (st.st_uid != getuid() || !S_ISREG(st.st_mode) || (st.st_mode & 022) || st.st_nlink > 1) {
    errno = EPERM;
    goto fail;
  }
  if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0) goto fail;
  if (chdir(cwd) != 0) goto fail;
  /* The keeper's folder is made here, not in the HAM (a mkdir there is a blocking call on its loop). */
  if (mkdir(dir, 0700) != 0 && errno != EEXIST) goto fail;
  if (mark(errfd, dir) != 0) goto fail;
  hold("launch-exec", argv); /* crash tests: the marker made, the keeper not yet exec'd */
  if (strchr(argv[0], '/'))
    execve(argv[0], argv, envp);
  else
    execvpe(argv[0], argv, envp);
fail:
  e = errno ? errno : EIO;
  char num[16];
  int len = snprintf(num, sizeof num, "%d", e);
  (void)!write(errfd, num, (size_t)len);
  _exit(127);
}

static void launch(char *buf, size_t len, const sigset_t *mask) {
  char *f[MAX_FIELDS];
  size_t n = 0;
  for (size_t at = 0; at < len && n < MAX_FIELDS;) {
    f[n++] = buf + at;
    char *z = memchr(buf + at, 0, len - at);
    if (!z) return; /* not NUL-ended: junk */
    at = (size_t)(z - buf) + 1;
  }
  if (n < 6) return;
  char *tag = f[0];
  size_t nargv = strtoul(f[4], NULL, 10);
  if (nargv < 1 || 5 + nargv >= n) return answer("e %s %ld\n", tag, EINVAL);
  size_t nenv = strtoul(f[5 + nargv], NULL, 10);
  if (6 + nargv + nenv != n) return answer("e %s %ld\n", tag, EINVAL);
  /* argv and envp NULL-ended in place: f has room, each list is copied out first. */
  char **argv = malloc((nargv + 1) * sizeof *argv), **envp = malloc((nenv + 1) * sizeof *envp);
  if (!argv || !envp) {
    free(argv);
    free(envp);
    return answer("e %s %ld\n", tag, ENOMEM);
  }
  memcpy(argv, f + 5, nargv * sizeof *argv);
  argv[nargv] = NULL;
  memcpy(envp, f + 6 + nargv, nenv * sizeof *envp);
  envp[nenv] = NULL;
  int pfd[2] = {-1, -1};
  pid_t pid = -1;
  if (pipe2(pfd, O_CLOEXEC) == 0) {
    fcntl(pfd[0], F_SETFL, O_NONBLOCK);
    pid = fork();
    if (pid == 0) {
      close(pfd[0]);
      child(pfd[1], mask, f[1], f[2], f[3], argv, envp);
    }
    close(pfd[1]);
  }
  free(argv);
  free(envp);
  if (pid < 0) {
    int e = errno;
    if (pfd[0] >= 0) close(pfd[0]);
    return answer("e %s %ld\n", tag, e);
  }
  char *t = strdup(tag);
  if (!t) {
    /* No room to remember it: killed now, as a failed start (its marker is made: the HAM's next try says so). */
    kill(pid, SIGKILL);
    close(pfd[0]);
    return answer("e %s %ld\n", tag, ENOMEM);
  }
  flights[nflights++] = (struct flight){.fd = pfd[0], .pid = pid, .tag = t};
}

/* Flight i's pipe is readable: EOF means exec'd, bytes are the errno of a failed start. */
static void settle(size_t i) {
  struct flight f = flights[i];
  char err[64];
  ssize_t r;
  while ((r = read(f.fd, err, sizeof err - 1)) < 0 && errno == EINTR) {
  }
  if (r < 0 && errno == EAGAIN) return; /* not yet */
  flights[i] = flights[--nflights];
  if (r <= 0) {
    answer("s %s %ld\n", f.tag, f.pid);
    close(f.fd); /* after the answer: a closed pipe says it was given (tests wait on that) */
    if (f.dead)
      answer("x %s %ld\n", f.tag, f.status);
    else
      remember(f.pid, f.tag);
    free(f.tag);
    return;
  }
  close(f.fd);
  err[r] = 0; /* the child writes it in one write, under PIPE_BUF */
  int status;
  if (!f.dead)
    while (waitpid(f.pid, &status, 0) < 0 && errno == EINTR) {
    }
  char *rest;
  long e = strtol(err, &rest, 10);
  if (e == EEXIST) {
    /* Started by an earlier launcher's child: its pid and start time, from the marker. */
    long pid = 0;
    unsigned long long start = 0;
    if (sscanf(rest, "%ld %llu", &pid, &start) != 2) pid = 0, start = 0;
    char line[512];
    int len = snprintf(line, sizeof line, "d %s %ld %llu\n", f.tag, pid, start);
    if (len > 0 && (size_t)len < sizeof line) answer("%s", line, 0);
  } else
    answer("e %s %ld\n", f.tag, e);
  free(f.tag);
}

int main(void) {
  /* Dies with the HAM, and starts nothing once it is gone: a request still in the pipe
   * would start a keeper after the next HAM looked for it (it would start another). */
  pid_t ham = getppid();
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != ham) return 0;
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGCHLD);
  sigprocmask(SIG_BLOCK, &mask, NULL);
  int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd < 0) return 111;
  signal(SIGPIPE, SIG_IGN);
  fcntl(0, F_SETFD, FD_CLOEXEC);
  fcntl(1, F_SETFD, FD_CLOEXEC);
  size_t cap = 65536, have = 0;
  char *buf = malloc(cap);
  if (!buf) return 111;
  for (;;) {
    /* Requests read are started while there is room in flight; stdin is read only then. */
    for (;;) {
      if (nflights == MAX_FLIGHT) break;
      char *nl = memchr(buf, '\n', have < 16 ? have : 16);
      if (!nl) {
        if (have >= 16) return 2; /* no length: junk */
        break;
      }
      size_t len = strtoul(buf, NULL, 10), head = (size_t)(nl - buf) + 1;
      if (len > MAX_REQUEST) return 2;
      if (head + len > cap) {
        char *b = realloc(buf, head + len);
        if (!b) return 111;
        buf = b;
        cap = head + len;
      }
      if (have < head + len) break;
      if (getppid() != ham) return 0;
      launch(buf + head, len, &mask);
      memmove(buf, buf + head + len, have - head - len);
      have -= head + len;
    }
    struct pollfd p[2 + MAX_FLIGHT];
    p[0] = (struct pollfd){.fd = nflights < MAX_FLIGHT && have < cap ? 0 : -1, .events = POLLIN};
    p[1] = (struct pollfd){.fd = sfd, .events = POLLIN};
    size_t n = nflights;
    for (size_t i = 0; i < n; i++) p[2 + i] = (struct pollfd){.fd = flights[i].fd, .events = POLLIN};
    if (poll(p, 2 + n, -1) < 0) continue;
    /* Pipes first: a child that exec'd and died closed its pipe before its SIGCHLD. */
    for (size_t i = n; i-- > 0;)
      if (p[2 + i].revents) settle(i);
    if (p[1].revents) {
      struct signalfd_siginfo si;
      while (read(sfd, &si, sizeof si) == sizeof si) {
      }
      reap();
    }
    if (!p[0].revents) continue;
    ssize_t r = read(0, buf + have, cap - have);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return 0; /* the HAM is gone: the keepers stay */
    have += (size_t)r;
  }
}
