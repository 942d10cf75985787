// Fan-out clients for the benchmark runner (socket.io-client 4.8 from the repo's node_modules).
//
// Usage: node benchmarks/fanout_client.mjs CONFIG.json
// CONFIG: {url, tokens[N], chatId, sendUrl, senderToken, messages, warmup, timeoutMs,
//          connectBatch}
// Connects N sockets with auth {token} (websocket transport), joins each to the chat with
// emit('join-chat-room', chatId, ack), then sends `warmup + messages` messages over REST one
// at a time. For each, the sample is the time from just before the REST call to the moment
// the last of the N sockets got its `new-message`. Prints one line "BENCH_JSON {...}".

import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { io } from "socket.io-client";

const config = JSON.parse(readFileSync(process.argv[2], "utf8"));
const timeoutMs = config.timeoutMs ?? 5000;

function withTimeout(promise, ms, what) {
  let timer;
  const guard = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, guard]).finally(() => clearTimeout(timer));
}

function connectOne(token) {
  const socket = io(config.url, {
    auth: { token },
    transports: ["websocket"],
    forceNew: true,
    reconnection: false,
    timeout: timeoutMs,
  });
  return new Promise((resolve, reject) => {
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", (err) => {
      socket.close();
      reject(err);
    });
  });
}

async function connectAll(tokens) {
  const sockets = [];
  const batch = config.connectBatch ?? 50;
  for (let i = 0; i < tokens.length; i += batch) {
    const group = tokens.slice(i, i + batch).map(connectOne);
    sockets.push(...(await Promise.all(group)));
  }
  return sockets;
}

function joinAll(sockets) {
  return Promise.all(
    sockets.map(
      (socket) =>
        new Promise((resolve, reject) => {
          socket.timeout(timeoutMs).emit("join-chat-room", config.chatId, (err, ack) => {
            if (err || !ack || ack.success !== true) {
              reject(new Error(`join refused: ${JSON.stringify(err ?? ack)}`));
            } else {
              resolve();
            }
          });
        }),
    ),
  );
}

function armReceivers(sockets, marker) {
  let remaining = sockets.length;
  let finish;
  const allIn = new Promise((resolve) => {
    finish = resolve;
  });
  const handlers = sockets.map((socket) => {
    const handler = (payload) => {
      if (payload?.message?.content !== marker) return;
      socket.off("new-message", handler);
      remaining -= 1;
      if (remaining === 0) finish(performance.now());
    };
    socket.on("new-message", handler);
    return handler;
  });
  const disarm = () => sockets.forEach((s, i) => s.off("new-message", handlers[i]));
  return { allIn, disarm, missing: () => remaining };
}

async function sendOne(sockets, index, tally) {
  const marker = `fan-out ${process.pid} ${index}`;
  const receivers = armReceivers(sockets, marker);
  const started = performance.now();
  let response;
  try {
    response = await fetch(config.sendUrl, {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        Authorization: `Bearer ${config.senderToken}`,
      },
      body: JSON.stringify({ content: marker }),
    });
    await response.arrayBuffer();
  } catch {
    tally.statuses.error = (tally.statuses.error ?? 0) + 1;
    receivers.disarm();
    return null;
  }
  const restMs = performance.now() - started;
  tally.statuses[response.status] = (tally.statuses[response.status] ?? 0) + 1;
  if (!response.ok) {
    receivers.disarm();
    return null;
  }
  try {
    const last = await withTimeout(receivers.allIn, timeoutMs, "delivery");
    return { lastMs: last - started, restMs };
  } catch {
    tally.missed += receivers.missing();
    receivers.disarm();
    return null;
  }
}

async function main() {
  const tally = { statuses: {}, missed: 0 };
  const result = { n: config.tokens.length, samples_ms: [], rest_ms: [], tally };
  const begin = performance.now();
  const sockets = await withTimeout(connectAll(config.tokens), 60000, "connect");
  result.connected = sockets.length;
  await withTimeout(joinAll(sockets), 60000, "join");
  result.connect_ms = performance.now() - begin;
  const total = (config.warmup ?? 0) + config.messages;
  for (let i = 0; i < total; i += 1) {
    const sample = await sendOne(sockets, i, tally);
    if (sample && i >= (config.warmup ?? 0)) {
      result.samples_ms.push(sample.lastMs);
      result.rest_ms.push(sample.restMs);
    }
  }
  sockets.forEach((socket) => socket.close());
  process.stdout.write(`BENCH_JSON ${JSON.stringify(result)}\n`);
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`fan-out client failed: ${err?.stack ?? err}\n`);
    process.exit(1);
  },
);
