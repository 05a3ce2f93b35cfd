/*
 * main.c: otus-agent's command line, signals and exit codes.
 *
 *   otus-agent [--config FILE] [--check-config] [--version] [--help]
 *   otus-agent [--config FILE] --replay-dead-letters FILE
 *
 * Exit codes: 0 clean shutdown (or a valid --check-config), 1 configuration error,
 * 2 runtime failure at start (port in use, unwritable data dir), 3 the shutdown
 * watchdog fired (the agent did not finish stopping in time), 4 a replay of dead letters
 * left documents undelivered.
 */
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <otus.h>
#include <uv.h>

#include "agent/agent.h"
#include "agent/agent_config.h"
#include "agent/log.h"
#include "exporters/elasticsearch/replay.h"

#define EXIT_CONFIG   1
#define EXIT_START    2
#define EXIT_WATCHDOG 3
#define EXIT_REPLAY   4

/* Slack the watchdog allows beyond service.shutdown_timeout. */
#define WATCHDOG_SLACK_MS 5000

struct runner {
    uv_loop_t *loop;
    struct otus_agent *agent;
    const char *config_path; /* NULL: embedded default */
    uint64_t shutdown_timeout_ms;
    uv_signal_t sigterm, sigint, sighup;
    uv_timer_t watchdog;
    int stopping;
};

static void usage(FILE *f)
{
    fprintf(f, "usage: otus-agent [--config FILE] [--check-config] [--version] [--help]\n"
               "       otus-agent [--config FILE] --replay-dead-letters FILE\n"
               "\n"
               "Receives OTLP/HTTP (logs, metrics, traces) and exports them to Elasticsearch,\n"
               "Prometheus, Jaeger and files. Without --config it runs on the embedded default.\n"
               "\n"
               "  --config FILE     YAML configuration file\n"
               "  --check-config    validate the configuration and exit (0 valid, 1 invalid)\n"
               "  --version         print the version and exit\n"
               "  --help            this text and the configuration keys\n"
               "  --replay-dead-letters FILE\n"
               "                    send the documents of an Elasticsearch dead-letter file\n"
               "                    again (after fixing what refused them) and exit\n"
               "\n"
               "Signals: SIGTERM/SIGINT drain and exit; SIGHUP reloads the configuration.\n"
               "Exit codes: 0 clean, 1 configuration error, 2 start-up failure,\n"
               "3 shutdown watchdog fired, 4 replayed documents did not all land.\n");
}

static void print_keys(void)
{
    struct otus_buf b;
    otus_buf_init(&b, 0);
    if (otus_config_describe(&b) == 0)
        printf("\nConfiguration keys:\n\n%.*s", (int)b.len, b.data);
    otus_buf_free(&b);
}

