// k6 closed loop for bench.bench_native: BENCH_VUS connections, one echo call in flight on each, answers matched by request_id.
//
//   BENCH_URL=ws://127.0.0.1:PORT/ BENCH_TOKEN=<JWT> BENCH_VUS=50 BENCH_DURATION_S=10 BENCH_SUMMARY=/tmp/k6.json \
//     k6 run --no-usage-report --quiet bench/k6_closed_loop.js
//
// Each VU opens one WebSocket (k6/experimental/websockets), says hello, then sends one call_tool at a time: an answer whose
// request_id is not the call in flight is counted as unknown and not taken for it. After BENCH_DURATION_S the VU
// sends no more calls and closes once its last call is answered. Counts are kept per VU and added to k6 metrics
// once at the end (no per-call metric samples of our own; k6's built-in ws_msgs_* still count every message).
// The token comes from the environment, never argv. The summary (counts only) goes to BENCH_SUMMARY as JSON.
import { WebSocket } from "k6/experimental/websockets";
import { Counter } from "k6/metrics";

const callsOk = new Counter("bench_calls_ok");
const callsFailed = new Counter("bench_calls_failed");
const unknownIds = new Counter("bench_unknown_request_ids");
const helloRefused = new Counter("bench_hello_refused");

const VUS = parseInt(__ENV.BENCH_VUS || "50", 10);
const DURATION_S = parseFloat(__ENV.BENCH_DURATION_S || "10");

export const options = {
  scenarios: {
    closed: {
      executor: "per-vu-iterations",
      vus: VUS,
      iterations: 1,
      maxDuration: `${Math.ceil(DURATION_S) + 30}s`,
    },
  },
  summaryTrendStats: ["avg"],
};

export default function () {
  const ws = new WebSocket(__ENV.BENCH_URL);
  let nextId = 0;
  let pending = null;
  let stopping = false;
  let ok = 0;
  let failed = 0;
  let unknown = 0;

  const sendCall = () => {
    nextId += 1;
    pending = String(nextId);
    ws.send(JSON.stringify({ op: "call_tool", request_id: pending, name: "echo", arguments: {} }));
  };
  const finish = () => {
    callsOk.add(ok);
    callsFailed.add(failed);
    unknownIds.add(unknown);
    ws.close();
  };

  ws.onopen = () => {
    ws.send(JSON.stringify({ op: "hello", session_id: `k6-${__VU}`, token: __ENV.BENCH_TOKEN }));
  };
  ws.onmessage = (event) => {
    const msg = JSON.parse(event.data);
    if (msg.op === "tool_result") {
      if (msg.request_id !== pending) {
        unknown += 1;
        return;
      }
      pending = null;
      if (msg.ok === true) ok += 1;
      else failed += 1;
      if (stopping) finish();
      else sendCall();
    } else if (msg.op === "hello_ok") {
      sendCall();
      setTimeout(() => {
        stopping = true;
        if (pending === null) finish();
      }, DURATION_S * 1000);
    } else {
      helloRefused.add(1);
      finish();
    }
  };
  ws.onerror = (event) => {
    console.error(`ws error: ${event.error}`);
  };
}

export function handleSummary(data) {
  const count = (name) => (data.metrics[name] ? data.metrics[name].values.count : 0);
  const summary = {
    calls_ok: count("bench_calls_ok"),
    calls_failed: count("bench_calls_failed"),
    unknown_request_ids: count("bench_unknown_request_ids"),
    hello_refused: count("bench_hello_refused"),
    ws_msgs_sent: count("ws_msgs_sent"),
    ws_msgs_received: count("ws_msgs_received"),
  };
  return { [__ENV.BENCH_SUMMARY || "/dev/stdout"]: JSON.stringify(summary) + "\n" };
}
