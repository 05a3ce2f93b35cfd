/*
 * export.c: the library's one background thread.
 *
 * It wakes when producers ask (every quarter of a queue), when a deadline comes (a
 * batch's schedule delay, the metric interval, a retry) and every 100 ms so log lines
 * reach the sink promptly. Each round it:
 *   - drains the log ring: each record becomes a JSON line for the sink and an OTLP
 *     LogRecord appended to the open logs request, and its ring space is released;
 *   - drains the span queue: each record is encoded into the open traces request and
 *     its blocks go back to the pool at once, so span memory is held only from start
 *     to the next round after end;
 *   - closes a request when it holds a full batch or its schedule delay has passed,
 *     gzips it and queues it for sending; collects metrics every interval;
 *   - sends queued requests with libcurl (one easy handle, so the connection is kept
 *     alive), in order per signal. 2xx: done. 429, 502, 503, 504, timeouts and
 *     connection failures: retried with exponential backoff and jitter, or after the
 *     peer's Retry-After. Anything else: dropped and counted.
 * Queued requests per signal are bounded: the oldest is dropped, and counted, when a
 * new one does not fit, so an absent agent costs bounded memory and nothing else.
 */
#include "internal.h"
#include "common/gzip.h"

#include <curl/curl.h>
#include <errno.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define TICK_NS        (100u * 1000000u)
#define MAX_PENDING    8 /* requests queued per signal (metrics: 1, the newest) */
#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 30000
#define RESP_MAX       65536
#define USER_AGENT     "OTel-OTLP-Exporter-C/" OTUS_VERSION_STRING " (otus)"

struct pending {
    struct pending *next;
    char *body; /* owned */
    size_t len;
    uint32_t items;
};

struct sigstate {
    struct pending *head, *tail;
    uint32_t n_pending;
    uint64_t next_try; /* mono ns */
    uint32_t backoff_ms;
    int failing;           /* an outage already reported */
    struct otus_buf batch; /* the open request */
    size_t mark_r, mark_s;
    uint32_t batch_items;
    uint64_t batch_start;
};