static void close_handle(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

static void stopped(void *arg)
{
    struct runner *r = arg;
    r->agent = NULL;
    otus_log(OTUS_LOG_INFO, "agent", "stopped");
    /* What is left on the loop is the runner's: signal handlers and the watchdog. */
    uv_walk(r->loop, close_handle, NULL);
}

static void watchdog_fired(uv_timer_t *t)
{
    (void)t;
    otus_log(OTUS_LOG_ERROR, "agent", "shutdown did not finish in time; exiting now");
    _exit(EXIT_WATCHDOG);
}

static void on_stop_signal(uv_signal_t *s, int signum)
{
    struct runner *r = s->data;
    if (r->stopping) {
        otus_log(OTUS_LOG_WARN, "agent", "second %s: exiting at once", strsignal(signum));
        _exit(EXIT_WATCHDOG);
    }
    r->stopping = 1;
    otus_log(OTUS_LOG_INFO, "agent", "%s: draining and stopping", strsignal(signum));
    uv_timer_start(&r->watchdog, watchdog_fired, r->shutdown_timeout_ms + WATCHDOG_SLACK_MS, 0);
    otus_agent_stop(r->agent, stopped, r);
}

static void on_hup(uv_signal_t *s, int signum)
{
    struct runner *r = s->data;
    (void)signum;
    if (r->stopping)
        return;
    struct otus_config cfg;
    struct otus_cfg_err err;
    if (otus_config_load(&cfg, r->config_path, &err) != 0) {
        otus_log(OTUS_LOG_ERROR, "config", "reload refused, the running configuration stays: %s",
                 err.msg);
        return;
    }
    uint64_t timeout = cfg.service.shutdown_timeout_ms;
    const char *detail = NULL;
    if (otus_agent_reload(r->agent, &cfg, &detail) != 0) {
        otus_log(OTUS_LOG_ERROR, "config", "reload refused, the running configuration stays: %s",
                 detail ? detail : "cannot apply");
        return;
    }
    r->shutdown_timeout_ms = timeout;
}

/* --replay-dead-letters: runs the loop until the file's documents are settled. */
static int replay(struct otus_config *cfg, const char *file)
{
    struct otus_es_replay_result res;
    const char *detail = NULL;
    uv_loop_t *loop = uv_default_loop();
    int rc = otus_es_replay(loop, cfg, file, &res, &detail);
    uv_loop_close(loop);
    otus_config_free(cfg);
    if (rc) {
        fprintf(stderr, "otus-agent: replay failed: %s\n", detail ? detail : otus_strerror(rc));
        return rc == OTUS_ERR_CONFIG ? EXIT_CONFIG : EXIT_START;
    }
    printf("otus-agent: replayed %zu dead letters from %s: %zu landed, %zu refused again, "
           "%zu dropped, %zu unreadable lines\n",
           res.lines - res.malformed, file, res.landed, res.failed, res.dropped, res.malformed);
    return res.landed == res.lines ? 0 : EXIT_REPLAY;
}

int main(int argc, char **argv)
{
    const char *config_path = NULL;
    const char *replay_file = NULL;
    int check_only = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 || strcmp(argv[i], "-c") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "otus-agent: --config needs a file\n");
                return EXIT_CONFIG;
            }
            config_path = argv[++i];
        } else if (strncmp(argv[i], "--config=", 9) == 0) {
            config_path = argv[i] + 9;
        } else if (strcmp(argv[i], "--replay-dead-letters") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "otus-agent: --replay-dead-letters needs a file\n");
                return EXIT_CONFIG;
            }
            replay_file = argv[++i];
        } else if (strcmp(argv[i], "--check-config") == 0) {
            check_only = 1;
        } else if (strcmp(argv[i], "--version") == 0) {
            printf("otus-agent %s\n", OTUS_VERSION_STRING);
            return 0;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            print_keys();
            return 0;
        } else {
            fprintf(stderr, "otus-agent: unknown argument '%s'\n", argv[i]);
            usage(stderr);
            return EXIT_CONFIG;
        }
    }

    struct otus_config cfg;
    struct otus_cfg_err err;
    if (otus_config_load(&cfg, config_path, &err) != 0) {
        fprintf(stderr, "otus-agent: configuration error: %s\n", err.msg);
        return EXIT_CONFIG;
    }
    if (check_only) {
        printf("otus-agent: configuration %s is valid\n", cfg.source);
        otus_config_free(&cfg);
        return 0;
    }
    enum otus_log_level lvl = OTUS_LOG_INFO;
    otus_log_level_parse(cfg.service.log_level, &lvl);
    otus_log_set_level(lvl);
    signal(SIGPIPE, SIG_IGN);
    if (replay_file)
        return replay(&cfg, replay_file);
    /* Request bodies, arenas and encode buffers come and go by the megabyte; keeping
     * freed memory in the heap (it is bounded by buffer.max_bytes anyway) instead of
     * returning it to the kernel saves a page fault and a page clear per 4 KiB reused. */
    mallopt(M_MMAP_THRESHOLD, 64 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);

    struct runner r = {0};
    r.loop = uv_default_loop();
    r.config_path = config_path;
    r.shutdown_timeout_ms = cfg.service.shutdown_timeout_ms;
    const char *detail = NULL;
    int rc = otus_agent_start(r.loop, &cfg, &r.agent, &detail);
    if (rc) {
        otus_log(OTUS_LOG_ERROR, "agent", "cannot start: %s", detail ? detail : otus_strerror(rc));
        uv_run(r.loop, UV_RUN_DEFAULT); /* let closed handles finish */
        uv_loop_close(r.loop);
        return rc == OTUS_ERR_CONFIG ? EXIT_CONFIG : EXIT_START;
    }
    uv_signal_init(r.loop, &r.sigterm);
    uv_signal_init(r.loop, &r.sigint);
    uv_signal_init(r.loop, &r.sighup);
    uv_timer_init(r.loop, &r.watchdog);
    r.sigterm.data = r.sigint.data = r.sighup.data = &r;
    uv_signal_start(&r.sigterm, on_stop_signal, SIGTERM);
    uv_signal_start(&r.sigint, on_stop_signal, SIGINT);
    uv_signal_start(&r.sighup, on_hup, SIGHUP);

    uv_run(r.loop, UV_RUN_DEFAULT);
    rc = uv_loop_close(r.loop);
    if (rc != 0)
        otus_log(OTUS_LOG_WARN, "agent", "event loop closed with handles open: %s",
                 uv_strerror(rc));
    return 0;
}
