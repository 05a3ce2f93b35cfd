/*
 * sdk.c: the library's life cycle: otus_init(), otus_flush(), otus_shutdown(), the
 * resource, waking the background thread, and fork.
 *
 * State moves STOPPED -> STARTING -> RUNNING -> STOPPING -> STOPPED through
 * compare-and-swap, so concurrent or repeated calls are refused instead of racing.
 * Memory that a recording thread may still reach (instruments, series, span pool,
 * queues, rings) is never freed, so a late record after shutdown is a harmless no-op
 * rather than a use after free; what only the background thread uses is freed when it
 * stops.
 *
 * Fork: the prepare handler takes the library's locks so the child inherits them in a
 * known state; the child discards what it inherited in flight (queued spans and log
 * records, metric values: they are the parent's to export), reseeds every ID
 * generator, re-encodes the resource (process.pid changed) and starts its own
 * background thread.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

struct otus__lib otus__g = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .log_fd = -1,
};

/* ---- waking the background thread --------------------------------------------------- */

void otus__wake_exporter(void)
{
    atomic_fetch_add_explicit(&otus__g.wake, 1, memory_order_seq_cst);
    if (atomic_load_explicit(&otus__g.sleeping, memory_order_seq_cst))
        syscall(SYS_futex, &otus__g.wake, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

void otus__exporter_sleep(uint64_t timeout_ns)
{
    uint32_t seen = atomic_load_explicit(&otus__g.wake, memory_order_seq_cst);
    atomic_store_explicit(&otus__g.sleeping, 1, memory_order_seq_cst);
    struct timespec ts = {(time_t)(timeout_ns / 1000000000u), (long)(timeout_ns % 1000000000u)};
    /* Returns at once when a producer bumped the word after we read it. */
    syscall(SYS_futex, &otus__g.wake, FUTEX_WAIT_PRIVATE, seen, &ts, NULL, 0);
    atomic_store_explicit(&otus__g.sleeping, 0, memory_order_seq_cst);
}

/* ---- resource ------------------------------------------------------------------------- */

static int encode_resource(void)
{
    struct otus_buf *b = &otus__g.resource_pb;
    if (!b->max)
        otus_buf_init(b, 0);
    otus_buf_reset(b);
    struct otus__pb w = {b, 0};
    const struct otus__settings *s = &otus__g.set;
    otus__pb_kv_string(&w, 1, "service.name", s->service_name);
    for (size_t i = 0; i < s->n_resource; i++)
        otus__pb_kv_string(&w, 1, s->resource[i].key, s->resource[i].value);
    otus__pb_kv_string(&w, 1, "telemetry.sdk.name", "otus");
    otus__pb_kv_string(&w, 1, "telemetry.sdk.language", "c");
    otus__pb_kv_string(&w, 1, "telemetry.sdk.version", OTUS_VERSION_STRING);
    struct otus_attr pid = otus_attr_int("process.pid", (int64_t)getpid());
    otus__pb_attrs(&w, 1, &pid, 1);
    return w.err;
}

/* ---- the JSON sink ------------------------------------------------------------------ */

static int open_sink(void)
{
    if (otus__g.log_fd_owned && otus__g.log_fd >= 0)
        close(otus__g.log_fd);
    otus__g.log_fd = -1;
    otus__g.log_fd_owned = 0;
    switch (otus__g.set.log_output) {
    case OTUS_LOG_OUTPUT_NONE:
        return 0;
    case OTUS_LOG_OUTPUT_STDOUT:
        otus__g.log_fd = STDOUT_FILENO;
        return 0;
    case OTUS_LOG_OUTPUT_FILE: {
        int fd = open(otus__g.set.log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd < 0) {
            otus__diag(&otus__g.set, OTUS_LEVEL_ERROR, "cannot open log file '%s': %s",
                       otus__g.set.log_path, strerror(errno));
            return OTUS_ERR_IO;
        }
        otus__g.log_fd = fd;
        otus__g.log_fd_owned = 1;
        return 0;
    }
    default:
        otus__g.log_fd = STDERR_FILENO;
        return 0;
    }
}

/* ---- queues --------------------------------------------------------------------------- */

/* Frees what a queue still holds (the background thread is not running). */
static void drain_queue(struct otus__queue *q)
{
    void *item;
    while ((item = otus__queue_pop(q)) != NULL)
        otus__span_rec_free(item);
}

static int setup_buffers(void)
{
    const struct otus__settings *s = &otus__g.set;
    uint32_t nblk = s->span_queue * 4 < 1024 ? 1024 : s->span_queue * 4;
    if (!otus__g.pool) {
        otus__g.pool = otus__pool_create(nblk);
        if (!otus__g.pool)
            return OTUS_ERR_NOMEM;
    }
    struct otus__queue *q = atomic_load(&otus__g.span_q);
    if (q)
        drain_queue(q);
    uint64_t want = 2;
    while (want < s->span_queue)
        want <<= 1;
    if (!q || q->mask + 1 != want) {
        struct otus__queue *nq = calloc(1, sizeof(*nq));
        if (!nq || otus__queue_init(nq, s->span_queue)) {
            free(nq);
            return OTUS_ERR_NOMEM;
        }
        if (q) {
            q->retired_next = otus__g.retired_q; /* kept: a thread may still push to it */
            otus__g.retired_q = q;
        }
        atomic_store(&otus__g.span_q, nq);
    }
    /* Log ring: room for the queue size at 512 bytes per record. */
    struct otus__ring *r = atomic_load(&otus__g.log_ring);
    uint64_t bytes = (uint64_t)s->log_queue * 512;
    uint64_t cap = 4096;
    while (cap < bytes)
        cap <<= 1;
    if (r) {
        /* Discard what is left: it was written out or counted at shutdown. */
        atomic_store(&r->tail, atomic_load(&r->head));
    }
    if (!r || r->cap != cap) {
        struct otus__ring *nr = calloc(1, sizeof(*nr));
        if (!nr || otus__ring_init(nr, bytes)) {
            free(nr);
            return OTUS_ERR_NOMEM;
        }
        if (r) {
            r->retired_next = otus__g.retired_ring; /* kept: a thread may still write to it */
            otus__g.retired_ring = r;
        }
        atomic_store(&otus__g.log_ring, nr);
    }
    return 0;
}

/* ---- fork ----------------------------------------------------------------------------- */

static void atfork_prepare(void)
{
    pthread_mutex_lock(&otus__g.lock);
    otus__registry_lock();
}

static void atfork_parent(void)
{
    otus__registry_unlock();
    pthread_mutex_unlock(&otus__g.lock);
}

/* Empties a queue whose producers may have died mid-push: every cell is reset. */
static void reset_queue(struct otus__queue *q)
{
    uint64_t head = atomic_load(&q->head), tail = atomic_load(&q->tail);
    for (uint64_t pos = head; pos < tail; pos++) {
        struct otus__qcell *c = &q->cells[pos & q->mask];
        if (atomic_load(&c->seq) == pos + 1)
            otus__span_rec_free(c->item); /* published: the record is whole */
        atomic_store(&c->seq, pos + q->mask + 1);
    }
    atomic_store(&q->head, tail);
}

static void atfork_child(void)
{
    otus__registry_reset_after_fork();
    pthread_mutex_init(&otus__g.lock, NULL);
    atomic_fetch_add(&otus__fork_gen, 1);
    atomic_store(&otus__g.sleeping, 0);
    int state = atomic_load(&otus__g.state);
    otus__metrics_after_fork();
    struct otus__queue *q = atomic_load(&otus__g.span_q);
    if (q)
        reset_queue(q);
    struct otus__ring *r = atomic_load(&otus__g.log_ring);
    if (r)
        atomic_store(&r->tail, atomic_load(&r->head));
    if (state != OTUS__RUNNING) {
        if (state != OTUS__STOPPED) /* forked during init or shutdown */
            atomic_store(&otus__g.state, OTUS__STOPPED);
        atomic_store(&otus__g.recording, 0);
        otus__exporter_forget();
        return;
    }
    otus__exporter_forget();
    encode_resource();
    if (otus__exporter_start()) {
        atomic_store(&otus__g.recording, 0);
        atomic_store(&otus__g.state, OTUS__STOPPED);
    }
}

/* ---- init, flush, shutdown -------------------------------------------------------------- */

int otus_init(const struct otus_sdk_config *cfg)
{
    int expected = OTUS__STOPPED;
    if (!atomic_compare_exchange_strong(&otus__g.state, &expected, OTUS__STARTING))
        return OTUS_ERR_STATE;
    pthread_mutex_lock(&otus__g.lock);
    otus__settings_free(&otus__g.set);
    int rc = otus__settings_load(&otus__g.set, cfg, NULL);
    if (rc)
        goto out;
    otus__g.disabled = otus__g.set.disabled;
    otus__ticks_init();
    rc = otus__metrics_init();
    if (rc)
        goto out;
    otus__trace_configure();
    otus__exemplar_mode = otus__g.set.exemplar_filter;
    __atomic_store_n(&otus__log_min_level, otus__g.set.log_level, __ATOMIC_RELAXED);
    free(otus__g.service_name);
    otus__g.service_name = strdup(otus__g.set.service_name);
    if (!otus__g.service_name) {
        rc = OTUS_ERR_NOMEM;
        goto out;
    }
    rc = encode_resource();
    if (rc)
        goto out;
    rc = setup_buffers();
    if (rc)
        goto out;
    if (!otus__g.disabled) {
        rc = otus__http_metrics_init();
        if (rc)
            goto out;
    }
    rc = open_sink();
    if (rc)
        goto out;
    if (!otus__g.atfork_registered) {
        if (pthread_atfork(atfork_prepare, atfork_parent, atfork_child) != 0) {
            rc = OTUS_ERR_NOMEM;
            goto out;
        }
        otus__g.atfork_registered = 1;
    }
    atomic_store(&otus__g.recording, !otus__g.disabled);
    rc = otus__exporter_start();
    if (rc) {
        atomic_store(&otus__g.recording, 0);
        goto out;
    }
out:
    atomic_store(&otus__g.state, rc ? OTUS__STOPPED : OTUS__RUNNING);
    pthread_mutex_unlock(&otus__g.lock);
    if (!rc && otus__g.disabled)
        return OTUS_ERR_DISABLED;
    return rc;
}

static uint64_t deadline_after(uint32_t timeout_ms)
{
    return otus__mono_ns() + (uint64_t)timeout_ms * 1000000u;
}

int otus_flush(uint32_t timeout_ms)
{
    if (atomic_load(&otus__g.state) != OTUS__RUNNING)
        return OTUS_ERR_STATE;
    return otus__exporter_flush(deadline_after(timeout_ms));
}

int otus_shutdown(uint32_t timeout_ms)
{
    int expected = OTUS__RUNNING;
    if (!atomic_compare_exchange_strong(&otus__g.state, &expected, OTUS__STOPPING))
        return OTUS_ERR_STATE;
    uint64_t deadline = deadline_after(timeout_ms);
    pthread_mutex_lock(&otus__g.lock);
    atomic_store(&otus__g.recording, 0);
    int rc = otus__exporter_stop(deadline);
    if (otus__g.log_fd_owned && otus__g.log_fd >= 0)
        close(otus__g.log_fd);
    otus__g.log_fd = -1;
    otus__g.log_fd_owned = 0;
    atomic_store(&otus__g.state, OTUS__STOPPED);
    pthread_mutex_unlock(&otus__g.lock);
    return rc;
}
