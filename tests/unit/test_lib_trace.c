/*
 * test_lib_trace.c: spans as the OTLP a collector receives them: identity and
 * parentage, attributes of every type with last-set-wins, events, links, status rules,
 * limits and dropped counts, names, the per-thread current span, samplers (always
 * on/off, trace-ID ratio with its threshold rule, parent-based), IDs, the disabled SDK
 * and span memory exhaustion.
 */
#include "test_lib.h"

#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

static int setup(void **state)
{
    (void)state;
    lib_start(NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    trace_free(spans_drain(NULL));
    lib_stop();
    return 0;
}

static void restart(struct otus_sdk_config *cfg)
{
    trace_free(spans_drain(NULL));
    lib_stop();
    lib_start(cfg);
}

static void basic_span(void **state)
{
    (void)state;
    struct otus_span root, child;
    otus_span_start(&root, "GET /users/{id}", OTUS_SPAN_SERVER, NULL);
    assert_true(otus_span_context_is_valid(&root.ctx));
    assert_int_equal(root.ctx.trace_flags, OTUS_TRACE_FLAG_SAMPLED);
    assert_true(otus_span_is_recording(&root));
    assert_ptr_equal(otus_span_current(), &root);
    otus_span_start(&child, "db.query", OTUS_SPAN_CLIENT, NULL);
    assert_memory_equal(child.ctx.trace_id, root.ctx.trace_id, 16);
    assert_ptr_equal(otus_span_current(), &child);
    otus_span_end(&child);
    assert_ptr_equal(otus_span_current(), &root);
    otus_span_end(&root);
    assert_null(otus_span_current());
    assert_false(otus_span_is_recording(&root));
    otus_span_end(&root); /* twice: nothing */

    size_t n;
    TraceReq *r = spans_drain(&n);
    assert_int_equal(n, 2);
    Span *s = trace_span_named(r, "GET /users/{id}");
    Span *c = trace_span_named(r, "db.query");
    assert_non_null(s);
    assert_non_null(c);
    assert_int_equal(s->kind, OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_SERVER);
    assert_int_equal(c->kind, OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_CLIENT);
    assert_int_equal(s->trace_id.len, 16);
    assert_memory_equal(s->trace_id.data, root.ctx.trace_id, 16);
    assert_memory_equal(s->span_id.data, root.ctx.span_id, 8);
    assert_int_equal(s->parent_span_id.len, 0);
    assert_memory_equal(c->parent_span_id.data, root.ctx.span_id, 8);
    assert_int_equal(s->flags, 0x101); /* sampled, parent remoteness known (no parent) */
    assert_true(s->start_time_unix_nano > 1600000000000000000ull);
    assert_true(s->end_time_unix_nano >= c->end_time_unix_nano);
    assert_true(c->start_time_unix_nano >= s->start_time_unix_nano);
    Opentelemetry__Proto__Resource__V1__Resource *res = r->resource_spans[0]->resource;
    assert_true(kv_has_str(res->attributes, res->n_attributes, "service.name", "test-service"));
    assert_non_null(kv_find(res->attributes, res->n_attributes, "process.pid"));
    trace_free(r);
}

static void attributes_events_links_status(void **state)
{
    (void)state;
    const char *strs[] = {"x", "y"};
    double dbl[] = {0.5, 1.5};
    int bools[] = {1, 0};
    struct otus_attr inner[2] = {otus_attr_str("k", "v"), otus_attr_int("n", 1)};
    struct otus_attr mixed[2] = {otus_attr_str("", "s"), otus_attr_bool("", 1)};
    struct otus_attr start[] = {
        otus_attr_str("str", "first"),
        otus_attr_int("int", 42),
        otus_attr_double("dbl", 2.5),
        otus_attr_bool("bool", 1),
        otus_attr_bytes("bytes", "\x01\x02\x03", 3),
        otus_attr_array("sarr", OTUS_TYPE_STRING_ARRAY, strs, 2),
        otus_attr_array("darr", OTUS_TYPE_DOUBLE_ARRAY, dbl, 2),
        otus_attr_array("barr", OTUS_TYPE_BOOL_ARRAY, bools, 2),
        otus_attr_array("map", OTUS_TYPE_KVLIST, inner, 2),
        otus_attr_array("any", OTUS_TYPE_ARRAY, mixed, 2),
        otus_attr_strn("notnul", "abcdef", 3),
        otus_attr_str("bad.utf8", "ok\xff\xfe"),
    };
    struct otus_span_context linked;
    memset(&linked, 0, sizeof(linked));
    memset(linked.trace_id, 0xab, 16);
    memset(linked.span_id, 0xcd, 8);
    linked.trace_flags = 1;
    linked.is_remote = 1;
    linked.tracestate = "v=1";
    linked.tracestate_len = 3;
    struct otus_attr la = otus_attr_str("link.kind", "batch");
    struct otus_link link = {&linked, &la, 1};
    struct otus_span_opts o;
    memset(&o, 0, sizeof(o));
    o.attrs = start;
    o.n_attrs = sizeof(start) / sizeof(start[0]);
    o.links = &link;
    o.n_links = 1;
    struct otus_span sp;
    otus_span_start(&sp, "op", OTUS_SPAN_PRODUCER, &o);
    struct otus_attr later = otus_attr_str("str", "second"); /* replaces "first" */
    otus_span_set_attrs(&sp, &later, 1);
    struct otus_attr ev = otus_attr_int("retry", 3);
    otus_span_add_event(&sp, "retrying", &ev, 1);
    otus_span_add_link(&sp, &link);
    otus_span_update_name(&sp, "op.renamed");
    otus_span_set_status(&sp, OTUS_STATUS_ERROR, "boom");
    otus_span_set_status(&sp, OTUS_STATUS_UNSET, NULL); /* ignored */
    otus_span_record_error(&sp, "IOError", "disk full");
    otus_span_end(&sp);
    otus_span_set_attrs(&sp, &later, 1); /* after end: ignored */

    TraceReq *r = spans_drain(NULL);
    Span *s = trace_span(r, 0);
    assert_string_equal(s->name, "op.renamed");
    assert_int_equal(s->kind, OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_PRODUCER);
    assert_int_equal(s->n_attributes, sizeof(start) / sizeof(start[0]));
    assert_true(kv_has_str(s->attributes, s->n_attributes, "str", "second"));
    assert_true(kv_has_int(s->attributes, s->n_attributes, "int", 42));
    assert_true(kv_has_str(s->attributes, s->n_attributes, "notnul", "abc"));
    assert_true(
        kv_has_str(s->attributes, s->n_attributes, "bad.utf8", "ok\xef\xbf\xbd\xef\xbf\xbd"));
    const AnyValue *v = kv_find(s->attributes, s->n_attributes, "dbl");
    assert_true(v->value_case == ANY(DOUBLE_VALUE) && v->double_value == 2.5);
    v = kv_find(s->attributes, s->n_attributes, "bool");
    assert_true(v->value_case == ANY(BOOL_VALUE) && v->bool_value);
    v = kv_find(s->attributes, s->n_attributes, "bytes");
    assert_true(v->value_case == ANY(BYTES_VALUE) && v->bytes_value.len == 3);
    v = kv_find(s->attributes, s->n_attributes, "sarr");
    assert_true(v->value_case == ANY(ARRAY_VALUE) && v->array_value->n_values == 2);
    assert_string_equal(v->array_value->values[1]->string_value, "y");
    v = kv_find(s->attributes, s->n_attributes, "darr");
    assert_true(v->array_value->values[1]->double_value == 1.5);
    v = kv_find(s->attributes, s->n_attributes, "barr");
    assert_true(v->array_value->values[0]->bool_value && !v->array_value->values[1]->bool_value);
    v = kv_find(s->attributes, s->n_attributes, "map");
    assert_true(v->value_case == ANY(KVLIST_VALUE) && v->kvlist_value->n_values == 2);
    assert_string_equal(v->kvlist_value->values[0]->key, "k");
    v = kv_find(s->attributes, s->n_attributes, "any");
    assert_true(v->value_case == ANY(ARRAY_VALUE) && v->array_value->n_values == 2);
    assert_int_equal(v->array_value->values[1]->value_case, ANY(BOOL_VALUE));

    assert_int_equal(s->n_events, 2);
    assert_string_equal(s->events[0]->name, "retrying");
    assert_true(kv_has_int(s->events[0]->attributes, s->events[0]->n_attributes, "retry", 3));
    assert_true(s->events[0]->time_unix_nano >= s->start_time_unix_nano);
    assert_string_equal(s->events[1]->name, "exception");
    assert_true(kv_has_str(s->events[1]->attributes, s->events[1]->n_attributes, "exception.type",
                           "IOError"));
    assert_int_equal(s->n_links, 2);
    assert_memory_equal(s->links[0]->trace_id.data, linked.trace_id, 16);
    assert_string_equal(s->links[0]->trace_state, "v=1");
    assert_int_equal(s->links[0]->flags, 0x301);
    assert_true(
        kv_has_str(s->links[0]->attributes, s->links[0]->n_attributes, "link.kind", "batch"));
    assert_non_null(s->status);
    assert_int_equal(s->status->code,
                     OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_ERROR);
    assert_string_equal(s->status->message, "disk full");
    trace_free(r);
}

static void status_ok_is_final(void **state)
{
    (void)state;
    struct otus_span sp;
    otus_span_start(&sp, "ok", OTUS_SPAN_INTERNAL, NULL);
    otus_span_set_status(&sp, OTUS_STATUS_OK, "ignored description");
    otus_span_set_status(&sp, OTUS_STATUS_ERROR, "too late");
    otus_span_end(&sp);
    TraceReq *r = spans_drain(NULL);
    Span *s = trace_span(r, 0);
    assert_int_equal(s->status->code,
                     OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_OK);
    assert_string_equal(s->status->message, "");
    trace_free(r);
}

static void limits(void **state)
{
    (void)state;
    struct otus_span sp;
    otus_span_start(&sp, "big", OTUS_SPAN_INTERNAL, NULL);
    char keys[200][16];
    for (int i = 0; i < 200; i++) {
        snprintf(keys[i], sizeof(keys[i]), "k%03d", i);
        struct otus_attr a = otus_attr_int(keys[i], i);
        otus_span_set_attrs(&sp, &a, 1);
    }
    for (int i = 0; i < 130; i++)
        otus_span_add_event(&sp, "e", NULL, 0);
    /* A long value spans several blocks. */
    static char huge[20000];
    memset(huge, 'q', sizeof(huge) - 1);
    struct otus_attr h = otus_attr_str("k000", huge);
    otus_span_end(&sp);
    otus_span_start(&sp, "huge", OTUS_SPAN_INTERNAL, NULL);
    otus_span_set_attrs(&sp, &h, 1);
    otus_span_end(&sp);
    TraceReq *r = spans_drain(NULL);
    Span *s = trace_span_named(r, "big");
    assert_int_equal(s->n_attributes, 128);
    assert_int_equal(s->dropped_attributes_count, 72);
    assert_int_equal(s->n_events, 128);
    assert_int_equal(s->dropped_events_count, 2);
    s = trace_span_named(r, "huge");
    assert_int_equal(strlen(kv_find(s->attributes, s->n_attributes, "k000")->string_value),
                     sizeof(huge) - 1);
    trace_free(r);
}

/* Name and start attributes are written with one reservation: when they fit in the
 * first block, across blocks when they do not (a long name, long values), and for
 * more attributes than are sized in one pass; the span reads back the same each way. */
static void start_record_layouts(void **state)
{
    (void)state;
    static char name[900], val[700];
    memset(name, 'n', sizeof(name) - 1);
    memset(val, 'v', sizeof(val) - 1);
    char keys[20][16];
    struct otus_attr many[20];
    for (int i = 0; i < 20; i++) {
        snprintf(keys[i], sizeof(keys[i]), "k%02d", i);
        many[i] = i % 4 == 0   ? otus_attr_str(keys[i], "s")
                  : i % 4 == 1 ? otus_attr_int(keys[i], i)
                  : i % 4 == 2 ? otus_attr_bool(keys[i], 1)
                               : otus_attr_double(keys[i], i * 0.5);
    }
    const char *tags[] = {"x", "y"};
    struct otus_attr mixed[3] = {otus_attr_str("long", val),
                                 otus_attr_array("tags", OTUS_TYPE_STRING_ARRAY, tags, 2),
                                 otus_attr_int("n", 7)};
    struct otus_span_opts o;
    memset(&o, 0, sizeof(o));
    struct otus_span sp;
    o.attrs = mixed;
    o.n_attrs = 3;
    otus_span_start(&sp, "small", OTUS_SPAN_INTERNAL, &o); /* the long value crosses */
    otus_span_end(&sp);
    otus_span_start(&sp, name, OTUS_SPAN_INTERNAL, &o); /* the name alone crosses */
    otus_span_end(&sp);
    o.attrs = many;
    o.n_attrs = 20;
    otus_span_start(&sp, "many", OTUS_SPAN_INTERNAL, &o);
    otus_span_end(&sp);
    TraceReq *r = spans_drain(NULL);
    const char *names[2] = {"small", name};
    for (int k = 0; k < 2; k++) {
        Span *s = trace_span_named(r, names[k]);
        assert_non_null(s);
        assert_int_equal(s->n_attributes, 3);
        assert_true(kv_has_str(s->attributes, s->n_attributes, "long", val));
        assert_true(kv_has_int(s->attributes, s->n_attributes, "n", 7));
        const AnyValue *t = kv_find(s->attributes, s->n_attributes, "tags");
        assert_int_equal(t->value_case, ANY(ARRAY_VALUE));
        assert_int_equal(t->array_value->n_values, 2);
    }
    Span *s = trace_span_named(r, "many");
    assert_int_equal(s->n_attributes, 20);
    for (int i = 0; i < 20; i++) {
        const AnyValue *v = kv_find(s->attributes, s->n_attributes, keys[i]);
        assert_non_null(v);
        if (i % 4 == 1)
            assert_int_equal(v->int_value, i);
        else if (i % 4 == 2)
            assert_true(v->bool_value);
        else if (i % 4 == 3)
            assert_true(v->double_value == i * 0.5);
    }
    trace_free(r);
}

static void value_length_limit(void **state)
{
    (void)state;
    restart(NULL);
    /* Set through the settings as OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT=3 would. */
    otus__g.set.span_value_limit = 3;
    struct otus_span sp;
    struct otus_attr a[2] = {otus_attr_str("s", "h\xc3\xa9llo"), otus_attr_int("i", 123456)};
    struct otus_span_opts o;
    memset(&o, 0, sizeof(o));
    o.attrs = a;
    o.n_attrs = 2;
    otus_span_start(&sp, "cut", OTUS_SPAN_INTERNAL, &o);
    otus_span_end(&sp);
    otus__g.set.span_value_limit = UINT32_MAX;
    TraceReq *r = spans_drain(NULL);
    Span *s = trace_span(r, 0);
    /* Three characters, not three bytes. */
    assert_true(kv_has_str(s->attributes, s->n_attributes, "s", "h\xc3\xa9l"));
    assert_true(kv_has_int(s->attributes, s->n_attributes, "i", 123456));
    trace_free(r);
}

static void current_span_chain(void **state)
{
    (void)state;
    struct otus_span a, b, c, d;
    otus_span_start(&a, "a", OTUS_SPAN_INTERNAL, NULL);
    otus_span_start(&b, "b", OTUS_SPAN_INTERNAL, NULL);
    otus_span_start(&c, "c", OTUS_SPAN_INTERNAL, NULL);
    /* Ending out of order unlinks b; c's parent stays b in the data. */
    otus_span_end(&b);
    assert_ptr_equal(otus_span_current(), &c);
    otus_span_end(&c);
    assert_ptr_equal(otus_span_current(), &a);
    /* Detached: not current; explicit parent span. */
    struct otus_span_opts o;
    memset(&o, 0, sizeof(o));
    o.flags = OTUS_SPAN_DETACHED;
    o.parent_span = &a;
    otus_span_start(&d, "d", OTUS_SPAN_INTERNAL, &o);
    assert_ptr_equal(otus_span_current(), &a);
    /* Callbacks: swap in, work, swap back. */
    struct otus_span *saved = otus_span_swap_current(&d);
    assert_ptr_equal(otus_span_current(), &d);
    struct otus_span e;
    otus_span_start(&e, "e", OTUS_SPAN_INTERNAL, NULL);
    assert_memory_equal(e.ctx.trace_id, d.ctx.trace_id, 16);
    otus_span_end(&e);
    assert_ptr_equal(otus_span_current(), &d);
    otus_span_swap_current(saved);
    otus_span_end(&d);
    assert_ptr_equal(otus_span_current(), &a);
    /* ROOT: a new trace even with a current span. */
    memset(&o, 0, sizeof(o));
    o.flags = OTUS_SPAN_ROOT | OTUS_SPAN_DETACHED;
    struct otus_span f;
    otus_span_start(&f, "f", OTUS_SPAN_INTERNAL, &o);
    assert_memory_not_equal(f.ctx.trace_id, a.ctx.trace_id, 16);
    otus_span_end(&f);
    otus_span_end(&a);
    assert_null(otus_span_current());
    TraceReq *r = spans_drain(NULL);
    assert_int_equal(trace_span_count(r), 6);
    assert_memory_equal(trace_span_named(r, "c")->parent_span_id.data, b.ctx.span_id, 8);
    assert_memory_equal(trace_span_named(r, "e")->parent_span_id.data, d.ctx.span_id, 8);
    assert_memory_equal(trace_span_named(r, "d")->parent_span_id.data, a.ctx.span_id, 8);
    assert_int_equal(trace_span_named(r, "f")->parent_span_id.len, 0);
    trace_free(r);
}

static void remote_parent(void **state)
{
    (void)state;
    struct otus_span_context parent;
    const char *tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    assert_int_equal(otus_traceparent_parse(tp, strlen(tp), &parent), 0);
    parent.tracestate = "rojo=00f067aa0ba902b7";
    parent.tracestate_len = (uint16_t)strlen(parent.tracestate);
    struct otus_span_opts o;
    memset(&o, 0, sizeof(o));
    o.parent = &parent;
    struct otus_span sp;
    otus_span_start(&sp, "server", OTUS_SPAN_SERVER, &o);
    otus_span_end(&sp);
    /* Not sampled upstream: parent-based sampling follows. */
    parent.trace_flags = 0;
    otus_span_start(&sp, "unsampled", OTUS_SPAN_SERVER, &o);
    assert_false(otus_span_is_recording(&sp));
    assert_int_equal(sp.ctx.trace_flags, 0);
    otus_span_end(&sp);
    TraceReq *r = spans_drain(NULL);
    assert_int_equal(trace_span_count(r), 1);
    Span *s = trace_span(r, 0);
    assert_memory_equal(s->parent_span_id.data, parent.span_id, 8);
    assert_memory_equal(s->trace_id.data, parent.trace_id, 16);
    assert_string_equal(s->trace_state, "rojo=00f067aa0ba902b7");
    assert_int_equal(s->flags, 0x301); /* the parent was remote */
    trace_free(r);
}

static void samplers(void **state)
{
    (void)state;
    struct otus_sdk_config c;
    otus_sdk_config_init(&c);
    c.sampler = OTUS_SAMPLER_ALWAYS_OFF;
    restart(&c);
    struct otus_span sp;
    otus_span_start(&sp, "off", OTUS_SPAN_INTERNAL, NULL);
    assert_false(otus_span_is_recording(&sp));
    assert_true(otus_span_context_is_valid(&sp.ctx)); /* still propagates */
    otus_span_end(&sp);

    /* Ratio: the 56 low bits of the trace ID against (1 - ratio) * 2^56. */
    otus_sdk_config_init(&c);
    c.sampler = OTUS_SAMPLER_TRACEIDRATIO;
    c.sampler_ratio = 0.5;
    restart(&c);
    struct otus_span_context p;
    memset(&p, 0, sizeof(p));
    p.span_id[0] = 1;
    p.trace_flags = 0; /* ignored by the ratio sampler */
    struct otus_span_opts o;
    memset(&o, 0, sizeof(o));
    o.parent = &p;
    p.trace_id[0] = 0xff;
    p.trace_id[9] = 0x80; /* R = 2^55: exactly the threshold, sampled */
    otus_span_start(&sp, "hi", OTUS_SPAN_INTERNAL, &o);
    assert_true(otus_span_is_recording(&sp));
    otus_span_end(&sp);
    p.trace_id[9] = 0x7f;
    memset(p.trace_id + 10, 0xff, 6); /* R = 2^55 - 1: below, dropped */
    otus_span_start(&sp, "lo", OTUS_SPAN_INTERNAL, &o);
    assert_false(otus_span_is_recording(&sp));
    otus_span_end(&sp);
    /* About half of random trace IDs. */
    int sampled = 0;
    for (int i = 0; i < 4000; i++) {
        otus_span_start(&sp, "r", OTUS_SPAN_INTERNAL, NULL);
        sampled += otus_span_is_recording(&sp);
        otus_span_end(&sp);
        if (i % 1000 == 999)
            trace_free(spans_drain(NULL));
    }
    assert_true(sampled > 1700 && sampled < 2300);
    trace_free(spans_drain(NULL));

    /* Parent-based ratio: a sampled parent is followed whatever the ratio. */
    otus_sdk_config_init(&c);
    c.sampler = OTUS_SAMPLER_PARENTBASED_TRACEIDRATIO;
    c.sampler_ratio = 0.0;
    restart(&c);
    p.trace_flags = 1;
    otus_span_start(&sp, "follow", OTUS_SPAN_INTERNAL, &o);
    assert_true(otus_span_is_recording(&sp));
    otus_span_end(&sp);
    otus_span_start(&sp, "root", OTUS_SPAN_INTERNAL, NULL);
    assert_false(otus_span_is_recording(&sp));
    otus_span_end(&sp);

    otus_sdk_config_init(&c);
    c.sampler = OTUS_SAMPLER_PARENTBASED_ALWAYS_OFF;
    restart(&c);
    otus_span_start(&sp, "root-off", OTUS_SPAN_INTERNAL, NULL);
    assert_false(otus_span_is_recording(&sp));
    otus_span_end(&sp);
    otus_span_start(&sp, "child-on", OTUS_SPAN_INTERNAL, &o);
    assert_true(otus_span_is_recording(&sp));
    otus_span_end(&sp);
    restart(NULL);
}

static void ids_unique_nonzero(void **state)
{
    (void)state;
    enum { N = 5000 };
    static uint64_t seen[N];
    for (int i = 0; i < N; i++) {
        uint8_t sid[8];
        otus__new_span_id(otus__rng_ready(), sid);
        memcpy(&seen[i], sid, 8);
        assert_true(seen[i] != 0);
        for (int j = 0; j < i; j++)
            assert_true(seen[j] != seen[i]);
    }
}

static void fork_reseeds(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    uint8_t id[8];
    otus__new_span_id(otus__rng_ready(), id);
    if (pid == 0) {
        ssize_t w = write(fds[1], id, 8);
        _exit(w == 8 ? 0 : 1);
    }
    uint8_t child[8];
    assert_int_equal(read(fds[0], child, 8), 8);
    int status;
    waitpid(pid, &status, 0);
    /* Without a reseed both processes would draw the same next ID. */
    assert_memory_not_equal(child, id, 8);
    close(fds[0]);
    close(fds[1]);
}

static void disabled_passes_context_through(void **state)
{
    (void)state;
    trace_free(spans_drain(NULL));
    lib_stop();
    struct otus_sdk_config c;
    otus_sdk_config_init(&c);
    c.flags = OTUS_SDK_DISABLED;
    lib_start(&c);
    struct otus_span_context p;
    const char *tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    otus_traceparent_parse(tp, strlen(tp), &p);
    struct otus_span_opts o;
    memset(&o, 0, sizeof(o));
    o.parent = &p;
    struct otus_span sp;
    otus_span_start(&sp, "noop", OTUS_SPAN_SERVER, &o);
    assert_false(otus_span_is_recording(&sp));
    assert_memory_equal(sp.ctx.span_id, p.span_id, 8);
    char out[56];
    otus_traceparent_format(&sp.ctx, out);
    assert_string_equal(out, tp);
    otus_span_end(&sp);
    restart(NULL);
}

static void pool_exhaustion_counts(void **state)
{
    (void)state;
    /* Hold many recording spans open until the pool runs dry. */
    struct otus_sdk_config c;
    otus_sdk_config_init(&c);
    restart(&c);
    enum { N = 12000 };
    static struct otus_span sp[N];
    uint64_t before = otus__stat_get(OTUS__STAT_SPANS_DROPPED);
    struct otus_span_opts o;
    memset(&o, 0, sizeof(o));
    o.flags = OTUS_SPAN_DETACHED;
    int recording = 0;
    for (int i = 0; i < N; i++) {
        otus_span_start(&sp[i], "held", OTUS_SPAN_INTERNAL, &o);
        recording += otus_span_is_recording(&sp[i]);
    }
    uint64_t dropped = otus__stat_get(OTUS__STAT_SPANS_DROPPED) - before;
    assert_true(dropped > 0);
    assert_int_equal((uint64_t)recording + dropped, N);
    /* The queue holds 2048: ending them all drops the rest, counted. */
    for (int i = 0; i < N; i++)
        otus_span_end(&sp[i]);
    size_t n;
    trace_free(spans_drain(&n));
    assert_int_equal(n, 2048);
    assert_int_equal(otus__stat_get(OTUS__STAT_SPANS_DROPPED) - before, N - 2048);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(basic_span),
        cmocka_unit_test(attributes_events_links_status),
        cmocka_unit_test(status_ok_is_final),
        cmocka_unit_test(limits),
        cmocka_unit_test(start_record_layouts),
        cmocka_unit_test(value_length_limit),
        cmocka_unit_test(current_span_chain),
        cmocka_unit_test(remote_parent),
        cmocka_unit_test(samplers),
        cmocka_unit_test(ids_unique_nonzero),
        cmocka_unit_test(fork_reseeds),
        cmocka_unit_test(disabled_passes_context_through),
        cmocka_unit_test(pool_exhaustion_counts),
    };
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests(tests, setup, teardown);
}
