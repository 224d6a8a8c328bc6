/* Drop this process's mappings of code and read-only data (the node binary's ~40 MiB of text and
 * its libraries') once a burst of work is over (src/ham/rest-gc.ts). Those pages stay in the page
 * cache, shared and reclaimable; only this process's page-table entries go, so what an idle daemon
 * counts as its own (RSS, PSS) is what it touches again, not every page its start-up ran once. A
 * page touched later is mapped again from the page cache (a minor fault). Only file-backed private
 * mappings that cannot be written and hold no copied-on-write page, resident or swapped out
 * (Anonymous: 0, Swap: 0), nor locked pages, are dropped: for those MADV_DONTNEED loses nothing
 * (RELRO, which was written before it became read-only, has anonymous pages and is kept). The
 * decision waits for a block's last line (VmFlags), as Swap comes after Anonymous. Returns the kB
 * that were resident in what it dropped. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "addon.h"

static napi_value drop_code_pages(napi_env env, napi_callback_info info) {
  (void)info;
  FILE *f = fopen("/proc/self/smaps", "re");
  if (!f) return addon_throw_errno(env, errno);
  char line[4352];
  unsigned long lo = 0, hi = 0;
  int candidate = 0;
  long rss = 0, kept = 0; /* kept: kB of Anonymous + Swap + Locked in this block */
  double dropped = 0;
  while (fgets(line, sizeof line, f)) {
    unsigned long a, b, off, ino;
    char perms[8], dev[16];
    int n = 0;
    if (sscanf(line, "%lx-%lx %7s %lx %15s %lu %n", &a, &b, perms, &off, dev, &ino, &n) == 6) {
      lo = a, hi = b, rss = 0, kept = 0;
      candidate = ino != 0 && line[n] == '/' && perms[1] != 'w' && perms[3] == 'p';
    } else if (!strncmp(line, "Rss:", 4)) {
      rss = strtol(line + 4, NULL, 10);
    } else if (!strncmp(line, "Anonymous:", 10)) {
      kept += strtol(line + 10, NULL, 10);
    } else if (!strncmp(line, "Swap:", 5)) {
      kept += strtol(line + 5, NULL, 10);
    } else if (!strncmp(line, "Locked:", 7)) {
      kept += strtol(line + 7, NULL, 10);
    } else if (!strncmp(line, "VmFlags:", 8)) {
      if (candidate && rss > 0 && kept == 0 && madvise((void *)lo, hi - lo, MADV_DONTNEED) == 0) dropped += (double)rss;
      candidate = 0;
    }
  }
  fclose(f);
  napi_value r;
  napi_create_double(env, dropped, &r);
  return r;
}

ADDON_EXPORT("dropCodePages", drop_code_pages)