struct otus__exporter {
    pthread_t thread;
    _Atomic int stop;
    uint64_t stop_deadline;
    _Atomic uint32_t flush_req, flush_done;
    _Atomic uint64_t flush_deadline;
    _Atomic int flush_rc;
    int final_rc;
    CURL *curl[OTUS__NSIGNALS]; /* one per signal, configured once, each kept alive */
    struct curl_slist *headers[OTUS__NSIGNALS];
    struct otus_deflater gz; /* gzip for request bodies; owned */
    struct otus_buf gzbuf, sink, resp, enc;
    long retry_after_s;
    uint64_t hard_deadline; /* transfers are aborted past it (mono ns); 0: none */
    struct sigstate sig[OTUS__NSIGNALS];
    uint64_t next_metrics, next_calibrate;
    uint64_t logs_dropped_seen;
    int lost; /* the first failure that made a flush give data up */
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static int curl_ok;

static void curl_setup(void)
{
    curl_ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
}

static int enabled(enum otus__signal sig)
{
    return !otus__g.disabled && otus__g.set.export_enabled[sig];
}

/* ---- queued requests ------------------------------------------------------------------ */

static void pending_free(struct pending *p)
{
    if (p) {
        free(p->body);
        free(p);
    }
}

static void pending_drop_head(struct sigstate *s, enum otus__signal sig)
{
    struct pending *p = s->head;
    s->head = p->next;
    if (!s->head)
        s->tail = NULL;
    s->n_pending--;
    if (sig != OTUS__METRICS) /* a newer cumulative request supersedes metrics */
        otus__stat_add(OTUS__STAT_EXPORT_DROPPED, p->items);
    pending_free(p);
}

/* Queues body (gzipped when configured) for sending. */
static void enqueue(struct otus__exporter *e, enum otus__signal sig, const char *data, size_t len,
                    uint32_t items)
{
    struct sigstate *s = &e->sig[sig];
    const char *src = data;
    size_t n = len;
    if (otus__g.set.gzip[sig]) {
        otus_buf_reset(&e->gzbuf);
        if (otus_deflater_gzip(&e->gz, data, len, &e->gzbuf) == 0) {
            src = e->gzbuf.data;
            n = e->gzbuf.len;
        } else {
            otus__stat_add(OTUS__STAT_EXPORT_DROPPED, items);
            return;
        }
    }
    struct pending *p = malloc(sizeof(*p));
    char *body = malloc(n ? n : 1);
    if (!p || !body) {
        free(p);
        free(body);
        otus__stat_add(OTUS__STAT_EXPORT_DROPPED, items);
        return;
    }
    memcpy(body, src, n);
    p->next = NULL;
    p->body = body;
    p->len = n;
    p->items = items;
    uint32_t max = sig == OTUS__METRICS ? 1 : MAX_PENDING;
    while (s->n_pending >= max)
        pending_drop_head(s, sig);
    if (s->tail)
        s->tail->next = p;
    else
        s->head = p;
    s->tail = p;
    s->n_pending++;
}

/* ---- open requests (traces and logs) -------------------------------------------------- */

static void batch_open(struct sigstate *s, uint64_t now)
{
    otus_buf_reset(&s->batch);
    struct otus__pb w = {&s->batch, 0};
    s->mark_r = otus__pb_open(&w, 1); /* Export*ServiceRequest.resource_* */
    otus__pb_resource(&w, 1);
    s->mark_s = otus__pb_open(&w, 2); /* Resource*.scope_* */
    otus__pb_scope(&w, 1);
    s->batch_items = 0;
    s->batch_start = now;
}

static void batch_close(struct otus__exporter *e, enum otus__signal sig)
{
    struct sigstate *s = &e->sig[sig];
    if (!s->batch_items)
        return;
    struct otus__pb w = {&s->batch, 0};
    otus__pb_close(&w, s->mark_s);
    otus__pb_close(&w, s->mark_r);
    enqueue(e, sig, s->batch.data, s->batch.len, s->batch_items);
    s->batch_items = 0;
    otus_buf_reset(&s->batch);
}

static void drain_spans(struct otus__exporter *e, uint64_t now)
{
    struct otus__queue *q = atomic_load_explicit(&otus__g.span_q, memory_order_acquire);
    struct sigstate *s = &e->sig[OTUS__TRACES];
    int on = enabled(OTUS__TRACES);
    void *item;
    while (q && (item = otus__queue_pop(q)) != NULL) {
        struct otus__span_rec *rec = item;
        if (on) {
            if (!s->batch_items)
                batch_open(s, now);
            struct otus__pb w = {&s->batch, 0};
            size_t before = s->batch.len;
            otus__encode_span(&w, rec);
            if (w.err) {
                s->batch.len = before;
                otus__stat_add(OTUS__STAT_EXPORT_DROPPED, 1);
            } else {
                s->batch_items++;
            }
            if (s->batch_items >= otus__g.set.span_batch)
                batch_close(e, OTUS__TRACES);
        }
        otus__span_rec_free(rec);
    }
}

static void sink_write(struct otus__exporter *e)
{
    size_t off = 0;
    while (otus__g.log_fd >= 0 && off < e->sink.len) {
        ssize_t n = write(otus__g.log_fd, e->sink.data + off, e->sink.len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    otus_buf_reset(&e->sink);
}

static void drain_logs(struct otus__exporter *e, uint64_t now)
{
    struct otus__ring *r = atomic_load_explicit(&otus__g.log_ring, memory_order_acquire);
    struct sigstate *s = &e->sig[OTUS__LOGS];
    int on = enabled(OTUS__LOGS);
    int sink = otus__g.log_fd >= 0;
    const struct otus__ring_hdr *h;
    while (r && (h = otus__ring_peek(r)) != NULL) {
        const struct otus__log_rec *rec = (const struct otus__log_rec *)h;
        uint64_t ns = otus__ticks_to_unix_ns(rec->time);
        if (sink)
            otus__log_format_json(&e->sink, rec, ns);
        if (on) {
            if (!s->batch_items)
                batch_open(s, now);
            struct otus__pb w = {&s->batch, 0};
            size_t before = s->batch.len;
            otus__encode_log_record(&w, rec, ns);
            if (w.err) {
                s->batch.len = before;
                otus__stat_add(OTUS__STAT_EXPORT_DROPPED, 1);
            } else {
                s->batch_items++;
            }
            if (s->batch_items >= otus__g.set.log_batch)
                batch_close(e, OTUS__LOGS);
        }
        otus__ring_release(r, h);
        if (e->sink.len >= 65536)
            sink_write(e);
    }
    /* Say so in the sink when records were dropped. */
    uint64_t dropped = otus__stat_get(OTUS__STAT_LOGS_DROPPED);
    if (dropped != e->logs_dropped_seen && sink) {
        char msg[160];
        snprintf(msg, sizeof(msg), "%llu log records dropped: the log queue was full",
                 (unsigned long long)(dropped - e->logs_dropped_seen));
        struct otus_attr a = otus_attr_str("logger", "otus");
        struct {
            struct otus__log_rec rec;
            char body[512];
        } tmp;
        memset(&tmp.rec, 0, sizeof(tmp.rec));
        tmp.rec.level = OTUS_LEVEL_WARN;
        tmp.rec.msg_len = (uint32_t)strlen(msg);
        memcpy(tmp.body, msg, tmp.rec.msg_len);
        struct otus__wr w = {(unsigned char *)tmp.body + tmp.rec.msg_len,
                             (unsigned char *)tmp.body + sizeof(tmp.body), NULL};
        otus__attr_put(&w, &a, UINT32_MAX);
        tmp.rec.n_fields = 1;
        tmp.rec.h.len = (uint32_t)((unsigned char *)w.p - (unsigned char *)&tmp);
        otus__log_format_json(&e->sink, &tmp.rec, otus__wall_ns());
    }
    e->logs_dropped_seen = dropped;
    if (e->sink.len)
        sink_write(e);
}

static void collect_metrics(struct otus__exporter *e)
{
    otus_buf_reset(&e->enc);
    long points = otus__metrics_collect(&e->enc);
    if (points > 0)
        enqueue(e, OTUS__METRICS, e->enc.data, e->enc.len, (uint32_t)points);
}

/* ---- HTTP ------------------------------------------------------------------------------ */

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    struct otus__exporter *e = arg;
    size_t len = size * n;
    if (e->resp.len < RESP_MAX)
        otus_buf_append(&e->resp, p, len < RESP_MAX - e->resp.len ? len : RESP_MAX - e->resp.len);
    return len;
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
    struct otus__exporter *e = arg;
    size_t len = size * n;
    if (len > 12 && strncasecmp(p, "retry-after:", 12) == 0) {
        char v[128];
        size_t k = len - 12 < sizeof(v) - 1 ? len - 12 : sizeof(v) - 1;
        memcpy(v, p + 12, k);
        v[k] = '\0';
        char *s = v;
        while (*s == ' ' || *s == '\t')
            s++;
        char *end = s + strlen(s);
        while (end > s && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
            *--end = '\0';
        char *num_end = NULL;
        long secs = strtol(s, &num_end, 10);
        if (num_end && num_end != s && *num_end == '\0' && secs >= 0) {
            e->retry_after_s = secs;
        } else {
            time_t when = curl_getdate(s, NULL); /* an HTTP-date */
            if (when > 0) {
                long d = (long)(when - time(NULL));
                e->retry_after_s = d > 0 ? d : 0;
            }
        }
    }
    return len;
}

static int on_progress(void *arg, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
    struct otus__exporter *e = arg;
    (void)a;
    (void)b;
    (void)c;
    (void)d;
    return e->hard_deadline && otus__mono_ns() >= e->hard_deadline;
}

static uint64_t read_varint(const unsigned char *p, size_t n, size_t *i)
{
    uint64_t v = 0;
    for (int shift = 0; *i < n && shift < 64; shift += 7) {
        unsigned char byte = p[(*i)++];
        v |= (uint64_t)(byte & 0x7f) << shift;
        if (!(byte & 0x80))
            break;
    }
    return v;
}

/* Finds field number want of wire type want_wire (0: varint, 2: length-delimited) in
 * the protobuf message p[0..n): its value, or its bytes in *sub and *sublen. 0 if
 * found, -1 if not or if the message is malformed. */
static int find_field(const unsigned char *p, size_t n, uint32_t want, unsigned want_wire,
                      uint64_t *value, const unsigned char **sub, size_t *sublen)
{
    size_t i = 0;
    while (i < n) {
        uint64_t key = read_varint(p, n, &i);
        unsigned wire = (unsigned)(key & 7);
        uint64_t v = 0;
        if (wire == 0) {
            v = read_varint(p, n, &i);
        } else if (wire == 1 || wire == 5) {
            if ((wire == 1 ? 8u : 4u) > n - i)
                return -1;
            i += wire == 1 ? 8 : 4;
        } else if (wire == 2) {
            v = read_varint(p, n, &i);
            if (v > n - i)
                return -1;
        } else {
            return -1;
        }
        if ((key >> 3) == want && wire == want_wire) {
            if (wire == 2) {
                *sub = p + i;
                *sublen = (size_t)v;
            } else {
                *value = v;
            }
            return 0;
        }
        if (wire == 2)
            i += (size_t)v;
    }
    return -1;
}

/* Reads partial_success.rejected_* from an Export*ServiceResponse body: field 1, an
 * Export*PartialSuccess, whose field 1 is the rejected count (int64). */
static uint64_t rejected_count(const unsigned char *p, size_t n)
{
    const unsigned char *ps;
    size_t pslen;
    uint64_t rejected = 0;
    if (find_field(p, n, 1, 2, NULL, &ps, &pslen) != 0 ||
        find_field(ps, pslen, 1, 0, &rejected, NULL, NULL) != 0)
        return 0;
    return rejected;
}

static int post(struct otus__exporter *e, enum otus__signal sig, const struct pending *p,
                uint64_t deadline)
{
    uint32_t processor = sig == OTUS__TRACES ? otus__g.set.span_timeout_ms
                         : sig == OTUS__LOGS ? otus__g.set.log_timeout_ms
                                             : otus__g.set.metric_timeout_ms;
    uint64_t ms = otus__g.set.timeout_ms[sig];
    if (processor < ms)
        ms = processor;
    uint64_t now = otus__mono_ns();
    if (deadline) {
        if (now >= deadline)
            return OTUS_ERR_TIMEOUT;
        uint64_t left = (deadline - now) / 1000000u;
        if (left < ms)
            ms = left ? left : 1;
    }
    e->hard_deadline = deadline;
    e->retry_after_s = -1;
    otus_buf_reset(&e->resp);
    CURL *c = e->curl[sig];
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, p->body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)p->len);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)ms);
    CURLcode res = curl_easy_perform(c);
    if (res != CURLE_OK) {
        switch (res) {
        case CURLE_OPERATION_TIMEDOUT:
            return OTUS_ERR_TIMEOUT;
        case CURLE_ABORTED_BY_CALLBACK:
            return OTUS_ERR_CANCELED;
        case CURLE_UNSUPPORTED_PROTOCOL:
        case CURLE_URL_MALFORMAT:
            return OTUS_ERR_CONFIG;
        default:
            return OTUS_ERR_CONNECT; /* refused, reset, closed before answering: retry */
        }
    }
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 200 && status < 300) {
        uint64_t rejected = rejected_count((const unsigned char *)e->resp.data, e->resp.len);
        if (rejected > p->items)
            rejected = p->items;
        if (rejected) {
            otus__stat_add(OTUS__STAT_EXPORT_DROPPED, rejected);
            otus__diag(&otus__g.set, OTUS_LEVEL_WARN, "the peer rejected %llu of %u %s",
                       (unsigned long long)rejected, p->items,
                       sig == OTUS__TRACES ? "spans"
                       : sig == OTUS__LOGS ? "log records"
                                           : "points");
        }
        otus__stat_add(sig == OTUS__TRACES ? OTUS__STAT_SPANS_EXPORTED
                       : sig == OTUS__LOGS ? OTUS__STAT_LOGS_EXPORTED
                                           : OTUS__STAT_POINTS_EXPORTED,
                       p->items - rejected);
        return 0;
    }
    if (status == 429 || status == 502 || status == 503 || status == 504)
        return OTUS_ERR_HTTP_RETRY;
    return OTUS_ERR_HTTP_REJECT;
}

