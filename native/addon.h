/* What the addons (fds.c, peercred.c) share: one file descriptor argument,
 * an errno thrown as an Error, and the one function each exports. */
#ifndef HAM_ADDON_H
#define HAM_ADDON_H
#include <string.h>
#include <node_api.h>

/* The first argument as a file descriptor, or a TypeError "WHAT: expected a file descriptor" (0). */
static inline int addon_fd_arg(napi_env env, napi_callback_info info, const char *what, int32_t *fd) {
  size_t argc = 1;
  napi_value argv[1];
  *fd = -1;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 || napi_get_value_int32(env, argv[0], fd) != napi_ok || *fd < 0) {
    char msg[96];
    snprintf(msg, sizeof msg, "%s: expected a file descriptor", what);
    napi_throw_type_error(env, NULL, msg);
    return 0;
  }
  return 1;
}

static inline napi_value addon_throw_errno(napi_env env, int err) {
  napi_throw_error(env, NULL, strerror(err));
  return NULL;
}

/* The module: exports NAME, the function FN. */
#define ADDON_EXPORT(name, fn)                                                 \
  NAPI_MODULE_INIT() {                                                         \
    napi_value f;                                                              \
    napi_create_function(env, name, NAPI_AUTO_LENGTH, fn, NULL, &f);           \
    napi_set_named_property(env, exports, name, f);                            \
    return exports;                                                            \
  }
#endif
