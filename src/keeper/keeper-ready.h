/* The keeper's readiness (keeper-ready.c): systemd's sd_notify protocol on a
 * datagram socket, or s6's notification fd (a newline on fd N), kept as a small
 * state file in the keeper's folder and announced by a poke in the inbox. */
#ifndef KEEPER_READY_H
#define KEEPER_READY_H
#include <poll.h>
#include <sys/types.h>

/* Take the settings out of the environment (HAM_READY=notify|fd, HAM_READY_PATH,
 * HAM_READY_FD, HAM_WATCHDOG_USEC: the entity does not inherit them) and open
 * the socket or FIFO. 0 when there is nothing to do or it is open; -1 (errno
 * set) when it could not be opened (the entity then never becomes ready). */
int kready_open(const char *dir, const char *inbox, const char *tag);
/* In the child before exec: NOTIFY_SOCKET (and WATCHDOG_USEC, WATCHDOG_PID), or
 * the FIFO as fd N, opened read-write (no SIGPIPE, whoever died). `keep` is an
 * fd the child still needs: moved if it is N; its number is returned. */
int kready_child(int keep);
/* Before a new instance is forked (not at an adoption): fd mode gets a fresh
 * FIFO, so a newline an earlier instance's leftover child writes is not its. */
void kready_fresh(void);
/* A new instance (or an adopted one) runs as `pid`: its readiness starts afresh.
 * Its process group is `pid`'s, or at an adoption the one HAM_KEEPER_GROUP
 * named (taken out of the environment by kready_open), if `pid` is still in it. */
void kready_start(long instance, pid_t pid);
/* The command `ended` ended: the pid its MAINPID= named, if that one still runs
 * (the entity goes on as it: watched by pidfd, its status unknown), else 0. */
pid_t kready_successor(pid_t ended);
/* A pidfd on the process MAINPID= named, while it is not `running`; else -1. */
int kready_main_fd(pid_t running);
pid_t kready_main_pid(void);
/* The entity ended as `ended`: if that is not its group's leader (MAINPID=),
 * the rest of the group is killed, as systemd does. */
void kready_end_group(pid_t ended);
/* klog_poll, with the readiness socket or FIFO read on the way. */
int kready_poll(struct pollfd *fds, int n, int timeout_ms);
#endif
