// The figures beside the charts: live ones from the last point, final totals and mean rates after the run.
import { formatNumber, share } from './charts';

const milliseconds = (value) => formatNumber(value, value !== null && value < 10 ? 2 : 0);

export function liveRows(point, series) {
  const calls = point.calls_ok_per_s + point.calls_failed_per_s + point.calls_timeout_per_s + point.calls_lost_per_s;
  const messages = point.messages_sent_per_s + point.messages_received_per_s;
  const { targets } = series;
  const rate = point.rate_target;
  return [
    ['calls_per_s', 'Calls/s', formatNumber(calls)],
    ['messages_per_s', 'Messages/s (sent + received)', formatNumber(messages)],
    ['of_target', 'Of target / stretch', `${share(messages, targets.messages_per_s)} / ${share(messages, targets.stretch_messages_per_s)}`],
    ['rate_target', 'Rate target (calls/s)', rate ? `${formatNumber(rate)} (about ${formatNumber(2 * rate)} msg/s)` : 'closed loop'],
    ['connections_open', 'Connections open', formatNumber(point.connections_open)],
    ['calls_in_flight', 'Calls in flight', formatNumber(point.calls_in_flight)],
    ['latency', 'Call latency p50 / p99 (ms)', `${milliseconds(point.p50_ms)} / ${milliseconds(point.p99_ms)}`],
    ['reconnects', 'Reconnects / connect failures', `${formatNumber(point.reconnects)} / ${formatNumber(point.connect_failures)}`],
  ];
}

const TOTALS = [
  ['calls_sent', 'Calls sent'],
  ['calls_ok', 'Calls ok'],
  ['calls_failed', 'Calls failed'],
  ['calls_timeout', 'Calls timed out'],
  ['calls_lost', 'Calls lost'],
  ['calls_in_flight', 'Calls still in flight'],
  ['messages_sent', 'Messages sent'],
  ['messages_received', 'Messages received'],
  ['connects', 'Connects'],
  ['reconnects', 'Reconnects'],
  ['connect_failures', 'Connect failures'],
  ['connections_open', 'Connections open'],
  ['calls_sent_late', 'Calls sent late (rate mode)'],
  ['calls_skipped', 'Calls skipped (rate mode)'],
];

export function finalRows(final, targets) {
  return [
    ['duration_s', 'Duration (s)', formatNumber(final.duration_s, 1)],
    ['mean_calls_per_s', 'Mean calls/s', formatNumber(final.calls_per_s)],
    ['mean_messages_per_s', 'Mean messages/s', formatNumber(final.messages_per_s)],
    ['mean_of_target', 'Mean of target / stretch', `${share(final.messages_per_s, targets.messages_per_s)} / ${share(final.messages_per_s, targets.stretch_messages_per_s)}`],
    ...TOTALS.map(([key, label]) => [key, label, formatNumber(final.totals[key])]),
  ];
}
