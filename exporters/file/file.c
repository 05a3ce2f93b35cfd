/*
 * file.c: the file exporter, the embedded default's destination for logs and
 * traces. It writes NDJSON documents (exporters/documents.h) under its path, one file
 * per signal: logs.ndjson, traces.ndjson, metrics.ndjson. A file that reaches
 * max_file_bytes is fsynced, renamed to NAME.1 (older ones shift to NAME.2 ...
 * NAME.<max_files>, the oldest is removed) and a new one is started.
 *
 * Encoding and writing run on the libuv thread pool, one send at a time per
 * exporter (so lines from different sends never interleave and order is kept); the
 * loop thread only hands the work over and settles the send when it is written.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <otus.h>

#include "agent/log.h"
#include "exporters/documents.h"
#include "exporters/exporter.h"

struct file_cfg {
    struct otus_queue_cfg queue; /* first, as every push exporter's */
    char *path;
    uint64_t max_file_bytes;
    int64_t max_files;
};

static const struct otus_cfg_entry file_table[] = {
    OTUS_CFG_QUEUE,
    {"path", OTUS_CFG_STRING, "", offsetof(struct file_cfg, path),
     "Directory of the output files (default: <service.data_dir>/export).", 0, 0, NULL, NULL},
    {"max_file_bytes", OTUS_CFG_SIZE, "100MiB", offsetof(struct file_cfg, max_file_bytes),
     "Rotate a file when it reaches this size.", 4096, 1LL << 40, NULL, NULL},
    {"max_files", OTUS_CFG_INT, "5", offsetof(struct file_cfg, max_files),
     "Rotated files kept per signal (NAME.1 is the newest).", 1, 1000, NULL, NULL},
    OTUS_CFG_END,
};

struct out_file {
    int fd;
    uint64_t size;
    char *path; /* owned */
};

struct job {
    struct job *next;
    uv_work_t work;
    struct file_exporter *fx;
    struct otus_send *send;
    int status;       /* 0 or a negative otus_status, set on the pool */
    char err[160];    /* what failed, set on the pool */
    unsigned rotated; /* rotations during this job */
    uint64_t bytes;   /* written */
};

struct file_exporter {
    uv_loop_t *loop;
    const struct file_cfg *cfg;
    char *name; /* owned */
    char *dir;  /* owned */
    struct out_file out[OTUS_SIGNAL_COUNT];
    struct job *head, *tail; /* waiting sends, in order */
    int running;             /* a job is on the pool */
    int closing;
    void (*closed)(void *arg);
    void *closed_arg;
    struct otus_metric_series *m_bytes, *m_rotations, *m_errors;
    struct otus_buf scratch; /* encoding buffer, used by the running job only */
};

static const char *const file_names[OTUS_SIGNAL_COUNT] = {"traces.ndjson", "metrics.ndjson",
                                                          "logs.ndjson"};

/* ---- file handling (thread pool) ------------------------------------------------------- */