static const char *signal_label(enum otus__signal sig)
{
    return sig == OTUS__TRACES ? "traces" : sig == OTUS__METRICS ? "metrics" : "logs";
}

/* Sends what is due. deadline (mono ns): a flush or shutdown, which ignores backoff and
 * stops at an unreachable peer; 0: normal rounds. Returns the first failure, or 0. */
static int send_pending(struct otus__exporter *e, uint64_t deadline)
{
    int first_rc = 0;
    for (int sig = 0; sig < OTUS__NSIGNALS; sig++) {
        struct sigstate *s = &e->sig[sig];
        while (s->head) {
            uint64_t now = otus__mono_ns();
            if (!deadline && now < s->next_try)
                break;
            if (deadline && now >= deadline) {
                if (!first_rc)
                    first_rc = OTUS_ERR_TIMEOUT;
                break;
            }
            int rc = e->curl[sig] ? post(e, (enum otus__signal)sig, s->head, deadline)
                                  : OTUS_ERR_CONNECT;
            if (rc == 0) {
                struct pending *p = s->head;
                s->head = p->next;
                if (!s->head)
                    s->tail = NULL;
                s->n_pending--;
                pending_free(p);
                s->backoff_ms = 0;
                if (s->failing)
                    otus__diag(&otus__g.set, OTUS_LEVEL_INFO, "export of %s to %s works again",
                               signal_label((enum otus__signal)sig), otus__g.set.url[sig]);
                s->failing = 0;
                continue;
            }
            otus__stat_add(OTUS__STAT_EXPORT_FAILURES, 1);
            if (!first_rc)
                first_rc = rc;
            if (rc == OTUS_ERR_HTTP_REJECT || rc == OTUS_ERR_CONFIG) {
                if (!e->lost)
                    e->lost = rc;
                otus__diag(&otus__g.set, OTUS_LEVEL_ERROR,
                           "export of %s to %s refused (%s); %u items dropped",
                           signal_label((enum otus__signal)sig), otus__g.set.url[sig],
                           otus_strerror(rc), s->head->items);
                if (sig == OTUS__METRICS)
                    otus__stat_add(OTUS__STAT_EXPORT_DROPPED, s->head->items);
                pending_drop_head(s, (enum otus__signal)sig);
                continue;
            }
            if (!s->failing)
                otus__diag(&otus__g.set, OTUS_LEVEL_WARN, "export of %s to %s failed (%s)%s",
                           signal_label((enum otus__signal)sig), otus__g.set.url[sig],
                           otus_strerror(rc), deadline ? "" : "; retrying");
            s->failing = 1;
            /* Exponential backoff with jitter, or the peer's Retry-After. */
            uint32_t b = s->backoff_ms ? s->backoff_ms * 2 : BACKOFF_MIN_MS;
            if (b > BACKOFF_MAX_MS)
                b = BACKOFF_MAX_MS;
            s->backoff_ms = b;
            uint64_t wait_ms = b / 2 + otus__rand64() % (b / 2 + 1);
            if (e->retry_after_s >= 0 && rc == OTUS_ERR_HTTP_RETRY)
                wait_ms = (uint64_t)(e->retry_after_s > 3600 ? 3600 : e->retry_after_s) * 1000;
            s->next_try = otus__mono_ns() + wait_ms * 1000000u;
            if (deadline && rc == OTUS_ERR_HTTP_RETRY && s->next_try < deadline) {
                /* A busy peer during a flush: wait as it asks while time allows. */
                uint64_t d = s->next_try - otus__mono_ns();
                struct timespec ts = {(time_t)(d / 1000000000u), (long)(d % 1000000000u)};
                nanosleep(&ts, NULL);
                continue;
            }
            break;
        }
    }
    return first_rc;
}

