/*
 * test_lib_propagation.c: W3C Trace Context and W3C Baggage. The traceparent and
 * tracestate cases are those of the W3C test suite (test/test.py): each input either
 * continues the caller's trace or restarts it, and an invalid tracestate is dropped
 * whole without affecting the traceparent.
 */
#include "test_lib.h"

#define TP "00-12345678901234567890123456789012-1234567890123456-01"

static int parses(const char *v)
{
    struct otus_span_context c;
    return otus_traceparent_parse(v, strlen(v), &c) == 0;
}

static void traceparent_valid(void **state)
{
    (void)state;
    struct otus_span_context c;
    assert_int_equal(otus_traceparent_parse(TP, strlen(TP), &c), 0);
    assert_int_equal(c.trace_id[0], 0x12);
    assert_int_equal(c.trace_id[15], 0x12);
    assert_int_equal(c.span_id[0], 0x12);
    assert_int_equal(c.span_id[7], 0x56);
    assert_int_equal(c.trace_flags, 1);
    assert_int_equal(c.is_remote, 1);
    assert_true(parses("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"));
    /* Optional whitespace around the value. */
    assert_true(parses(" " TP));
    assert_true(parses("\t" TP));
    assert_true(parses(TP " "));
    assert_true(parses(TP "\t"));
    assert_true(parses("\t " TP " \t"));
    /* Flags other than sampled are kept as received. */
    assert_int_equal(
        otus_traceparent_parse("00-12345678901234567890123456789012-1234567890123456-09", 55, &c),
        0);
    assert_int_equal(c.trace_flags, 9);
}

static void traceparent_versions(void **state)
{
    (void)state;
    /* Version 00 must be exactly 55 characters. */
    assert_false(parses(TP "."));
    assert_false(parses(TP "-what-the-future-will-be-like"));
    /* A higher version is read by its prefix when followed by the end or a dash. */
    assert_true(parses("cc-12345678901234567890123456789012-1234567890123456-01"));
    assert_true(parses(
        "cc-12345678901234567890123456789012-1234567890123456-01-what-the-future-will-be-like"));
    assert_false(parses(
        "cc-12345678901234567890123456789012-1234567890123456-01.what-the-future-will-be-like"));
    /* Version ff is invalid. */
    assert_false(parses("ff-12345678901234567890123456789012-1234567890123456-01"));
    assert_false(parses(".0-12345678901234567890123456789012-1234567890123456-01"));
    assert_false(parses("0.-12345678901234567890123456789012-1234567890123456-01"));
    assert_false(parses("000-12345678901234567890123456789012-1234567890123456-01"));
    assert_false(parses("0000-12345678901234567890123456789012-1234567890123456-01"));
    assert_false(parses("0-12345678901234567890123456789012-1234567890123456-01"));
    /* Uppercase hex is not allowed anywhere. */
    assert_false(parses("0A-12345678901234567890123456789012-1234567890123456-01"));
}

static void traceparent_ids_and_flags(void **state)
{
    (void)state;
    assert_false(parses("00-00000000000000000000000000000000-1234567890123456-01"));
    assert_false(parses("00-.2345678901234567890123456789012-1234567890123456-01"));
    assert_false(parses("00-1234567890123456789012345678901.-1234567890123456-01"));
    assert_false(parses("00-123456789012345678901234567890123-1234567890123456-01"));
    assert_false(parses("00-1234567890123456789012345678901-1234567890123456-01"));
    assert_false(parses("00-ABCDEF78901234567890123456789012-1234567890123456-01"));
    assert_false(parses("00-12345678901234567890123456789012-0000000000000000-01"));
    assert_false(parses("00-12345678901234567890123456789012-.234567890123456-01"));
    assert_false(parses("00-12345678901234567890123456789012-123456789012345.-01"));
    assert_false(parses("00-12345678901234567890123456789012-12345678901234567-01"));
    assert_false(parses("00-12345678901234567890123456789012-123456789012345-01"));
    assert_false(parses("00-12345678901234567890123456789012-1234567890ABCDEF-01"));
    assert_false(parses("00-12345678901234567890123456789012-1234567890123456-.0"));
    assert_false(parses("00-12345678901234567890123456789012-1234567890123456-0."));
    assert_false(parses("00-12345678901234567890123456789012-1234567890123456-001"));
    assert_false(parses("00-12345678901234567890123456789012-1234567890123456-1"));
    assert_false(parses("00-12345678901234567890123456789012-1234567890123456-0A"));
    assert_false(parses("00_12345678901234567890123456789012-1234567890123456-01"));
    assert_false(parses(""));
}

