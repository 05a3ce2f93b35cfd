// Sends spans, log records and metrics through the OpenTelemetry JavaScript SDK to an
// OTLP/HTTP endpoint, then prints one JSON manifest of exactly what it recorded, so the
// test can compare it with what otus-agent delivered.
//
//   node otel_js_send.js http://127.0.0.1:4318 proto|json
'use strict';

const api = require('@opentelemetry/api');
const { SeverityNumber } = require('@opentelemetry/api-logs');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { TracerProvider, SimpleSpanProcessor } = require('@opentelemetry/sdk-trace');
const { LoggerProvider, SimpleLogRecordProcessor } = require('@opentelemetry/sdk-logs');
const { MeterProvider, PeriodicExportingMetricReader } = require('@opentelemetry/sdk-metrics');

const endpoint = process.argv[2];
const mode = process.argv[3] || 'proto';
const pkg = mode === 'json' ? 'http' : 'proto';
const { OTLPTraceExporter } = require(`@opentelemetry/exporter-trace-otlp-${pkg}`);
const { OTLPLogExporter } = require(`@opentelemetry/exporter-logs-otlp-${pkg}`);
const { OTLPMetricExporter } = require(`@opentelemetry/exporter-metrics-otlp-${pkg}`);

const resource = resourceFromAttributes({
  'service.name': `js-interop-${mode}`,
  'service.version': '3.1.4',
  'service.instance.id': 'instance-7',
  'deployment.environment': 'test',
});

const hrNanos = (t) => (BigInt(t[0]) * 1000000000n + BigInt(t[1])).toString();

// Wraps an exporter so every export result is checked: a failed export is reported.
const failures = [];
function checked(exporter, what) {
  const original = exporter.export.bind(exporter);
  exporter.export = (items, done) => original(items, (result) => {
    if (result.code !== 0) failures.push(`${what}: ${result.error}`);
    done(result);
  });
  return exporter;
}

async function main() {
  const traceExporter = checked(new OTLPTraceExporter({ url: `${endpoint}/v1/traces` }), 'traces');
  const tp = new TracerProvider({ resource, spanProcessors: [new SimpleSpanProcessor({ exporter: traceExporter })] });
  const tracer = tp.getTracer('interop.tracer', '1.2.3');

  const logExporter = checked(new OTLPLogExporter({ url: `${endpoint}/v1/logs` }), 'logs');
  const lp = new LoggerProvider({ resource, processors: [new SimpleLogRecordProcessor({ exporter: logExporter })] });
  const logger = lp.getLogger('interop.logger', '0.9');

  const metricExporter = checked(new OTLPMetricExporter({ url: `${endpoint}/v1/metrics` }), 'metrics');
  const reader = new PeriodicExportingMetricReader({ exporter: metricExporter, exportIntervalMillis: 600000 });
  const mp = new MeterProvider({ resource, readers: [reader] });
  const meter = mp.getMeter('interop.meter', '2.0');

  const manifest = { mode, spans: [], logs: [], metrics: {} };

  // Spans: a server span with a client child carrying an event, a link and an error.
  const other = tracer.startSpan('linked op');
  other.end();
  const parent = tracer.startSpan('GET /orders', {
    kind: api.SpanKind.SERVER,
    attributes: {
      'http.request.method': 'GET', 'http.response.status_code': 200, 'ratio': 0.75,
      'cached': false, 'tags': ['a', 'b'], 'codes': [1, 2, 3],
    },
  });
  const ctx = api.trace.setSpan(api.context.active(), parent);
  const child = tracer.startSpan('SELECT orders', {
    kind: api.SpanKind.CLIENT,
    attributes: { 'db.system.name': 'postgresql' },
    links: [{ context: other.spanContext(), attributes: { 'link.reason': 'retry' } }],
  }, ctx);
  child.addEvent('retry', { attempt: 2 });
  child.setStatus({ code: api.SpanStatusCode.ERROR, message: 'upstream failed' });
  const childCtx = api.trace.setSpan(api.context.active(), child);
  logger.emit({
    severityNumber: SeverityNumber.WARN, severityText: 'WARN', body: 'query slow',
    attributes: { 'db.rows': 12, 'query.ms': 41.5 }, context: childCtx,
  });
  logger.emit({
    severityNumber: SeverityNumber.INFO, severityText: 'INFO',
    body: { event: 'checkout', items: 3 }, attributes: { 'user.id': 'u-1' },
  });
  child.end();
  parent.end();

  for (const s of [other, parent, child]) {
    manifest.spans.push({
      trace_id: s.spanContext().traceId,
      span_id: s.spanContext().spanId,
      parent_span_id: s.parentSpanContext ? s.parentSpanContext.spanId : '',
      name: s.name,
      kind: s.kind,
      start: hrNanos(s.startTime),
      end: hrNanos(s.endTime),
      attributes: s.attributes,
      events: s.events.map((e) => ({ name: e.name, time: hrNanos(e.time), attributes: e.attributes })),
      links: s.links.map((l) => ({ trace_id: l.context.traceId, span_id: l.context.spanId, attributes: l.attributes })),
      status: s.status,
    });
  }
  manifest.logs.push({ body: 'query slow', trace_id: child.spanContext().traceId, span_id: child.spanContext().spanId });
  manifest.logs.push({ body: { event: 'checkout', items: 3 } });

  // Metrics: a counter on two attribute sets, a histogram, an up-down counter, a gauge.
  const counter = meter.createCounter('interop.requests', { unit: '{request}', description: 'Requests' });
  counter.add(5, { route: '/a' });
  counter.add(2, { route: '/b' });
  counter.add(1, { route: '/a' });
  const hist = meter.createHistogram('interop.latency', { unit: 's' });
  for (const v of [0.2, 1.7, 0.004]) hist.record(v, { route: '/a' });
  const updown = meter.createUpDownCounter('interop.queue');
  updown.add(10);
  updown.add(-3);
  const gauge = meter.createGauge('interop.temperature', { unit: 'Cel' });
  gauge.record(21.5, { room: 'lab' });
  manifest.metrics = {
    counter: { '/a': 6, '/b': 2 }, histogram: { count: 3, sum: 0.2 + 1.7 + 0.004 },
    updown: 7, gauge: 21.5,
  };

  await tp.forceFlush();
  await lp.forceFlush();
  await mp.forceFlush();
  await Promise.all([tp.shutdown(), lp.shutdown(), mp.shutdown()]);
  manifest.failures = failures;
  process.stdout.write(JSON.stringify(manifest) + '\n');
}

main().catch((e) => {
  process.stderr.write(String(e && e.stack ? e.stack : e) + '\n');
  process.exit(1);
});
