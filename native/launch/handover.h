#pragma once
/* Records the inherited descriptors in STASIS_HANDOVER, moves those above
 * stderr out of Node's way, and execs argv (handover.c); returns only on failure. */
int handover_exec(char **argv);