static void traceparent_format_roundtrip(void **state)
{
    (void)state;
    struct otus_span_context c;
    assert_int_equal(otus_traceparent_parse(TP, 55, &c), 0);
    char out[56];
    assert_int_equal(otus_traceparent_format(&c, out), 55);
    assert_string_equal(out, TP);
    /* Only the sampled flag is written (level 1: other flags are zero). */
    c.trace_flags = 0xff;
    otus_traceparent_format(&c, out);
    assert_string_equal(out + 53, "01");
    c.trace_flags = 0;
    otus_traceparent_format(&c, out);
    assert_string_equal(out + 53, "00");
}

/* A header carrier built from name/value pairs. */
struct carrier {
    struct otus_header h[64];
    size_t n;
    char store[64][9000];
};

static void set_header(void *arg, const char *name, const char *value, size_t len)
{
    struct carrier *c = arg;
    for (size_t i = 0; i < c->n; i++) {
        if (strcmp(c->h[i].name, name) == 0) {
            memcpy(c->store[i], value, len);
            c->store[i][len] = '\0';
            return;
        }
    }
    c->h[c->n].name = name;
    memcpy(c->store[c->n], value, len);
    c->store[c->n][len] = '\0';
    c->h[c->n].value = c->store[c->n];
    c->n++;
}

static size_t get_header(void *arg, const char *name, const char **v, size_t *l, size_t max)
{
    struct carrier *c = arg;
    struct otus_header_list list = {c->h, c->n};
    return otus_header_list_get(&list, name, v, l, max);
}

static void add(struct carrier *c, const char *name, const char *value)
{
    c->h[c->n].name = name;
    c->h[c->n].value = value;
    c->n++;
}

static int extract(struct carrier *c, struct otus_context *ctx)
{
    return otus_context_extract(ctx, get_header, c);
}

static void extract_cases(void **state)
{
    (void)state;
    static struct carrier c;
    struct otus_context ctx;

    c.n = 0;
    assert_int_equal(extract(&c, &ctx), OTUS_ERR_NOT_FOUND);
    assert_int_equal(ctx.valid, 0);

    /* Header names in any case. */
    c.n = 0;
    add(&c, "TrAcEpArEnT", TP);
    assert_int_equal(extract(&c, &ctx), 0);
    assert_int_equal(ctx.valid, 1);
    assert_int_equal(ctx.span.is_remote, 1);

    /* Wrong names are not traceparent. */
    c.n = 0;
    add(&c, "trace-parent", TP);
    assert_int_equal(extract(&c, &ctx), OTUS_ERR_NOT_FOUND);

    /* Two traceparent headers: restart. */
    c.n = 0;
    add(&c, "traceparent", "00-12345678901234567890123456789011-1234567890123456-01");
    add(&c, "traceparent", TP);
    assert_int_equal(extract(&c, &ctx), OTUS_ERR_PARSE);
    assert_int_equal(ctx.valid, 0);

    /* tracestate without traceparent is ignored. */
    c.n = 0;
    add(&c, "tracestate", "foo=1");
    assert_int_equal(extract(&c, &ctx), OTUS_ERR_NOT_FOUND);
    assert_null(ctx.span.tracestate);

    /* Inherited; several fields combine in order. */
    c.n = 0;
    add(&c, "traceparent", TP);
    add(&c, "tracestate", "foo=1,bar=2");
    add(&c, "TraceState", "rojo=1,congo=2");
    add(&c, "tracestate", "baz=3");
    assert_int_equal(extract(&c, &ctx), 0);
    assert_string_equal(ctx.span.tracestate, "foo=1,bar=2,rojo=1,congo=2,baz=3");
    assert_int_equal(ctx.span.tracestate_len, strlen("foo=1,bar=2,rojo=1,congo=2,baz=3"));

    /* Empty fields are fine. */
    c.n = 0;
    add(&c, "traceparent", TP);
    add(&c, "tracestate", "");
    add(&c, "tracestate", "foo=1");
    assert_int_equal(extract(&c, &ctx), 0);
    assert_string_equal(ctx.span.tracestate, "foo=1");

    /* An invalid tracestate is dropped, the traceparent kept. */
    c.n = 0;
    add(&c, "traceparent", TP);
    add(&c, "tracestate", "foo=1,foo=2");
    assert_int_equal(extract(&c, &ctx), 0);
    assert_int_equal(ctx.valid, 1);
    assert_null(ctx.span.tracestate);
}

