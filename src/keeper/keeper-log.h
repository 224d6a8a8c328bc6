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
/* No keeper now: its command line made "ham-log-drain DIR", every fd but the
 * log's and `keep` closed (ctl, life, the inbox's: the HAM sees this keeper
 * gone). The log folder; NULL (nothing done) when not logging. */
const char *klog_become_drain(int keep);

/* keeper-drain.c. Detached (SIGUSR1) while `pid` runs: a drain (as above) of
 * its output until it ends and then while any other process holds the FIFOs
 * (a daemon's setsid child), then exit. Not logging: exit at once. */
_Noreturn void klog_detach(pid_t pid);
/* The keeper ends with no command running (a stop's `x`, a detach, no HAM):
 * first the same drain while another process holds the FIFOs. */
_Noreturn void klog_end(void);
/* Does a reader other than this one hold the FIFO `fd` (each reader has a shared flock on its .stdout)? */
int klog_others_read(int fd);
/* The same for this drain's own FIFOs (0 when it has none). */
int klog_read_elsewhere(void);
/* keeper-title.c: "ham keeper NAME HOME" as the command line, the arguments moved to the heap; a new title. */
void ktitle_keeper(int argc, char **argv);
void ktitle_set(const char *fmt, ...);
/* The FIFOs' fds (.stdout, .stderr): the drain puts read-only ends in their place. */
int *klog_fifos(void);
/* Did both read-only ends say POLLHUP (no writer left) in the last klog_poll? Asked once: reset. */
int klog_hung_up(void);
/* keeper-log-file.c: `current` in the log folder opened for appending, never blocking nor followed,
 * a regular file of ours (its size in *size), else -1; what is there instead, as text (0: nothing
 * wrong); a problem said in KDIR/log-problem (the HAM shows it in `ham status NAME`). */
int klog_file_open(int dir_fd, long *size);
int klog_file_what(int dir_fd, char *buf, size_t n);
void klog_problem(const char *kdir, const char *text);
/* Monotonic ms (the keeper's uptimes). */
long klog_now_ms(void);
#endif
