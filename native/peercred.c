/* Who is at the other end of a unix socket: getsockopt(SO_PEERCRED).
 * Node has no API for it; this is the whole addon (libc + node_api.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <sys/socket.h>
#include "addon.h"

static napi_value peer(napi_env env, napi_callback_info info) {
  int32_t fd;
  if (!addon_fd_arg(env, info, "peercred", &fd)) return NULL;
  struct ucred c;
  socklen_t len = sizeof c;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &c, &len) != 0) return addon_throw_errno(env, errno);
  napi_value out, pid, uid, gid;
  napi_create_object(env, &out);
  napi_create_int32(env, (int32_t)c.pid, &pid);
  napi_create_uint32(env, (uint32_t)c.uid, &uid);
  napi_create_uint32(env, (uint32_t)c.gid, &gid);
  napi_set_named_property(env, out, "pid", pid);
  napi_set_named_property(env, out, "uid", uid);
  napi_set_named_property(env, out, "gid", gid);
  return out;
}

ADDON_EXPORT("peer", peer)
