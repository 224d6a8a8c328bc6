/*
 * The keeper's log file `current`, opened so that nothing planted there can
 * stop the keeper: a FIFO opened for writing would wait for a reader for ever
 * (and the keeper with it: no records, no output read, a blocked entity), a
 * symlink would send the lines elsewhere. So: never blocking, never followed,
 * then fstat: a regular file of ours, else refused. What was refused is said
 * in the keeper's DIR/log-problem, which the HAM shows in `ham status NAME`.
 */
#define _GNU_SOURCE
#include "keeper-log.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int klog_file_open(int dir_fd, long *size) {
  int fd = openat(dir_fd, "current", O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0600);
  if (fd < 0) return -1;
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
    close(fd);
    return errno = EPERM, -1;
  }
  fcntl(fd, F_SETFL, O_APPEND); /* a regular file: blocking or not is the same, but say what we mean */
  *size = (long)st.st_size;
  return fd;
}

int klog_file_what(int dir_fd, char *buf, size_t n) {
  struct stat st;
  if (fstatat(dir_fd, "current", &st, AT_SYMLINK_NOFOLLOW) != 0) return 0; /* nothing there: made at the next write */
  const char *what = S_ISFIFO(st.st_mode)  ? "a FIFO"
                     : S_ISLNK(st.st_mode) ? "a symbolic link (never followed)"
                     : S_ISDIR(st.st_mode) ? "a directory"
                     : S_ISSOCK(st.st_mode) ? "a socket"
                     : !S_ISREG(st.st_mode) ? "a device"
                                            : NULL;
  if (what) return snprintf(buf, n, "is %s, not a regular file", what), 1;
  if (st.st_uid != geteuid()) return snprintf(buf, n, "is owned by uid %ld, not by the keeper's %ld", (long)st.st_uid, (long)geteuid()), 1;
  return 0;
}

void klog_problem(const char *kdir, const char *text) {
  char *path = malloc(strlen(kdir) + 16);
  if (!path) return;
  sprintf(path, "%s/log-problem", kdir);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0600);
  free(path);
  if (fd < 0) return;
  (void)!write(fd, text, strlen(text));
  close(fd);
}
