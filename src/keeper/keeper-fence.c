/* The fencing deadline of a placed entity (keeper-fence.h). The HAM moves it on after
 * each confirmed renewal of its node's etcd lease; the keeper outlives any HAM, so a node
 * cut off from etcd (or left with no HAM) stops the entity before the lease can expire and
 * another node may start it. Relative times, kept on CLOCK_BOOTTIME: a wall-clock step moves nothing,
 * and a suspend counts (the etcd lease runs on meanwhile; CLOCK_MONOTONIC would stop). */
#define _GNU_SOURCE
#include "keeper-fence.h"
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static long long deadline, kill_at; /* ms on CLOCK_BOOTTIME; 0: none */
static int refused; /* placed (HAM_FENCE_TOKEN) with no deadline: its command is never started */
static unsigned long fence_epoch;
static int stop_sig = SIGTERM, stage; /* 0: before the deadline, 1: signalled, 2: killed */
static long stop_ms = 5000;

static long long now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_BOOTTIME, &t);
  return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* "N N" (or "N N N N"): `n` decimal numbers separated by one space, nothing after. */
static int numbers(const char *p, unsigned long *v, int n) {
  for (int i = 0; i < n; i++) {
    char *end = NULL;
    if (*p < '0' || *p > '9') return -1;
    errno = 0;
    v[i] = strtoul(p, &end, 10);
    if (errno != 0 || !end || (i < n - 1 ? *end != ' ' : *end != 0)) return -1;
    p = end + (i < n - 1);
  }
  return 0;
}

static void set(unsigned long ms, unsigned long sig, unsigned long timeout) {
  if (ms > 86400000UL || sig < 1 || sig > 64 || timeout > 3600000UL) return;
  deadline = ms ? now_ms() + (long long)ms : 0;
  stop_sig = (int)sig, stop_ms = (long)timeout, stage = 0, kill_at = 0;
}

void kfence_init(void) {
  const char *ms = getenv("HAM_FENCE_MS"), *stop = getenv("HAM_FENCE_STOP");
  unsigned long v[2] = {SIGTERM, 5000}, m[1];
  if (stop && numbers(stop, v, 2) != 0) v[0] = SIGTERM, v[1] = 5000;
  if (ms && numbers(ms, m, 1) == 0 && m[0] > 0) set(m[0], v[0], v[1]);
  refused = getenv("HAM_FENCE_TOKEN") && !deadline; /* no grant from a live cluster runtime */
  unsetenv("HAM_FENCE_MS"), unsetenv("HAM_FENCE_STOP");
}

void kfence_take(const char *p) {
  unsigned long v[4];
  if (numbers(p, v, 4) != 0 || v[0] < fence_epoch) return;
  fence_epoch = v[0];
  set(v[1], v[2], v[3]);
}

int kfence_wait_ms(int dflt) {
  long long due = stage == 0 ? deadline : stage == 1 ? kill_at : 0;
  if (!due) return dflt;
  long long left = due - now_ms();
  if (left < 0) left = 0;
  if (left > 60000) left = 60000;
  return dflt >= 0 && dflt < left ? dflt : (int)left + 1; /* +1: wake just past it, not just before */
}

void kfence_check(pid_t pid) {
  if (!deadline || pid <= 0) return;
  long long now = now_ms();
  if (stage == 0 && now >= deadline) {
    fprintf(stderr, "keeper %ld: fencing deadline passed (no lease renewal confirmed): stopping %ld\n", (long)getpid(), (long)pid);
    kill(-pid, stop_sig), kill(pid, stop_sig);
    stage = 1, kill_at = now + stop_ms;
  } else if (stage == 1 && now >= kill_at) {
    kill(-pid, SIGKILL), kill(pid, SIGKILL);
    stage = 2;
  }
}

int kfence_past(void) { return refused || (deadline && now_ms() >= deadline); }
