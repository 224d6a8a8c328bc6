/* The keeper's log writer (keeper-log.c): the entity's stdout and stderr, read
 * from two FIFOs in its log folder, written as timed lines to `current`. */
#ifndef KEEPER_LOG_H
#define KEEPER_LOG_H
#include <poll.h>
#include <sys/types.h>

/* Take the log settings out of the environment (HAM_LOG_DIR, HAM_LOG_MAX_BYTES,
 * HAM_LOG_KEEP: the entity does not inherit them) and open the folder, its FIFOs
 * and `current`. 0 when logging; -1 (errno set) when the entity keeps the
 * keeper's own stdout and stderr instead. */
int klog_open(char **argv, int argc);
/* In the child before exec: FIFOs as fds 1 and 2 (opened read-write, so the
 * entity itself holds a read end: it never gets SIGPIPE, whoever else died). */
void klog_child(void);
/* poll(2) on `fds` and the log FIFOs together, draining the FIFOs on the way:
 * the number of `fds` that are ready, 0 at the timeout, -1 on EINTR or once
 * klog_stop is set (a signal handler's: the caller must look now). */
#include <signal.h>
extern volatile sig_atomic_t klog_stop;
int klog_poll(struct pollfd *fds, int n, int timeout_ms);
/* Whose lines come now (HAM_INSTANCE of the running command). */
void klog_instance(long instance);
/* The command ended: what its pipes hold, and any line without its newline, goes out. */
void klog_settle(void);
/* Detached (SIGUSR1) while `pid` runs: everything but the log closed (the HAM
 * sees this keeper gone), its command line made "ham-log-drain DIR" (it is no
 * keeper now), its output drained until it ends, then exit. Not logging: exit
 * at once. Never returns. */
void klog_detach(pid_t pid);
/* Monotonic ms (the keeper's uptimes). */
long klog_now_ms(void);
#endif
