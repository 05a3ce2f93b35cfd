/*
 * agent.h: the running agent: its libuv loop, configuration and listeners. main.c
 * parses the command line and drives this object; tests can drive it too.
 */
#ifndef OTUS_AGENT_AGENT_H
#define OTUS_AGENT_AGENT_H

#include <uv.h>

#include "agent/agent_config.h"

struct otus_agent;

/*
 * Starts the agent on loop with cfg (ownership passes to the agent, whether or not
 * it starts). 0, or OTUS_ERR_IO when a listener cannot bind (*detail, when not NULL,
 * names the address and cause; static storage until the next call), OTUS_ERR_NOMEM.
 */
int otus_agent_start(uv_loop_t *loop, struct otus_config *cfg, struct otus_agent **out,
                     const char **detail);

/* Begins an orderly stop: stop accepting, drain within service.shutdown_timeout, close
 * every handle. done(arg) runs once the agent is freed. */
void otus_agent_stop(struct otus_agent *a, void (*done)(void *arg), void *arg);

/*
 * Applies a new configuration (ownership passes to the agent whatever the outcome).
 * Changes that cannot be applied leave the running configuration untouched: 0, or a
 * negative otus_status with *detail saying why.
 */
int otus_agent_reload(struct otus_agent *a, struct otus_config *cfg, const char **detail);

/* 1 while the agent accepts data (GET /readyz answers 200). */
int otus_agent_ready(const struct otus_agent *a);

#endif