static int ts_ok(const char *v, char *out, size_t cap)
{
    const char *f[1] = {v};
    size_t l[1] = {strlen(v)};
    return otus_tracestate_combine(f, l, 1, out, cap);
}

static void tracestate_cases(void **state)
{
    (void)state;
    char out[OTUS_TRACESTATE_MAX + 1];
    char big[2048];

    assert_int_equal(ts_ok("foo=1 \t , \t bar=2, \t baz=3", out, sizeof(out)), 17);
    assert_string_equal(out, "foo=1,bar=2,baz=3");
    assert_true(ts_ok(" foo=1", out, sizeof(out)) > 0);
    assert_true(ts_ok("\t foo=1 \t", out, sizeof(out)) > 0);
    assert_string_equal(out, "foo=1");

    /* All allowed characters. */
    char key[] = "abcdefghijklmnopqrstuvwxyz0123456789_-*/";
    char value[128];
    size_t v = 0;
    for (int c = 0x20; c <= 0x7e; c++)
        if (c != ',' && c != '=')
            value[v++] = (char)c;
    value[v] = '\0';
    snprintf(big, sizeof(big), "%s=%s", key, value);
    assert_true(ts_ok(big, out, sizeof(out)) > 0);
    snprintf(big, sizeof(big), "%s@a-z0-9_-*/=%s", key, value);
    assert_true(ts_ok(big, out, sizeof(out)) > 0);

    /* Invalid keys, vendor formats and values. */
    assert_int_equal(ts_ok("foo =1", out, sizeof(out)), OTUS_ERR_PARSE);
    assert_int_equal(ts_ok("FOO=1", out, sizeof(out)), OTUS_ERR_PARSE);
    assert_int_equal(ts_ok("foo.bar=1", out, sizeof(out)), OTUS_ERR_PARSE);
    assert_int_equal(ts_ok("foo@=1,bar=2", out, sizeof(out)), OTUS_ERR_PARSE);
    assert_int_equal(ts_ok("@foo=1,bar=2", out, sizeof(out)), OTUS_ERR_PARSE);
    assert_int_equal(ts_ok("foo@@bar=1,bar=2", out, sizeof(out)), OTUS_ERR_PARSE);
    assert_int_equal(ts_ok("foo@bar@baz=1,bar=2", out, sizeof(out)), OTUS_ERR_PARSE);
    assert_int_equal(ts_ok("foo=bar=baz", out, sizeof(out)), OTUS_ERR_PARSE);
    assert_int_equal(ts_ok("foo=,bar=3", out, sizeof(out)), OTUS_ERR_PARSE);
    assert_int_equal(ts_ok("foo=1,foo=1", out, sizeof(out)), OTUS_ERR_PARSE);

    /* Key length limits: 256 (simple), tenant 241 and system 14. */
    memset(big, 'z', 256);
    strcpy(big + 256, "=1");
    assert_true(ts_ok(big, out, sizeof(out)) > 0 || strlen(big) > sizeof(out) - 1);
    memset(big, 'z', 257);
    strcpy(big + 257, "=1");
    assert_int_equal(ts_ok(big, out, sizeof(out)), OTUS_ERR_PARSE);
    memset(big, 't', 241);
    big[241] = '@';
    memset(big + 242, 'v', 14);
    strcpy(big + 256, "=1");
    assert_true(ts_ok(big, out, 2048) > 0);
    memset(big, 't', 242);
    strcpy(big + 242, "@v=1");
    assert_int_equal(ts_ok(big, out, sizeof(out)), OTUS_ERR_PARSE);
    strcpy(big, "t@vvvvvvvvvvvvvvv=1");
    assert_int_equal(ts_ok(big, out, sizeof(out)), OTUS_ERR_PARSE);

    /* 32 members are fine, 33 are not. */
    const char *f[4] = {
        "bar01=01,bar02=02,bar03=03,bar04=04,bar05=05,bar06=06,bar07=07,bar08=08,bar09=09,bar10=10",
        "bar11=11,bar12=12,bar13=13,bar14=14,bar15=15,bar16=16,bar17=17,bar18=18,bar19=19,bar20=20",
        "bar21=21,bar22=22,bar23=23,bar24=24,bar25=25,bar26=26,bar27=27,bar28=28,bar29=29,bar30=30",
        "bar31=31,bar32=32"};
    size_t l[4] = {strlen(f[0]), strlen(f[1]), strlen(f[2]), strlen(f[3])};
    assert_true(otus_tracestate_combine(f, l, 4, out, sizeof(out)) > 0);
    f[3] = "bar31=31,bar32=32,bar33=33";
    l[3] = strlen(f[3]);
    assert_int_equal(otus_tracestate_combine(f, l, 4, out, sizeof(out)), OTUS_ERR_PARSE);
}