static int open_out(struct out_file *o, char *err, size_t errlen)
{
    o->fd = open(o->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (o->fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", o->path, strerror(errno));
        return OTUS_ERR_IO;
    }
    struct stat st;
    o->size = fstat(o->fd, &st) == 0 ? (uint64_t)st.st_size : 0;
    return 0;
}

/* fsync, then shift NAME.k to NAME.k+1 (dropping the last), NAME to NAME.1, reopen. */
static int rotate(struct file_exporter *fx, struct out_file *o, char *err, size_t errlen)
{
    if (fsync(o->fd) != 0) {
        snprintf(err, errlen, "fsync %s: %s", o->path, strerror(errno));
        return OTUS_ERR_IO;
    }
    close(o->fd);
    o->fd = -1;
    size_t plen = strlen(o->path) + 24;
    char *from = malloc(plen), *to = malloc(plen);
    int rc = 0;
    if (!from || !to) {
        rc = OTUS_ERR_NOMEM;
        goto out;
    }
    int64_t keep = fx->cfg->max_files;
    snprintf(from, plen, "%s.%lld", o->path, (long long)keep);
    unlink(from); /* may not exist */
    for (int64_t k = keep - 1; k >= 1; k--) {
        snprintf(from, plen, "%s.%lld", o->path, (long long)k);
        snprintf(to, plen, "%s.%lld", o->path, (long long)(k + 1));
        if (rename(from, to) != 0 && errno != ENOENT) {
            snprintf(err, errlen, "rename %s: %s", from, strerror(errno));
            rc = OTUS_ERR_IO;
            goto out;
        }
    }
    snprintf(to, plen, "%s.1", o->path);
    if (rename(o->path, to) != 0) {
        snprintf(err, errlen, "rename %s: %s", o->path, strerror(errno));
        rc = OTUS_ERR_IO;
        goto out;
    }
out:
    free(from);
    free(to);
    if (o->fd < 0) {
        int orc = open_out(o, err, errlen);
        if (!rc)
            rc = orc;
    }
    return rc;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* How much of p[0..n) to write before the file reaches its size limit: whole lines
 * up to the room left, but at least one line into an empty file. */
static size_t cut(const char *p, size_t n, uint64_t size, uint64_t max)
{
    uint64_t room = size < max ? max - size : 0;
    if (n <= room)
        return n;
    const char *nl = room ? memrchr(p, '\n', (size_t)room) : NULL;
    if (nl)
        return (size_t)(nl - p) + 1;
    if (size > 0)
        return 0; /* rotate first */
    nl = memchr(p, '\n', n);
    return nl ? (size_t)(nl - p) + 1 : n;
}

static void job_run(uv_work_t *w)
{
    struct job *jb = w->data;
    struct file_exporter *fx = jb->fx;
    struct otus_send *s = jb->send;
    struct out_file *o = &fx->out[s->signal];
    otus_buf_reset(&fx->scratch);
    jb->status = 0;
    for (size_t i = 0; i < s->nbatches && !jb->status; i++)
        jb->status = otus_doc_batch(&fx->scratch, s->batches[i]);
    if (jb->status) {
        snprintf(jb->err, sizeof(jb->err), "encoding failed: %s", otus_strerror(jb->status));
        return;
    }
    if (o->fd < 0 && (jb->status = open_out(o, jb->err, sizeof(jb->err))) != 0)
        return;
    const char *p = fx->scratch.data;
    size_t left = fx->scratch.len;
    while (left > 0) {
        size_t n = cut(p, left, o->size, fx->cfg->max_file_bytes);
        if (n > 0) {
            if (write_all(o->fd, p, n) != 0) {
                snprintf(jb->err, sizeof(jb->err), "write %s: %s", o->path, strerror(errno));
                jb->status = OTUS_ERR_IO;
                return;
            }
            jb->bytes += n;
            o->size += n;
            p += n;
            left -= n;
        }
        if (o->size >= fx->cfg->max_file_bytes || (n == 0 && left > 0)) {
            jb->status = rotate(fx, o, jb->err, sizeof(jb->err));
            if (jb->status)
                return;
            jb->rotated++;
        }
    }
    /* Keep the scratch buffer from holding a huge send's memory forever. */
    if (fx->scratch.cap > (64u << 20))
        otus_buf_free(&fx->scratch);
}

/* ---- job queue (loop thread) -------------------------------------------------------------- */

static void start_next(struct file_exporter *fx);
static void maybe_closed(struct file_exporter *fx);

static void job_done(uv_work_t *w, int status)
{
    struct job *jb = w->data;
    struct file_exporter *fx = jb->fx;
    fx->running = 0;
    struct otus_send_result r = {0};
    if (status == UV_ECANCELED) {
        r.dropped = jb->send->records;
    } else {
        if (jb->status) {
            otus_log(OTUS_LOG_ERROR, "exporter", "%s: %s", fx->name, jb->err);
            fx->m_errors->value++;
        }
        /* A failure after some bytes were written leaves some of the send's records in
         * the file: they are not re-sent (that would duplicate them); the send counts as
         * failed only when nothing of it was written. */
        if (jb->status && !jb->bytes)
            r.failed = jb->send->records;
        else
            r.sent = jb->send->records;
        fx->m_bytes->value += (double)jb->bytes;
        fx->m_rotations->value += jb->rotated;
    }
    struct otus_send *s = jb->send;
    free(jb);
    otus_send_done(s, &r);
    start_next(fx);
    maybe_closed(fx);
}

static void start_next(struct file_exporter *fx)
{
    if (fx->running || !fx->head)
        return;
    struct job *jb = fx->head;
    fx->head = jb->next;
    if (!fx->head)
        fx->tail = NULL;
    fx->running = 1;
    jb->work.data = jb;
    if (uv_queue_work(fx->loop, &jb->work, job_run, job_done) != 0) {
        fx->running = 0;
        struct otus_send *s = jb->send;
        struct otus_send_result r = {.dropped = s->records};
        free(jb);
        otus_send_done(s, &r);
        start_next(fx);
    }
}

static int file_send(void *self, struct otus_send *s)
{
    struct file_exporter *fx = self;
    struct job *jb = calloc(1, sizeof(*jb));
    if (!jb)
        return OTUS_ERR_NOMEM;
    jb->fx = fx;
    jb->send = s;
    if (fx->tail)
        fx->tail->next = jb;
    else
        fx->head = jb;
    fx->tail = jb;
    start_next(fx);
    return 0;
}

static int file_encode(void *self, struct otus_batch *const *batches, size_t n,
                       struct otus_buf *out)
{
    (void)self;
    for (size_t i = 0; i < n; i++) {
        int rc = otus_doc_batch(out, batches[i]);
        if (rc)
            return rc;
    }
    return 0;
}

/* ---- lifecycle ------------------------------------------------------------------------------ */

static int mkdirs(const char *dir)
{
    char tmp[4096];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof(tmp))
        return -1;
    memcpy(tmp, dir, n + 1);
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

static void file_free(struct file_exporter *fx)
{
    for (int i = 0; i < OTUS_SIGNAL_COUNT; i++) {
        if (fx->out[i].fd >= 0)
            close(fx->out[i].fd);
        free(fx->out[i].path);
    }
    otus_self_metrics_series_remove(fx->m_bytes);
    otus_self_metrics_series_remove(fx->m_rotations);
    otus_self_metrics_series_remove(fx->m_errors);
    otus_buf_free(&fx->scratch);
    free(fx->dir);
    free(fx->name);
    free(fx);
}

static int file_create(const struct otus_exporter_env *env, const void *cfgp, void **self,
                       const char **detail)
{
    static char why[512];
    const struct file_cfg *cfg = cfgp;
    struct file_exporter *fx = calloc(1, sizeof(*fx));
    if (!fx)
        return OTUS_ERR_NOMEM;
    fx->loop = env->loop;
    fx->cfg = cfg;
    for (int i = 0; i < OTUS_SIGNAL_COUNT; i++)
        fx->out[i].fd = -1;
    otus_buf_init(&fx->scratch, 0);
    fx->name = strdup(env->name);
    if (cfg->path && *cfg->path) {
        fx->dir = strdup(cfg->path);
    } else {
        size_t n = strlen(env->data_dir) + 8;
        fx->dir = malloc(n);
        if (fx->dir)
            snprintf(fx->dir, n, "%s/export", env->data_dir);
    }
    int rc = 0;
    if (!fx->name || !fx->dir) {
        rc = OTUS_ERR_NOMEM;
        goto out;
    }
    if (mkdirs(fx->dir) != 0) {
        snprintf(why, sizeof(why), "cannot create directory %s: %s", fx->dir, strerror(errno));
        *detail = why;
        rc = OTUS_ERR_IO;
        goto out;
    }
    for (int i = 0; i < OTUS_SIGNAL_COUNT; i++) {
        size_t n = strlen(fx->dir) + strlen(file_names[i]) + 2;
        fx->out[i].path = malloc(n);
        if (!fx->out[i].path) {
            rc = OTUS_ERR_NOMEM;
            goto out;
        }
        snprintf(fx->out[i].path, n, "%s/%s", fx->dir, file_names[i]);
    }
    /* Opening the files now makes an unwritable directory a start-up error. */
    for (int i = 0; i < OTUS_SIGNAL_COUNT; i++) {
        if (open_out(&fx->out[i], why, sizeof(why)) != 0) {
            *detail = why;
            rc = OTUS_ERR_IO;
            goto out;
        }
    }
    const char *labels[] = {"exporter"};
    const char *values[] = {env->name};
    fx->m_bytes = otus_self_metrics_series(
        otus_self_metrics_family(env->metrics, "otus_file_written_bytes_total",
                                 "Bytes the file exporter wrote.", OTUS_METRIC_COUNTER, labels, 1),
        values);
    fx->m_rotations =
        otus_self_metrics_series(otus_self_metrics_family(env->metrics, "otus_file_rotations_total",
                                                          "Files the file exporter rotated.",
                                                          OTUS_METRIC_COUNTER, labels, 1),
                                 values);
    fx->m_errors = otus_self_metrics_series(
        otus_self_metrics_family(env->metrics, "otus_file_errors_total",
                                 "Write, sync and rename failures of the file exporter.",
                                 OTUS_METRIC_COUNTER, labels, 1),
        values);
    if (!fx->m_bytes || !fx->m_rotations || !fx->m_errors)
        rc = OTUS_ERR_NOMEM;
out:
    if (rc) {
        file_free(fx);
        return rc;
    }
    *self = fx;
    return 0;
}

static void maybe_closed(struct file_exporter *fx)
{
    if (!fx->closing || fx->running || fx->head)
        return;
    void (*closed)(void *) = fx->closed;
    void *arg = fx->closed_arg;
    file_free(fx);
    if (closed)
        closed(arg);
}

static void file_destroy(void *self, void (*closed)(void *arg), void *arg)
{
    struct file_exporter *fx = self;
    fx->closing = 1;
    fx->closed = closed;
    fx->closed_arg = arg;
    maybe_closed(fx);
}

const struct otus_exporter_ops otus_file_exporter = {
    .type = "file",
    .signals = OTUS_SIGNALS_ALL,
    .config = file_table,
    .config_size = sizeof(struct file_cfg),
    .create = file_create,
    .encode = file_encode,
    .send = file_send,
    .destroy = file_destroy,
};
