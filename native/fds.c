/* Close-on-exec for every fd from N up: what a daemon spawns must inherit none of its fds
 * (LMDB opens data.mdb without O_CLOEXEC; an fd passed to us by whoever started us). Node
 * has no fcntl; this is the whole addon. close_range(CLOSE_RANGE_CLOEXEC) where the kernel
 * has it (5.11), else each fd listed in /proc/self/fd. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "addon.h"

#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

static int by_scan(int from) {
  DIR *d = opendir("/proc/self/fd");
  if (!d) return errno;
  int self = dirfd(d), err = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    char *end;
    long fd = strtol(e->d_name, &end, 10);
    if (*end || end == e->d_name || fd < from || fd == self) continue;
    int flags = fcntl((int)fd, F_GETFD);
    if (flags >= 0 && !(flags & FD_CLOEXEC) && fcntl((int)fd, F_SETFD, flags | FD_CLOEXEC) != 0 && errno != EBADF) err = errno;
  }
  closedir(d);
  return err;
}

static napi_value cloexec_from(napi_env env, napi_callback_info info) {
  int32_t from;
  if (!addon_fd_arg(env, info, "cloexecFrom", &from)) return NULL;
  int err = 0;
  if (syscall(SYS_close_range, (unsigned)from, ~0U, CLOSE_RANGE_CLOEXEC) != 0) err = by_scan(from);
  return err ? addon_throw_errno(env, err) : NULL;
}

ADDON_EXPORT("cloexecFrom", cloexec_from)