/* ---- the thread --------------------------------------------------------------------------- */

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

/* Drains everything, closes open requests, collects metrics, sends all. */
static int flush_all(struct otus__exporter *e, uint64_t deadline)
{
    uint64_t now = otus__mono_ns();
    drain_logs(e, now);
    drain_spans(e, now);
    batch_close(e, OTUS__TRACES);
    batch_close(e, OTUS__LOGS);
    if (enabled(OTUS__METRICS)) {
        collect_metrics(e);
        e->next_metrics = now + (uint64_t)otus__g.set.metric_interval_ms * 1000000u;
    }
    e->lost = 0;
    int rc = send_pending(e, deadline);
    if (e->lost)
        return e->lost; /* refused and dropped */
    for (int sig = 0; sig < OTUS__NSIGNALS; sig++)
        if (e->sig[sig].head)
            return rc ? rc : OTUS_ERR_TIMEOUT; /* something is still queued */
    return 0;                                  /* everything accepted, possibly after retries */
}

static void *run(void *arg)
{
    struct otus__exporter *e = arg;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL); /* the application's signals are not ours */
    pthread_setname_np(pthread_self(), "otus-export");
    uint32_t flush_seen = atomic_load(&e->flush_done);
    for (;;) {
        uint64_t now = otus__mono_ns();
        if (now >= e->next_calibrate) {
            otus__ticks_calibrate();
            e->next_calibrate = now + 1000000000u;
        }
        if (atomic_load(&e->stop)) {
            int rc = flush_all(e, e->stop_deadline);
            uint32_t req = atomic_load(&e->flush_req);
            if (req != flush_seen) {
                atomic_store(&e->flush_rc, rc);
                atomic_store(&e->flush_done, req);
                syscall(SYS_futex, &e->flush_done, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL, NULL, 0);
            }
            e->final_rc = rc;
            break;
        }
        uint32_t req = atomic_load(&e->flush_req);
        if (req != flush_seen) {
            int rc = flush_all(e, atomic_load(&e->flush_deadline));
            atomic_store(&e->flush_rc, rc);
            atomic_store(&e->flush_done, req);
            flush_seen = req;
            syscall(SYS_futex, &e->flush_done, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL, NULL, 0);
            continue;
        }
        drain_logs(e, now);
        drain_spans(e, now);
        struct sigstate *t = &e->sig[OTUS__TRACES], *l = &e->sig[OTUS__LOGS];
        if (t->batch_items &&
            now - t->batch_start >= (uint64_t)otus__g.set.span_delay_ms * 1000000u)
            batch_close(e, OTUS__TRACES);
        if (l->batch_items && now - l->batch_start >= (uint64_t)otus__g.set.log_delay_ms * 1000000u)
            batch_close(e, OTUS__LOGS);
        if (enabled(OTUS__METRICS) && now >= e->next_metrics) {
            collect_metrics(e);
            e->next_metrics = now + (uint64_t)otus__g.set.metric_interval_ms * 1000000u;
        }
        send_pending(e, 0);

        now = otus__mono_ns();
        uint64_t wake = now + TICK_NS;
        if (enabled(OTUS__METRICS))
            wake = min_u64(wake, e->next_metrics);
        if (t->batch_items)
            wake = min_u64(wake, t->batch_start + (uint64_t)otus__g.set.span_delay_ms * 1000000u);
        if (l->batch_items)
            wake = min_u64(wake, l->batch_start + (uint64_t)otus__g.set.log_delay_ms * 1000000u);
        for (int sig = 0; sig < OTUS__NSIGNALS; sig++)
            if (e->sig[sig].head)
                wake = min_u64(wake, e->sig[sig].next_try);
        if (wake > now && !atomic_load(&e->stop) && atomic_load(&e->flush_req) == flush_seen)
            otus__exporter_sleep(wake - now);
    }
    /* Whatever is still queued is given up on. */
    for (int sig = 0; sig < OTUS__NSIGNALS; sig++) {
        while (e->sig[sig].head) {
            if (sig == OTUS__METRICS)
                otus__stat_add(OTUS__STAT_EXPORT_DROPPED, e->sig[sig].head->items);
            pending_drop_head(&e->sig[sig], (enum otus__signal)sig);
            if (!e->final_rc)
                e->final_rc = OTUS_ERR_TIMEOUT;
        }
    }
    drain_logs(e, otus__mono_ns()); /* lines written during the last sends */
    return NULL;
}

