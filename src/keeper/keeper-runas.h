/* Running as (keeper-runas.c): who the entity's command runs as, with what limits. */
#ifndef KEEPER_RUNAS_H
#define KEEPER_RUNAS_H
#include <sys/types.h>

/* In the child, once its fds are in place (output FIFOs, readiness: opened while
 * still privileged, so inherited) and before exec: HAM_RUN_* applied and taken
 * out of the environment. 0, or -1 with errno set (the start fails with it). */
int krunas_child(void);
/* A failure to join HAM_RUN_CGROUP is reported as this + errno (the F record's code). */
#define KRUNAS_CGROUP_BASE 2048
/* The uid the entity runs as (HAM_RUN_UID), or this keeper's own. */
uid_t krunas_uid(void);
#endif
