/* The keeper's fencing deadline (keeper-fence.c): a placed entity (README "Cluster") is
 * stopped by its keeper on its own once its node's lease may have expired, HAM or no HAM. */
#ifndef KEEPER_FENCE_H
#define KEEPER_FENCE_H
#include <sys/types.h>

/* Take HAM_FENCE_MS (the first deadline, from now) and HAM_FENCE_STOP ("SIGNAL TIMEOUT_MS")
 * out of the environment: the entity does not inherit them. */
void kfence_init(void);
/* The order "EPOCH MS SIGNAL TIMEOUT_MS" (after "d "): the deadline is MS from now on
 * CLOCK_MONOTONIC; MS 0 clears it; an order of an older epoch than the last is ignored. */
void kfence_take(const char *p);
/* How long a poll may wait (ms) before the next fencing step; `dflt` when none is due. */
int kfence_wait_ms(int dflt);
/* Past the deadline: the stop signal to `pid`'s group, then SIGKILL after the timeout. */
void kfence_check(pid_t pid);
/* The deadline has passed: the command is not started again until a new deadline. */
int kfence_past(void);
#endif