/* ---- start, flush, stop ---------------------------------------------------------------- */

static int valid_header(const char *k, const char *v)
{
    if (!*k)
        return 0;
    for (const char *c = k; *c; c++)
        if ((unsigned char)*c <= 0x20 || *c == ':' || (unsigned char)*c >= 0x7f)
            return 0;
    for (const char *c = v; *c; c++)
        if (*c == '\r' || *c == '\n' || *c == '\0')
            return 0;
    return 1;
}

static void exporter_free(struct otus__exporter *e)
{
    if (!e)
        return;
    for (int sig = 0; sig < OTUS__NSIGNALS; sig++) {
        if (e->curl[sig])
            curl_easy_cleanup(e->curl[sig]);
        curl_slist_free_all(e->headers[sig]);
        while (e->sig[sig].head) {
            struct pending *p = e->sig[sig].head;
            e->sig[sig].head = p->next;
            pending_free(p);
        }
        otus_buf_free(&e->sig[sig].batch);
    }
    otus_deflater_destroy(&e->gz);
    otus_buf_free(&e->gzbuf);
    otus_buf_free(&e->sink);
    otus_buf_free(&e->resp);
    otus_buf_free(&e->enc);
    otus__pb_scratch_free();
    otus__encode_scratch_free();
    free(e);
}

