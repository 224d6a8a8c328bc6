/*
 * Running as: applied by the keeper's child between fork and exec, from plain
 * numbers the HAM resolved at `apply` (names, env files, checks: runas-schema.ts):
 *   HAM_RUN_CGROUP  the cgroup2 folder to move to (its cgroup.procs); a failure is
 *                   2048 + errno (the HAM names the folder: keeper-records.ts)
 *   HAM_RUN_OOM     oom_score_adj (-1000..1000)
 *   HAM_RUN_NICE    the nice value (-20..19, absolute)
 *   HAM_RUN_LIMITS  NAME=SOFT:HARD,... (setrlimit; "unlimited")
 *   HAM_RUN_UMASK   octal
 *   HAM_RUN_GROUPS  GID,... supplementary groups (empty: none)
 *   HAM_RUN_GID, HAM_RUN_UID
 * in that order: the first ones may need root, so the ids change last (a uid
 * change from root also drops every capability). Any failure fails the start
 * with its errno: the command never runs with less than it was given.
 */
#define _GNU_SOURCE
#include "keeper-runas.h"
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_GROUPS 64 /* runas-schema.ts: at most 64 given (a user's own may be more: kept to this) */

/* A whole number within [lo, hi] in base `base`, the whole of `s`; -1 on junk (errno EINVAL). */
static int number(const char *s, int base, long long lo, long long hi, long long *out) {
  char *end = NULL;
  if (!s || !*s) return errno = EINVAL, -1;
  errno = 0;
  long long v = strtoll(s, &end, base);
  if (errno || !end || *end || v < lo || v > hi) return errno = EINVAL, -1;
  return *out = v, 0;
}

static const struct {
  const char *name;
  int resource;
} limit_names[] = {
    {"as", RLIMIT_AS},         {"core", RLIMIT_CORE},         {"cpu", RLIMIT_CPU},     {"data", RLIMIT_DATA},     {"fsize", RLIMIT_FSIZE},
    {"locks", RLIMIT_LOCKS},   {"memlock", RLIMIT_MEMLOCK},   {"msgqueue", RLIMIT_MSGQUEUE}, {"nice", RLIMIT_NICE}, {"nofile", RLIMIT_NOFILE},
    {"nproc", RLIMIT_NPROC},   {"rss", RLIMIT_RSS},           {"rtprio", RLIMIT_RTPRIO}, {"rttime", RLIMIT_RTTIME}, {"sigpending", RLIMIT_SIGPENDING},
    {"stack", RLIMIT_STACK},
};

static int limit_value(const char *s, size_t n, rlim_t *out) {
  char buf[32];
  if (n == 0 || n >= sizeof buf) return errno = EINVAL, -1;
  memcpy(buf, s, n), buf[n] = 0;
  if (strcmp(buf, "unlimited") == 0) return *out = RLIM_INFINITY, 0;
  char *end = NULL;
  errno = 0;
  unsigned long long v = strtoull(buf, &end, 10);
  if (errno || !end || *end || buf[0] == '-') return errno = EINVAL, -1;
  return *out = (rlim_t)v, 0;
}

/* "NAME=SOFT:HARD,..." applied in turn. */
static int set_limits(const char *spec) {
  for (const char *p = spec; *p;) {
    const char *comma = strchr(p, ','), *end = comma ? comma : p + strlen(p);
    const char *eq = memchr(p, '=', (size_t)(end - p)), *colon = eq ? memchr(eq, ':', (size_t)(end - eq)) : NULL;
    if (!eq || !colon) return errno = EINVAL, -1;
    int resource = -1;
    for (size_t i = 0; i < sizeof limit_names / sizeof limit_names[0]; i++)
      if (strlen(limit_names[i].name) == (size_t)(eq - p) && memcmp(limit_names[i].name, p, (size_t)(eq - p)) == 0) resource = limit_names[i].resource;
    struct rlimit rl;
    if (resource < 0 || limit_value(eq + 1, (size_t)(colon - eq - 1), &rl.rlim_cur) != 0 ||
        limit_value(colon + 1, (size_t)(end - colon - 1), &rl.rlim_max) != 0)
      return errno = EINVAL, -1;
    if (setrlimit(resource, &rl) != 0) return -1;
    p = comma ? comma + 1 : end;
  }
  return 0;
}

static int set_groups(const char *spec) {
  gid_t list[MAX_GROUPS];
  size_t n = 0;
  for (const char *p = spec; *p && n < MAX_GROUPS;) {
    char buf[16];
    const char *comma = strchr(p, ','), *end = comma ? comma : p + strlen(p);
    long long v;
    if ((size_t)(end - p) >= sizeof buf) return errno = EINVAL, -1;
    memcpy(buf, p, (size_t)(end - p)), buf[end - p] = 0;
    if (number(buf, 10, 0, 4294967294LL, &v) != 0) return -1;
    list[n++] = (gid_t)v;
    p = comma ? comma + 1 : end;
  }
  return setgroups(n, list);
}

static const char *take(const char *name) {
  const char *v = getenv(name);
  unsetenv(name); /* the child's copy: the keeper keeps its own for the next start */
  return v;
}

/* The child into its cgroup, first: what it forks before exec is counted (and killed at a stop) there too. */
static int join_cgroup(const char *dir) {
  char path[4096], pid[24];
  if (snprintf(path, sizeof path, "%s/cgroup.procs", dir) >= (int)sizeof path) return errno = ENAMETOOLONG, -1;
  int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return -1;
  int len = snprintf(pid, sizeof pid, "%ld", (long)getpid());
  ssize_t w = write(fd, pid, (size_t)len);
  int e = errno;
  close(fd);
  return w == len ? 0 : (errno = w < 0 ? e : EIO, -1);
}

int krunas_child(void) {
  const char *cgroup = take("HAM_RUN_CGROUP");
  if (cgroup && join_cgroup(cgroup) != 0) return errno = KRUNAS_CGROUP_BASE + errno, -1;
  const char *oom = take("HAM_RUN_OOM"), *nice = take("HAM_RUN_NICE"), *limits = take("HAM_RUN_LIMITS"), *mask = take("HAM_RUN_UMASK");
  const char *groups = take("HAM_RUN_GROUPS"), *gid = take("HAM_RUN_GID"), *uid = take("HAM_RUN_UID");
  long long v;
  if (oom) {
    if (number(oom, 10, -1000, 1000, &v) != 0) return -1;
    int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t len = (ssize_t)strlen(oom), w = write(fd, oom, (size_t)len);
    int e = errno;
    close(fd);
    if (w != len) return errno = w < 0 ? e : EIO, -1;
  }
  if (nice && (number(nice, 10, -20, 19, &v) != 0 || setpriority(PRIO_PROCESS, 0, (int)v) != 0)) return -1;
  if (limits && set_limits(limits) != 0) return -1;
  if (mask) {
    if (number(mask, 8, 0, 0777, &v) != 0) return -1;
    umask((mode_t)v);
  }
  if (groups && set_groups(groups) != 0) return -1;
  if (gid && (number(gid, 10, 0, 4294967294LL, &v) != 0 || setresgid((gid_t)v, (gid_t)v, (gid_t)v) != 0)) return -1;
  if (uid && (number(uid, 10, 0, 4294967294LL, &v) != 0 || setresuid((uid_t)v, (uid_t)v, (uid_t)v) != 0)) return -1;
  return 0;
}

uid_t krunas_uid(void) {
  long long v;
  return number(getenv("HAM_RUN_UID"), 10, 0, 4294967294LL, &v) == 0 ? (uid_t)v : geteuid();
}
