// The WebSocket view's charts: which lines each one draws, and the series of /websocket/series points as
// [[iso time, value]...] per line key.

export const CHARTS = [
  {
    id: 'messages',
    title: 'Messages/s (log scale)',
    logScale: true,
    lines: [
      { name: 'Sent', key: 'sent' },
      { name: 'Received', key: 'received' },
      { name: 'Sent + received', key: 'messages' },
      { name: 'Rate target (msg/s)', key: 'rateTargetMessages' },
      { name: 'Target 50K', key: 'target' },
      { name: 'Stretch 200K', key: 'stretch' },
    ],
    colors: ['#00ca5a', '#0099ff', '#15803d', '#ff9f00', '#9966cc', '#ff6d6d'],
  },
  {
    id: 'calls',
    title: 'Calls/s by outcome',
    lines: [
      { name: 'OK', key: 'ok' },
      { name: 'Failed', key: 'failed' },
      { name: 'Timeout', key: 'timeout' },
      { name: 'Lost', key: 'lost' },
    ],
    colors: ['#00ca5a', '#ff6d6d', '#ff9f00', '#8e4585'],
  },
  {
    id: 'connections',
    title: 'Connections',
    lines: [
      { name: 'Open', key: 'open' },
      { name: 'Reconnects (total)', key: 'reconnects' },
      { name: 'Connect failures (total)', key: 'connectFailures' },
    ],
    colors: ['#0099ff', '#ff9f00', '#ff6d6d'],
  },
  {
    id: 'inflight',
    title: 'Calls in flight',
    lines: [{ name: 'In flight', key: 'inFlight' }],
    colors: ['#9966cc'],
  },
  {
    id: 'latency',
    title: 'Call latency (ms)',
    lines: [
      { name: 'p50', key: 'p50' },
      { name: 'p99', key: 'p99' },
    ],
    colors: ['#ff9f00', '#8a2be2'],
  },
];

const VALUES = {
  sent: (p) => p.messages_sent_per_s,
  received: (p) => p.messages_received_per_s,
  messages: (p) => p.messages_sent_per_s + p.messages_received_per_s,
  rateTargetMessages: (p) => 2 * p.rate_target,
  target: (p, targets) => targets.messages_per_s,
  stretch: (p, targets) => targets.stretch_messages_per_s,
  ok: (p) => p.calls_ok_per_s,
  failed: (p) => p.calls_failed_per_s,
  timeout: (p) => p.calls_timeout_per_s,
  lost: (p) => p.calls_lost_per_s,
  open: (p) => p.connections_open,
  reconnects: (p) => p.reconnects,
  connectFailures: (p) => p.connect_failures,
  inFlight: (p) => p.calls_in_flight,
  p50: (p) => p.p50_ms,
  p99: (p) => p.p99_ms,
};

const round = (value) => (value === null || value === undefined ? null : Math.round(value * 100) / 100);

export function chartData(points, startedAt, targets) {
  const time = points.map((p) => new Date((startedAt + p.t) * 1000).toISOString());
  const data = { time };
  for (const [key, value] of Object.entries(VALUES)) {
    data[key] = points.map((p, i) => [time[i], round(value(p, targets))]);
  }
  return data;
}

export const formatNumber = (value, digits = 0) =>
  value === null || value === undefined
    ? '–'
    : Number(value).toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

export const share = (value, target) => (target > 0 ? `${Math.round((100 * value) / target)}%` : 'n/a');
