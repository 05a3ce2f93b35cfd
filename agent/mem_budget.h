/*
 * mem_budget.h: one hard limit on the memory the agent holds for data in flight
 * (buffer.max_bytes): request bodies being read, decoded batches, queued batches.
 * Whoever allocates for data charges the budget first; a charge that does not fit is
 * refused, and the receiver answers 503 with Retry-After instead of growing.
 */
#ifndef OTUS_AGENT_MEM_BUDGET_H
#define OTUS_AGENT_MEM_BUDGET_H

#include <stddef.h>

struct otus_mem_budget {
    size_t limit; /* bytes; 0 means no limit */
    size_t used;  /* bytes charged */
    size_t peak;  /* highest used seen */
};

/* Charges n bytes if they fit under the limit. 0 or OTUS_ERR_FULL. */
int otus_mem_charge(struct otus_mem_budget *m, size_t n);

void otus_mem_release(struct otus_mem_budget *m, size_t n);

/* Bytes still available (SIZE_MAX without a limit). */
size_t otus_mem_available(const struct otus_mem_budget *m);

#endif
