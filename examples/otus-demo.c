/*
 * otus-demo.c: a small program that uses libotus the way a service does, linked
 * against libotus.so and configured only through the standard environment variables
 * (OTEL_SERVICE_NAME, OTEL_EXPORTER_OTLP_ENDPOINT, ...). The integration tests drive
 * it; it also shows the API in a few lines per feature.
 *
 *   otus-demo emit       records a known set of metrics, a traced HTTP request with a
 *                        client call and logs, shuts down, and prints what it did as
 *                        JSON on stdout (IDs, shutdown status and time, counts)
 *   otus-demo flood N    N spans and N log records as fast as possible
 *   otus-demo fork       a span in the parent, then a child process that records
 *                        and exports its own
 *   otus-demo serve S    handles a simulated request every 10 ms for S seconds
 *
 * OTUS_DEMO_TRACEPARENT: an incoming traceparent for the simulated request.
 * OTUS_DEMO_SHUTDOWN_MS: the shutdown timeout (default 5000).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <otus.h>

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void hex(const uint8_t *id, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", id[i]);
}

/* Incoming request headers: an array the library's header-list getter reads. */
static struct otus_header incoming[2];
static struct otus_header_list incoming_list = {incoming, 0};

/* Outgoing request headers, as an HTTP client library would collect them. */
static char outgoing[4][1024];
static int n_outgoing;

static void set_outgoing(void *carrier, const char *name, const char *value, size_t len)
{
    (void)carrier;
    if (n_outgoing < 4)
        snprintf(outgoing[n_outgoing++], sizeof(outgoing[0]), "%s: %.*s", name, (int)len, value);
}

static int finish(void)
{
    const char *t = getenv("OTUS_DEMO_SHUTDOWN_MS");
    uint32_t timeout = t ? (uint32_t)atoi(t) : 5000;
    uint64_t t0 = now_ms();
    int rc = otus_shutdown(timeout);
    uint64_t took = now_ms() - t0;
    struct otus_stats st;
    otus_stats_get(&st);
    printf("{\"event\":\"shutdown\",\"rc\":%d,\"ms\":%llu,\"pid\":%d,\"spans_exported\":%llu,"
           "\"logs_exported\":%llu,\"points_exported\":%llu,\"spans_dropped\":%llu,"
           "\"logs_dropped\":%llu,\"export_failures\":%llu,\"export_dropped\":%llu}\n",
           rc, (unsigned long long)took, (int)getpid(), (unsigned long long)st.spans_exported,
           (unsigned long long)st.logs_exported, (unsigned long long)st.metric_points_exported,
           (unsigned long long)st.spans_dropped, (unsigned long long)st.logs_dropped,
           (unsigned long long)st.export_failures, (unsigned long long)st.export_dropped);
    fflush(stdout);
    return rc == 0 ? 0 : 3;
}

static void metrics(void)
{
    struct otus_metric *requests =
        otus_counter_create("demo.requests", "{request}", "Requests handled");
    struct otus_attr get[2] = {otus_attr_str("http.route", "/users"),
                               otus_attr_str("method", "GET")};
    struct otus_attr post[2] = {otus_attr_str("method", "POST"),
                                otus_attr_str("http.route", "/orders")};
    struct otus_series *users = otus_metric_bind(requests, get, 2);
    otus_series_add(users, 1);
    otus_series_add(users, 2);
    otus_metric_add(requests, 2, post, 2);

    struct otus_metric *inflight = otus_updown_counter_create("demo.inflight", "{request}", NULL);
    otus_metric_add(inflight, 5, NULL, 0);
    otus_metric_add(inflight, -2, NULL, 0);

    otus_metric_set(otus_gauge_create("demo.temperature", "Cel", NULL), 21.5, NULL, 0);

    static const double bounds[] = {0.1, 0.5, 1.0};
    struct otus_metric *lat = otus_histogram_create("demo.latency", "s", "Work time", bounds, 3);
    const double v[] = {0.05, 0.2, 0.7, 3.0};
    for (int i = 0; i < 4; i++)
        otus_metric_record(lat, v[i], NULL, 0);

    struct otus_metric *size = otus_exp_histogram_create("demo.size", "By", NULL, 0, 0);
    for (int i = 1; i <= 100; i++)
        otus_metric_record(size, (double)i, NULL, 0);
}

