/* Who is at the other end of a unix socket: getsockopt(SO_PEERCRED).
 * Node has no API for it; this is the whole addon (libc + node_api.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <node_api.h>

static napi_value peer(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd = -1;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) {
    napi_throw_type_error(env, NULL, "peercred: expected a file descriptor");
    return NULL;
  }
  struct ucred c;
  socklen_t len = sizeof c;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &c, &len) != 0) {
    napi_throw_error(env, NULL, strerror(errno));
    return NULL;
  }
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

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "peer", NAPI_AUTO_LENGTH, peer, NULL, &fn);
  napi_set_named_property(env, exports, "peer", fn);
  return exports;
}
