/* The keeper's parts beside keeper.c, each in its own file: output, readiness,
 * running as, fencing. */
#ifndef HAM_KEEPER_PARTS_H
#define HAM_KEEPER_PARTS_H
#include "keeper-fence.h"
#include "keeper-log.h"
#include "keeper-ready.h"
#include "keeper-runas.h"
#endif
