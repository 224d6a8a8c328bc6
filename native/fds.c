/* Close-on-exec for every fd from N up: what a daemon spawns must inherit none of its fds
 * (LMDB opens data.mdb without O_CLOEXEC; an fd passed to us by whoever started us). Node
 * has no fcntl; close_range(CLOSE_RANGE_CLOEXEC) where the kernel has it (5.11), else each
 * fd listed in /proc/self/fd. And flock(LOCK_EX), which Node has not either: the home's claim
 * lock (src/proc/fds.ts). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
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

/* flock(fd, LOCK_EX|LOCK_NB): true if taken, false if another holds it (the caller waits and tries again). */
static napi_value lock_exclusive(napi_env env, napi_callback_info info) {
  int32_t fd;
  if (!addon_fd_arg(env, info, "lockExclusive", &fd)) return NULL;
  int rc;
  while ((rc = flock(fd, LOCK_EX | LOCK_NB)) != 0 && errno == EINTR) {
  }
  if (rc && errno != EWOULDBLOCK) return addon_throw_errno(env, errno);
  napi_value out;
  napi_get_boolean(env, rc == 0, &out);
  return out;
}

NAPI_MODULE_INIT() {
  napi_value f, g;
  napi_create_function(env, "cloexecFrom", NAPI_AUTO_LENGTH, cloexec_from, NULL, &f);
  napi_set_named_property(env, exports, "cloexecFrom", f);
  napi_create_function(env, "lockExclusive", NAPI_AUTO_LENGTH, lock_exclusive, NULL, &g);
  napi_set_named_property(env, exports, "lockExclusive", g);
  return exports;
}
