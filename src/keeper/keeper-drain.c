/*
 * The drain: a keeper that is no keeper now (detached, or its entity's main
 * process ended) reads the entity's output FIFOs on while anyone writes.
 * A process that left its group (a daemon's setsid child) and writes on must
 * still be read, or it blocks for ever once the pipe is full (its own
 * read-write end means no SIGPIPE to stop it). Once the main process is gone
 * the drain holds read-only ends only, so the kernel tells it (POLLHUP) when
 * no writer is left: no process has to be looked for.
 */
#define _GNU_SOURCE
#include "keeper-log.h"
#include <fcntl.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Two readers would split lines, mislabel instances and both rotate `current` (a detached entity's
 * name attached again while its drain lives): the drain leaves the FIFOs to a new keeper. Its
 * shared lock, taken at open, makes our exclusive one fail; ours is held for an instant only. */
int klog_others_read(int fd) {
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) return 1;
  flock(fd, LOCK_SH);
  return 0;
}
int klog_read_elsewhere(void) { return klog_fifos()[0] >= 0 && klog_others_read(klog_fifos()[0]); }

/* Read-only ends in place of our read-write ones (opened again through /proc/self/fd: the same
 * FIFOs even if the folder was renamed), the reader's flock moved to the new .stdout end. A
 * write-only open and close between: kernels that say POLLHUP only once a writer came since the
 * read end opened then say it too. -1 if an open or the lock fails. */
static int read_only(void) {
  int *in = klog_fifos(), ro[2] = {-1, -1}, ok = 1;
  char p[40];
  for (int k = 0; k < 2 && ok; k++) {
    snprintf(p, sizeof p, "/proc/self/fd/%d", in[k]);
    ok = (ro[k] = open(p, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) >= 0;
  }
  int i = 0; /* another drain's check holds the exclusive lock for a moment only */
  while (ok && flock(ro[0], LOCK_SH | LOCK_NB) != 0 && (ok = ++i < 200)) usleep(1000);
  for (int k = 0; k < 2; k++) {
    if (!ok) {
      if (ro[k] >= 0) close(ro[k]);
      continue;
    }
    snprintf(p, sizeof p, "/proc/self/fd/%d", ro[k]);
    int w = open(p, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (w >= 0) close(w);
    close(in[k]);
    in[k] = ro[k];
  }
  return ok ? 0 : -1;
}

/* The main process is gone: read on while any other process can write to a FIFO (a daemon's
 * setsid child holds its read-write ends), then exit. Woken by POLLHUP on both read-only ends once
 * the last writer closes: nothing scanned (a scan of /proc per drain made a mass stop O(N²)).
 * If the read-only ends cannot be had (no /proc) the drain leaves at once, as the scan did then.
 * The new keeper's lock is looked at each DRAIN_CHECK_MS too: it may read every line before our
 * poll sees one (a pipe woken empty), and its read-write end means no POLLHUP here. */
#define DRAIN_CHECK_MS 3000
static _Noreturn void linger(void) {
  if (read_only() == 0)
    while (!klog_read_elsewhere()) {
      klog_stop = 0;
      klog_poll(NULL, 0, DRAIN_CHECK_MS);
      if (klog_hung_up()) break;
    }
  klog_settle();
  _exit(0);
}

/* A drain is no keeper: SIGUSR1 (`ham stop --all` detaching whatever keeper still lives) must
 * not end it while a survivor writes, or that survivor's later lines are lost and it blocks. */
void klog_end(void) {
  signal(SIGUSR1, SIG_IGN);
  const char *ldir = klog_become_drain(-1);
  if (!ldir) exit(0);
  linger();
}

void klog_detach(pid_t pid) {
  signal(SIGUSR1, SIG_IGN);
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
  /* No settle here: a line the survivor is writing as the main process ends would be cut in two.
   * A line the main process left unended goes out by the partial-line timer, or at linger's end. */
  linger();
}
