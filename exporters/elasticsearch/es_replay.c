/*
 * es_replay.c: otus-agent --replay-dead-letters FILE (replay.h). The file is read
 * whole, each line becomes a bulk item with the index, op_type and _id it had (so a
 * document that did land meanwhile is not stored twice), and the items go through
 * the exporter's own delivery (the same requests, retries, breakers and dead-letter
 * handling as live data), with no index template installed: the user's fix of the
 * mapping is what the documents are meant to meet.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <otus.h>

#include "agent/self_metrics.h"
#include "exporters/elasticsearch/es.h"
#include "exporters/elasticsearch/replay.h"

#define MAX_REPLAY_FILE (1ull << 30)

struct inst {
    const struct otus_exporter_cfg *ec;
    struct otus__es *es;
    struct otus__es_target target; /* explicit _index in every action: plain /_bulk */
    struct otus__es_job job;
    int started, done;
    dev_t dl_dev;
    ino_t dl_ino;
    off_t dl_size; /* the dead-letter file's size before the replay, when it is FILE */
    int dl_is_input;
};

struct replay {
    struct inst *v;
    size_t n;
    size_t open;
    struct otus_es_replay_result *res;
};

static char why[512];

static int read_file(const char *path, char **data, size_t *len, struct stat *st)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return OTUS_ERR_IO;
    int rc = 0;
    if (fstat(fd, st) != 0) {
        rc = OTUS_ERR_IO;
        goto out;
    }
    if ((uint64_t)st->st_size > MAX_REPLAY_FILE) {
        rc = OTUS_ERR_TOO_BIG;
        goto out;
    }
    *len = (size_t)st->st_size;
    *data = malloc(*len + 1);
    if (!*data) {
        rc = OTUS_ERR_NOMEM;
        goto out;
    }
    size_t got = 0;
    while (got < *len) {
        ssize_t r = read(fd, *data + got, *len - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    *len = got;
out:
    close(fd);
    return rc;
}

static void job_done(struct otus__es_job *j, size_t sent, size_t failed, size_t dropped)
{
    struct replay *r = j->arg;
    r->res->landed += sent;
    r->res->failed += failed;
    r->res->dropped += dropped;
    for (size_t i = 0; i < r->n; i++)
        if (&r->v[i].job == j)
            r->v[i].done = 1;
    r->open--;
}

static void inst_closed(void *arg)
{
    (void)arg;
}

/* Keeps what the replay appended to the dead-letter file that was also its input,
 * plus the input's lines that were not dead letters: the old content is done with. */
static int rewrite_input(const char *path, off_t old_size, const struct otus_buf *kept)
{
    char *data = NULL;
    size_t len = 0;
    struct stat st;
    int rc = read_file(path, &data, &len, &st);
    if (rc)
        return rc;
    size_t tmpn = strlen(path) + 16;
    char *tmp = malloc(tmpn);
    if (!tmp) {
        free(data);
        return OTUS_ERR_NOMEM;
    }
    snprintf(tmp, tmpn, "%s.replay", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    rc = fd < 0 ? OTUS_ERR_IO : 0;
    size_t from = (size_t)old_size <= len ? (size_t)old_size : len;
    if (!rc && kept->len && write(fd, kept->data, kept->len) != (ssize_t)kept->len)
        rc = OTUS_ERR_IO;
    if (!rc && len > from && write(fd, data + from, len - from) != (ssize_t)(len - from))
        rc = OTUS_ERR_IO;
    if (!rc && fsync(fd) != 0)
        rc = OTUS_ERR_IO;
    if (fd >= 0)
        close(fd);
    if (!rc && rename(tmp, path) != 0)
        rc = OTUS_ERR_IO;
    if (rc)
        unlink(tmp);
    free(tmp);
    free(data);
    return rc;
}

int otus_es_replay(uv_loop_t *loop, struct otus_config *cfg, const char *path,
                   struct otus_es_replay_result *out, const char **detail)
{
    memset(out, 0, sizeof(*out));
    struct replay r = {.res = out};
    struct otus_self_metrics *metrics = otus_self_metrics_create();
    char *data = NULL;
    size_t len = 0;
    struct otus_buf kept;
    otus_buf_init(&kept, MAX_REPLAY_FILE);
    int rc = metrics ? 0 : OTUS_ERR_NOMEM;
    r.v = calloc(cfg->exporters.n ? cfg->exporters.n : 1, sizeof(*r.v));
    if (!r.v)
        rc = OTUS_ERR_NOMEM;
    for (size_t i = 0; !rc && i < cfg->exporters.n; i++)
        if (cfg->exporters.items[i].ops == &otus_elasticsearch_exporter)
            r.v[r.n++].ec = &cfg->exporters.items[i];
    if (!rc && r.n == 0) {
        snprintf(why, sizeof(why), "%s defines no elasticsearch exporter", cfg->source);
        *detail = why;
        rc = OTUS_ERR_CONFIG;
    }
    struct stat in_st;
    if (!rc && (rc = read_file(path, &data, &len, &in_st)) != 0) {
        snprintf(why, sizeof(why), "cannot read %s: %s", path,
                 rc == OTUS_ERR_IO ? strerror(errno) : otus_strerror(rc));
        *detail = why;
    }
    for (size_t i = 0; !rc && i < r.n; i++) {
        struct inst *in = &r.v[i];
        struct otus_exporter_env env = {
            .loop = loop,
            .name = in->ec->name,
            .data_dir = cfg->service.data_dir,
            .metrics = metrics,
        };
        const char *d = NULL;
        void *self = NULL;
        rc = otus_elasticsearch_exporter.create(&env, in->ec->cfg, &self, &d);
        if (rc) {
            snprintf(why, sizeof(why), "exporter %s: %s", in->ec->name, d ? d : otus_strerror(rc));
            *detail = why;
            break;
        }
        in->es = self;
        otus__es_templates_off(in->es);
        const char *w;
        otus__es_target_init(&in->target, "replay-%Y", &w);
        otus__es_items_init(&in->job.items);
        in->job.items.ndjson.max = OTUS__ES_MAX_ENCODED;
        in->job.target = &in->target;
        in->job.done = job_done;
        in->job.arg = &r;
        struct stat dl_st;
        if (stat(otus__es_dead_letter_path(in->es), &dl_st) == 0 && dl_st.st_dev == in_st.st_dev &&
            dl_st.st_ino == in_st.st_ino) {
            in->dl_is_input = 1;
            in->dl_size = dl_st.st_size;
        }
    }
    /* Lines to their exporters. */
    for (size_t off = 0; !rc && off < len;) {
        const char *line = data + off;
        const char *nl = memchr(line, '\n', len - off);
        size_t n = nl ? (size_t)(nl - line) : len - off;
        off += n + (nl ? 1 : 0);
        if (n == 0)
            continue;
        out->lines++;
        struct otus__es_dead_letter dl;
        if (otus__es_dead_letter_parse(line, n, &dl) != 0) {
            out->malformed++;
            if (otus_buf_append(&kept, line, n) || otus_buf_append_byte(&kept, '\n'))
                rc = OTUS_ERR_NOMEM;
            continue;
        }
        struct inst *in = &r.v[0];
        for (size_t i = 0; i < r.n; i++)
            if (strcmp(r.v[i].ec->name, dl.exporter) == 0)
                in = &r.v[i];
        rc = otus__es_item_raw(&in->job.items, dl.op, dl.index, dl.id, dl.doc, dl.doclen);
    }
    free(data);
    for (size_t i = 0; !rc && i < r.n; i++) {
        struct inst *in = &r.v[i];
        if (!in->job.items.n)
            continue;
        rc = otus__es_job_start(in->es, &in->job);
        if (!rc) {
            in->started = 1;
            r.open++;
        }
    }
    if (rc && !*detail) {
        snprintf(why, sizeof(why), "%s", otus_strerror(rc));
        *detail = why;
    }
    /* Jobs that started run to their end even after a failure to start another. */
    while (r.open > 0)
        uv_run(loop, UV_RUN_ONCE);
    for (size_t i = 0; r.v && i < r.n; i++) {
        struct inst *in = &r.v[i];
        if (in->es)
            otus_elasticsearch_exporter.destroy(in->es, inst_closed, NULL);
        otus__es_items_free(&in->job.items);
    }
    uv_run(loop, UV_RUN_DEFAULT);
    for (size_t i = 0; !rc && i < r.n; i++) {
        if (!r.v[i].dl_is_input)
            continue;
        rc = rewrite_input(path, r.v[i].dl_size, &kept);
        if (rc) {
            snprintf(why, sizeof(why), "cannot rewrite %s: %s", path, otus_strerror(rc));
            *detail = why;
        }
        break;
    }
    otus_buf_free(&kept);
    free(r.v);
    otus_self_metrics_destroy(metrics);
    return rc;
}
