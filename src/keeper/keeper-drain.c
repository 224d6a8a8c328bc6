/*
 * The drain: a keeper that is no keeper now (detached, or its entity's main
 * process ended) reads the entity's output FIFOs on while anyone writes.
 * Who else holds an entity's output FIFOs (keeper-log.c's drain asks when the
 * entity's main process is gone): a process that left its group (a daemon's
 * setsid child) and writes on must still be read, or it blocks for ever once
 * the pipe is full (its own read-write end means no SIGPIPE to stop it).
 * Found by /proc/PID/fd: readlink only (no stat: a link to a dead NFS mount
 * must not hang the scan). The last holder is checked first: while it lives,
 * a check costs one process's fd folder, not the whole of /proc.
 */
#define _GNU_SOURCE
#include "keeper-log.h"
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Does `pid` have one of `paths` (two) open? */
static int holds(int proc, pid_t pid, char *const paths[2]) {
  char p[32], link[4096];
  snprintf(p, sizeof p, "%ld/fd", (long)pid);
  int fd = openat(proc, p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return 0;
  DIR *d = fdopendir(fd);
  if (!d) return close(fd), 0;
  int found = 0;
  for (struct dirent *e; !found && (e = readdir(d));) {
    if (e->d_name[0] == '.') continue;
    ssize_t n = readlinkat(fd, e->d_name, link, sizeof link - 1);
    if (n <= 0) continue;
    link[n] = 0;
    found = strcmp(link, paths[0]) == 0 || strcmp(link, paths[1]) == 0;
  }
  closedir(d);
  return found;
}

/* Two readers would split lines, mislabel instances and both rotate `current` (a detached entity's
 * name attached again while its drain lives): the drain leaves the FIFOs to a new keeper. Its
 * shared lock, taken at open, makes our exclusive one fail; ours is held for an instant only. */
int klog_others_read(int fd) {
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) return 1;
  flock(fd, LOCK_SH);
  return 0;
}

pid_t klog_holder(char *const paths[2], pid_t last) {
  int proc = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (proc < 0) return 0;
  pid_t self = getpid(), found = 0;
  if (last > 0 && last != self && holds(proc, last, paths)) found = last;
  DIR *d = found ? NULL : fdopendir(dup(proc));
  for (struct dirent *e; d && !found && (e = readdir(d));) {
    if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
    pid_t pid = (pid_t)strtol(e->d_name, NULL, 10);
    if (pid != self && pid != last && holds(proc, pid, paths)) found = pid;
  }
  if (d) closedir(d);
  close(proc);
  return found;
}

/* The main process is gone: read on while another process holds a FIFO, looked
 * for every DRAIN_CHECK_MS, then exit. */
#define DRAIN_CHECK_MS 3000
static _Noreturn void linger(const char *ldir) {
  char *real = realpath(ldir, NULL), *paths[2] = {NULL, NULL};
  for (int k = 0; real && k < 2; k++)
    if ((paths[k] = malloc(strlen(real) + 10))) sprintf(paths[k], "%s/%s", real, k ? ".stderr" : ".stdout");
  /* The new keeper's lock is looked at each check too: it may read every line before
   * our poll sees one (a pipe woken empty), so waiting for POLLIN alone could wait for ever. */
  for (pid_t who = 0; paths[0] && paths[1] && !klog_read_elsewhere() && (who = klog_holder(paths, who)) > 0;) {
    klog_stop = 0;
    klog_poll(NULL, 0, DRAIN_CHECK_MS);
  }
  klog_settle();
  _exit(0);
}

void klog_end(void) {
  const char *ldir = klog_become_drain(-1);
  if (!ldir) exit(0);
  linger(ldir);
}

void klog_detach(pid_t pid) {
  int pfd = (int)syscall(434 /* pidfd_open */, pid, 0);
  const char *ldir = klog_become_drain(pfd);
  if (!ldir) _exit(0);
  for (;;) {
    struct pollfd p = {.fd = pfd, .events = POLLIN};
    klog_stop = 0;
    int r = klog_poll(&p, pfd >= 0 ? 1 : 0, pfd >= 0 ? DRAIN_CHECK_MS : 200);
    if ((r > 0 && p.revents) || kill(pid, 0) != 0) break;
    if (r == 0 && klog_read_elsewhere()) _exit(0); /* as in linger */
  }
  klog_settle();
  linger(ldir);
}