/* One traced HTTP request: a server span, a client call inside it, logs in both. */
static void request(int status, char *server_span_hex, char *client_span_hex, char *trace_hex)
{
    const char *tp = getenv("OTUS_DEMO_TRACEPARENT");
    incoming_list.n = 0;
    if (tp && *tp) {
        incoming[0].name = "traceparent";
        incoming[0].value = tp;
        incoming_list.n = 1;
    }
    struct otus_http_info req = {0};
    req.method = "GET";
    req.scheme = "http";
    req.path = "/users/42";
    req.route = "/users/{id}";
    req.server_address = "demo.local";
    req.server_port = 8080;
    req.protocol_version = "1.1";
    req.user_agent = "otus-demo/1.0";
    req.get = otus_header_list_get;
    req.carrier = &incoming_list;
    struct otus_http_span server;
    otus_http_server_span_start(&server, &req);

    const char *tags[] = {"a", "b"};
    struct otus_attr attrs[] = {
        otus_attr_str("user.id", "u-42"),
        otus_attr_int("retries", 2),
        otus_attr_double("ratio", 0.5),
        otus_attr_bool("cached", 1),
        otus_attr_array("tags", OTUS_TYPE_STRING_ARRAY, tags, 2),
    };
    otus_span_set_attrs(&server.span, attrs, sizeof(attrs) / sizeof(attrs[0]));
    otus_span_add_event(&server.span, "cache.miss", attrs, 1);
    struct otus_attr fields[2] = {otus_attr_str("user.id", "u-42"), otus_attr_int("items", 3)};
    otus_log_write(OTUS_LEVEL_INFO, "loading user", fields, 2);

    struct otus_http_info call = {0};
    call.method = "GET";
    call.url = "http://db.local:5432/query";
    call.server_address = "db.local";
    call.server_port = 5432;
    struct otus_http_span client;
    n_outgoing = 0;
    otus_http_client_span_start(&client, &call, set_outgoing, NULL);
    otus_log_write(OTUS_LEVEL_WARN, "database slow", NULL, 0);
    otus_http_client_span_end(&client, 503, NULL);

    if (server_span_hex) {
        hex(server.span.ctx.span_id, 8, server_span_hex);
        hex(client.span.ctx.span_id, 8, client_span_hex);
        hex(server.span.ctx.trace_id, 16, trace_hex);
    }
    otus_http_server_span_end(&server, status, NULL);
}

static int emit(void)
{
    int rc = otus_init(NULL);
    if (rc && rc != OTUS_ERR_DISABLED) {
        fprintf(stderr, "otus_init: %s\n", otus_strerror(rc));
        return 2;
    }
    metrics();
    char server[17], client[17], trace[33];
    request(200, server, client, trace);
    otus_log_write(OTUS_LEVEL_ERROR, "outside any span", NULL, 0);
    printf("{\"event\":\"emitted\",\"init\":%d,\"trace_id\":\"%s\",\"server_span\":\"%s\","
           "\"client_span\":\"%s\",\"outgoing\":[",
           rc, trace, server, client);
    for (int i = 0; i < n_outgoing; i++)
        printf("%s\"%s\"", i ? "," : "", outgoing[i]);
    printf("]}\n");
    fflush(stdout);
    return finish();
}

static int flood(long n)
{
    otus_init(NULL);
    for (long i = 0; i < n; i++) {
        struct otus_span sp;
        otus_span_start(&sp, "flood", OTUS_SPAN_INTERNAL, NULL);
        struct otus_attr a = otus_attr_int("i", i);
        otus_log_write(OTUS_LEVEL_INFO, "flood", &a, 1);
        otus_span_end(&sp);
    }
    return finish();
}

static int fork_demo(void)
{
    otus_init(NULL);
    struct otus_span sp;
    otus_span_start(&sp, "parent-before-fork", OTUS_SPAN_INTERNAL, NULL);
    otus_span_end(&sp);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        otus_span_start(&sp, "child-work", OTUS_SPAN_INTERNAL, NULL);
        otus_log_write(OTUS_LEVEL_INFO, "in the child", NULL, 0);
        otus_metric_add(otus_counter_create("demo.child.work", NULL, NULL), 1, NULL, 0);
        otus_span_end(&sp);
        _exit(finish());
    }
    otus_span_start(&sp, "parent-work", OTUS_SPAN_INTERNAL, NULL);
    otus_span_end(&sp);
    int status = 0;
    waitpid(pid, &status, 0);
    int rc = finish();
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? rc : 4;
}

static int serve(int seconds)
{
    otus_init(NULL);
    uint64_t end = now_ms() + (uint64_t)seconds * 1000;
    int i = 0;
    while (now_ms() < end) {
        request(i % 10 == 0 ? 500 : 200, NULL, NULL, NULL);
        struct timespec ts = {0, 10 * 1000000};
        nanosleep(&ts, NULL);
        i++;
    }
    return finish();
}

int main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : "emit";
    if (!strcmp(cmd, "emit"))
        return emit();
    if (!strcmp(cmd, "flood"))
        return flood(argc > 2 ? atol(argv[2]) : 10000);
    if (!strcmp(cmd, "fork"))
        return fork_demo();
    if (!strcmp(cmd, "serve"))
        return serve(argc > 2 ? atoi(argv[2]) : 5);
    fprintf(stderr, "usage: otus-demo emit | flood N | fork | serve SECONDS\n");
    return 2;
}
