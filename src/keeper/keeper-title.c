/* The keeper's title (issue 14): in ps and `pgrep -f` it is "ham keeper NAME HOME", not
 * its entity's command line (HOME tells the keepers of several homes apart, as the pair's
 * titles do) (a user's `pgrep -f SERVICE` found the keeper too, and
 * the kill meant for the service killed the keeper). The arguments are moved to the
 * heap first (argv[i] points there after, so the keeper reads them as before) and
 * the kernel's argv area then holds only the title (later the drain's). What the
 * keeper was started with stays readable by its owner in DIR/argv (NUL-separated),
 * and DIR in its environment as HAM_KEEPER_DIR (taken out of what the command
 * inherits): the HAM finds keepers by folder with it (reconcile.ts). */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "keeper-log.h"

static char *area;
static size_t area_len;

void ktitle_set(const char *fmt, ...) {
  if (!area) return;
  memset(area, 0, area_len);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(area, area_len, fmt, ap); /* at most area_len - 1 bytes: the area still ends in a NUL */
  va_end(ap);
}

static void save_argv(const char *dir, const char *args, size_t len) {
  char path[4096];
  if (snprintf(path, sizeof path, "%s/argv", dir) >= (int)sizeof path) return;
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return;
  for (size_t off = 0; off < len;) {
    ssize_t n = write(fd, args + off, len - off);
    if (n <= 0) break;
    off += (size_t)n;
  }
  close(fd);
}

void ktitle_keeper(int argc, char **argv) {
  unsetenv("HAM_KEEPER_DIR"); /* ours: /proc/PID/environ keeps it, the command does not get it */
  if (argc < 4) return;
  for (int i = 1; i < argc; i++)
    if (argv[i] != argv[i - 1] + strlen(argv[i - 1]) + 1) return; /* not one area: left as it is */
  size_t len = (size_t)(argv[argc - 1] + strlen(argv[argc - 1]) + 1 - argv[0]);
  char *copy = malloc(len);
  if (!copy) return;
  memcpy(copy, argv[0], len);
  area = argv[0], area_len = len;
  for (int i = 0; i < argc; i++) argv[i] = copy + (argv[i] - area);
  save_argv(argv[1], copy, len);
  const char *name = getenv("HAM_ENTITY");
  /* argv[1] is HOME/run/keepers/ID-N: the home is what is left without the last three parts */
  const char *dir = argv[1];
  size_t home_len = strlen(dir);
  for (int parts = 0; parts < 3 && home_len > 0; parts++) {
    while (home_len > 0 && dir[home_len - 1] != '/') home_len--;
    if (home_len > 0) home_len--;
  }
  ktitle_set("ham keeper %s %.*s", name && *name ? name : argv[3], (int)home_len, dir);
}