static void tracestate_truncation(void **state)
{
    (void)state;
    /* Over 512 bytes: members over 128 bytes go first, then members from the end. */
    char in[2048], out[OTUS_TRACESTATE_MAX + 1];
    size_t o = 0;
    o += (size_t)sprintf(in + o, "a=");
    memset(in + o, 'x', 200);
    o += 200;
    for (int i = 0; i < 20; i++)
        o += (size_t)sprintf(in + o, ",k%02d=%s", i, "vvvvvvvvvvvvvvvvvvvv");
    in[o] = '\0';
    int n = ts_ok(in, out, sizeof(out));
    assert_true(n > 0 && n <= 512);
    assert_null(strstr(out, "a=xxx"));
    assert_non_null(strstr(out, "k00="));
    assert_non_null(strstr(out, "k19=")); /* 20 * 25 = 500 bytes fit once "a" is gone */
}

static void inject_roundtrip(void **state)
{
    (void)state;
    static struct carrier in, out;
    struct otus_context ctx;
    in.n = 0;
    add(&in, "traceparent", TP);
    add(&in, "tracestate", "congo=t61rcWkgMzE");
    assert_int_equal(extract(&in, &ctx), 0);
    out.n = 0;
    assert_int_equal(otus_context_inject(&ctx.span, set_header, &out), 0);
    assert_int_equal(out.n, 2);
    assert_string_equal(out.h[0].name, "traceparent");
    assert_string_equal(out.h[0].value, TP);
    assert_string_equal(out.h[1].name, "tracestate");
    assert_string_equal(out.h[1].value, "congo=t61rcWkgMzE");

    /* A child span continues the trace with a new parent-id and the same tracestate. */
    lib_start(NULL);
    struct otus_span_opts o;
    memset(&o, 0, sizeof(o));
    o.parent = &ctx.span;
    struct otus_span sp;
    otus_span_start(&sp, "child", OTUS_SPAN_SERVER, &o);
    out.n = 0;
    assert_int_equal(otus_context_inject(NULL, set_header, &out), 0);
    assert_memory_equal(out.h[0].value, "00-12345678901234567890123456789012-", 36);
    assert_memory_not_equal(out.h[0].value + 36, "1234567890123456", 16);
    assert_string_equal(out.h[0].value + 52, "-01");
    assert_string_equal(out.h[1].value, "congo=t61rcWkgMzE");
    otus_span_end(&sp);
    trace_free(spans_drain(NULL));
    lib_stop();

    /* An invalid context injects nothing. */
    struct otus_span_context zero;
    memset(&zero, 0, sizeof(zero));
    out.n = 0;
    assert_int_equal(otus_context_inject(&zero, set_header, &out), OTUS_ERR_INVALID);
    assert_int_equal(out.n, 0);
}