int otus__exporter_manual;

int otus__exporter_start(void)
{
    if (otus__exporter_manual)
        return 0; /* tests drive the queues themselves */
    struct otus__exporter *e = calloc(1, sizeof(*e));
    if (!e)
        return OTUS_ERR_NOMEM;
    int rc = OTUS_ERR_NOMEM;
    for (int sig = 0; sig < OTUS__NSIGNALS; sig++)
        otus_buf_init(&e->sig[sig].batch, 0);
    otus_buf_init(&e->gzbuf, 0);
    otus_buf_init(&e->sink, 0);
    otus_buf_init(&e->resp, 0);
    otus_buf_init(&e->enc, 0);
    if (otus_deflater_init(&e->gz, 1))
        goto fail;
    for (int sig = 0; sig < OTUS__NSIGNALS; sig++) {
        struct curl_slist *h = NULL, *n;
        char line[1024];
        n = curl_slist_append(h, "Content-Type: application/x-protobuf");
        if (!n)
            goto fail;
        h = n;
        if (otus__g.set.gzip[sig]) {
            if (!(n = curl_slist_append(h, "Content-Encoding: gzip")))
                goto fail;
            h = n;
        }
        /* No "Expect: 100-continue" round trip before the body. */
        if (!(n = curl_slist_append(h, "Expect:")))
            goto fail;
        h = n;
        e->headers[sig] = h;
        for (size_t i = 0; i < otus__g.set.n_headers[sig]; i++) {
            const struct otus__kv *kv = &otus__g.set.headers[sig][i];
            if (!valid_header(kv->key, kv->value) ||
                (size_t)snprintf(line, sizeof(line), "%s: %s", kv->key, kv->value) >=
                    sizeof(line)) {
                otus__diag(&otus__g.set, OTUS_LEVEL_WARN,
                           "export header '%s' is not valid; ignored", kv->key);
                continue;
            }
            if (!(n = curl_slist_append(e->headers[sig], line)))
                goto fail;
            e->headers[sig] = n;
        }
        if (!enabled((enum otus__signal)sig))
            continue;
        pthread_once(&curl_once, curl_setup);
        CURL *c = curl_ok ? curl_easy_init() : NULL;
        if (!c) {
            otus__diag(&otus__g.set, OTUS_LEVEL_ERROR,
                       "libcurl could not start; %s will not be exported",
                       signal_label((enum otus__signal)sig));
            continue;
        }
        e->curl[sig] = c;
        /* Everything but the body and the timeout is set once. */
        curl_easy_setopt(c, CURLOPT_URL, otus__g.set.url[sig]);
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, e->headers[sig]);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, e);
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, e);
        curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(c, CURLOPT_XFERINFODATA, e);
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(c, CURLOPT_USERAGENT, USER_AGENT);
        curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    }
    uint64_t now = otus__mono_ns();
    e->next_metrics = now + (uint64_t)otus__g.set.metric_interval_ms * 1000000u;
    e->logs_dropped_seen = otus__stat_get(OTUS__STAT_LOGS_DROPPED);
    if (pthread_create(&e->thread, NULL, run, e) != 0) {
        rc = OTUS_ERR_IO;
        goto fail;
    }
    otus__g.exp = e;
    return 0;
fail:
    exporter_free(e);
    return rc;
}

int otus__exporter_flush(uint64_t deadline)
{
    struct otus__exporter *e = otus__g.exp;
    if (!e)
        return OTUS_ERR_STATE;
    atomic_store(&e->flush_deadline, deadline);
    uint32_t req = atomic_fetch_add(&e->flush_req, 1) + 1;
    otus__wake_exporter();
    for (;;) {
        uint32_t done = atomic_load(&e->flush_done);
        if ((int32_t)(done - req) >= 0)
            return atomic_load(&e->flush_rc);
        uint64_t now = otus__mono_ns();
        if (now >= deadline + 50000000u) /* the thread observes the deadline itself */
            return OTUS_ERR_TIMEOUT;
        uint64_t d = deadline + 50000000u - now;
        if (d > 10000000u)
            d = 10000000u;
        struct timespec ts = {0, (long)d};
        syscall(SYS_futex, &e->flush_done, FUTEX_WAIT_PRIVATE, done, &ts, NULL, 0);
    }
}

int otus__exporter_stop(uint64_t deadline)
{
    struct otus__exporter *e = otus__g.exp;
    if (!e)
        return 0;
    e->stop_deadline = deadline;
    atomic_store(&e->stop, 1);
    otus__wake_exporter();
    /* Every wait in the thread is bounded by the deadline; allow it a moment past. */
    uint64_t now = otus__mono_ns();
    uint64_t wait = (deadline > now ? deadline - now : 0) + 500000000u;
    struct timespec abs;
    clock_gettime(CLOCK_REALTIME, &abs);
    abs.tv_sec += (time_t)(wait / 1000000000u);
    abs.tv_nsec += (long)(wait % 1000000000u);
    if (abs.tv_nsec >= 1000000000L) {
        abs.tv_sec++;
        abs.tv_nsec -= 1000000000L;
    }
    if (pthread_timedjoin_np(e->thread, NULL, &abs) != 0) {
        /* Should not happen; the thread keeps its memory rather than lose it under it. */
        pthread_detach(e->thread);
        otus__g.exp = NULL;
        return OTUS_ERR_TIMEOUT;
    }
    int rc = e->final_rc;
    otus__g.exp = NULL;
    exporter_free(e);
    return rc;
}

void otus__exporter_forget(void)
{
    /* In a forked child the thread does not exist and its state may be mid-update:
     * leave it alone (its memory is the parent's copy) and start afresh. */
    otus__g.exp = NULL;
}