static void baggage(void **state)
{
    (void)state;
    static struct otus_baggage b;
    static struct carrier c;
    otus_baggage_init(&b);
    const char *hdr =
        "key1=value1;property1;property2, key2 = value2, key3=value3; propertyKey=propertyValue";
    assert_int_equal(otus_baggage_parse(&b, hdr, strlen(hdr)), 0);
    assert_int_equal(b.n, 3);
    size_t len;
    const char *v = otus_baggage_get(&b, "key2", &len);
    assert_non_null(v);
    assert_int_equal(len, 6);
    assert_memory_equal(v, "value2", 6);

    /* Values are percent-decoded; the same key later replaces the earlier one. */
    otus_baggage_init(&b);
    const char *h2 = "userId=alice,serverNode=DF%2028,isProduction=false,userId=bob";
    assert_int_equal(otus_baggage_parse(&b, h2, strlen(h2)), 0);
    v = otus_baggage_get(&b, "serverNode", &len);
    assert_int_equal(len, 5);
    assert_memory_equal(v, "DF 28", 5);
    v = otus_baggage_get(&b, "userId", &len);
    assert_memory_equal(v, "bob", 3);

    /* Invalid members are skipped, the rest kept. */
    otus_baggage_init(&b);
    const char *h3 = "good=1,bad key=2,=3,novalue,also=\"q\",ok=yes";
    assert_int_equal(otus_baggage_parse(&b, h3, strlen(h3)), OTUS_ERR_PARSE);
    assert_int_equal(b.n, 2);
    assert_non_null(otus_baggage_get(&b, "ok", NULL));

    /* set / remove / inject with percent-encoding. */
    otus_baggage_init(&b);
    assert_int_equal(otus_baggage_set(&b, "user", "a b,c;d\xc3\xa9%", NULL), 0);
    assert_int_equal(otus_baggage_set(&b, "tier", "gold", "ttl=60;flag"), 0);
    assert_int_equal(otus_baggage_set(&b, "bad key", "x", NULL), OTUS_ERR_INVALID);
    assert_int_equal(otus_baggage_set(&b, "k", "v", "=x"), OTUS_ERR_INVALID);
    c.n = 0;
    assert_int_equal(otus_baggage_inject(&b, set_header, &c), 0);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.h[0].value, "user=a%20b%2Cc%3Bd%C3%A9%25,tier=gold;ttl=60;flag");
    /* ... and back. */
    static struct otus_baggage b2;
    otus_baggage_init(&b2);
    assert_int_equal(otus_baggage_extract(&b2, get_header, &c), 0);
    v = otus_baggage_get(&b2, "user", &len);
    assert_int_equal(len, strlen("a b,c;d\xc3\xa9%"));
    assert_memory_equal(v, "a b,c;d\xc3\xa9%", len);
    assert_int_equal(otus_baggage_remove(&b2, "user"), 0);
    assert_int_equal(otus_baggage_remove(&b2, "user"), OTUS_ERR_NOT_FOUND);
    v = otus_baggage_get(&b2, "tier", &len);
    assert_memory_equal(v, "gold", 4);
    assert_int_equal(b2.n, 1);

    /* At most 180 members. */
    otus_baggage_init(&b);
    char many[4096];
    size_t o = 0;
    for (int i = 0; i < 200; i++)
        o += (size_t)sprintf(many + o, "%sk%d=v", i ? "," : "", i);
    assert_int_equal(otus_baggage_parse(&b, many, o), OTUS_ERR_PARSE);
    assert_int_equal(b.n, OTUS_BAGGAGE_MAX_MEMBERS);
}

static void propagators_follow_config(void **state)
{
    (void)state;
    static struct carrier in, out;
    static struct otus_baggage bag;
    struct otus_context ctx;
    in.n = 0;
    add(&in, "traceparent", TP);
    add(&in, "baggage", "a=1");
    struct otus_sdk_config cfg;
    otus_sdk_config_init(&cfg);
    cfg.propagators = OTUS_PROPAGATOR_BAGGAGE;
    lib_start(&cfg);
    otus_baggage_init(&bag);
    assert_int_equal(otus_propagators_extract(&ctx, &bag, get_header, &in), OTUS_ERR_NOT_FOUND);
    assert_int_equal(ctx.valid, 0);
    assert_int_equal(bag.n, 1);
    lib_stop();

    otus_sdk_config_init(&cfg);
    lib_start(&cfg);
    otus_baggage_init(&bag);
    assert_int_equal(otus_propagators_extract(&ctx, &bag, get_header, &in), 0);
    assert_int_equal(ctx.valid, 1);
    assert_int_equal(bag.n, 1);
    struct otus_span sp;
    struct otus_span_opts o;
    memset(&o, 0, sizeof(o));
    o.parent = &ctx.span;
    otus_span_start(&sp, "s", OTUS_SPAN_SERVER, &o);
    out.n = 0;
    otus_propagators_inject(&sp, &bag, set_header, &out);
    assert_int_equal(out.n, 2);
    assert_string_equal(out.h[1].name, "baggage");
    assert_string_equal(out.h[1].value, "a=1");
    otus_span_end(&sp);
    trace_free(spans_drain(NULL));
    lib_stop();
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(traceparent_valid),
        cmocka_unit_test(traceparent_versions),
        cmocka_unit_test(traceparent_ids_and_flags),
        cmocka_unit_test(traceparent_format_roundtrip),
        cmocka_unit_test(extract_cases),
        cmocka_unit_test(tracestate_cases),
        cmocka_unit_test(tracestate_truncation),
        cmocka_unit_test(inject_roundtrip),
        cmocka_unit_test(baggage),
        cmocka_unit_test(propagators_follow_config),
    };
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
