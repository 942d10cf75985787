#!/usr/bin/env node
// Two frontends under test at once, each in its own sandbox, as two parallel test workers
// would run them: two browser contexts (two pages, no shared storage) on the server's
// allowed origin, each creating its users with `X-Chat-Sandbox: <its name>` (so the CORS
// preflight must allow that header), opening a socket.io-client connection with its
// token, and sending messages at the same time as the other. Each page records the
// events its socket received, the history and replayed events it can list, and what its
// token gets for the other page's chat. The outcome goes to OUT_DIR/sandboxes.json.
//
// Usage: node tests/browser/sandboxes.mjs BASE_URL OUT_DIR
// Environment: CHROMIUM_PATH (default /usr/bin/chromium).
// Exit codes: 0 every check passed; 1 a check failed; 2 misuse or the browser failed.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { argv, env, exit, stderr, stdout } from 'node:process';

import { chromium } from 'playwright-core';

import { SOCKET_IO_BUNDLE, chromiumFlags } from './chromium.mjs';

const CHROMIUM_FLAGS = chromiumFlags(['localhost']);
const MESSAGES = 3;

// Runs inside a page: one worker's world, from users to replayed events.
async function world({ api, sandbox, word, count }) {
  const json = (r) => r.json();
  const dev = (path, body) =>
    fetch(`${api}/api/dev/${path}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Chat-Sandbox': sandbox },
      body: JSON.stringify(body),
    }).then(json);
  const call = (token, method, path, body) =>
    fetch(`${api}${path}`, {
      method,
      headers: {
        Authorization: `Bearer ${token}`,
        ...(body ? { 'Content-Type': 'application/json' } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
    });
  const sender = (await dev('users', { name: `${word} sender` })).data;
  const reader = (await dev('users', { name: `${word} reader` })).data;
  const created = await call(sender.token, 'POST', '/api/chat', {
    participantIds: [reader.user._id],
  }).then(json);
  const chatId = created.data.chat._id;

  const received = [];
  let allArrived;
  const arrived = new Promise((resolve) => {
    allArrived = resolve;
  });
  // eslint-disable-next-line no-undef
  const socket = io(api, { auth: { token: reader.token }, transports: ['websocket'], reconnection: false });
  socket.onAny((event, payload) => {
    received.push({ event, chatId: payload && payload.chatId, content: payload?.message?.content ?? null });
    if (received.filter((r) => r.event === 'new-message').length === count) allArrived();
  });
  await new Promise((resolve, reject) => {
    socket.on('connect', resolve);
    socket.on('connect_error', (error) => reject(new Error(error.message)));
  });
  const joined = await new Promise((resolve) => socket.emit('join-chat-room', chatId, resolve));
  for (let i = 0; i < count; i += 1) {
    await call(sender.token, 'POST', `/api/chat/${chatId}/messages`, { content: `${word} ${i}` });
  }
  await Promise.race([arrived, new Promise((resolve) => setTimeout(resolve, 10000))]);
  const history = await call(reader.token, 'GET', `/api/chat/${chatId}/messages`).then(json);
  const replay = await call(reader.token, 'GET', `/api/chat/${chatId}/events`).then(json);
  const chats = await call(reader.token, 'GET', '/api/chat').then(json);
  socket.disconnect();
  return {
    sandbox,
    chatId,
    token: reader.token,
    joined,
    received,
    history: history.data.messages.map((m) => m.content),
    replayed: replay.data.events.map((e) => e.payload.message && e.payload.message.content),
    chats: chats.data.chats.map((c) => c._id),
  };
}

async function peek({ api, token, chatId }) {
  const response = await fetch(`${api}/api/chat/${chatId}/messages`, {
    headers: { Authorization: `Bearer ${token}` },
  });
  return response.status;
}

async function main() {
  const [api, outDir] = argv.slice(2);
  if (!api || !outDir) {
    stderr.write('usage: sandboxes.mjs BASE_URL OUT_DIR\n');
    return 2;
  }
  const browser = await chromium.launch({
    executablePath: env.CHROMIUM_PATH || '/usr/bin/chromium',
    args: CHROMIUM_FLAGS,
  });
  const origin = `http://localhost:${new URL(api).port}`;
  let report;
  try {
    const workers = [
      { sandbox: 'worker-1', word: 'apple' },
      { sandbox: 'worker-2', word: 'pear' },
    ];
    const pages = [];
    for (const worker of workers) {
      // A context per worker: nothing shared between the two pages but the server.
      const context = await browser.newContext({ bypassCSP: true });
      const page = await context.newPage();
      await page.goto(`${origin}/`);
      await page.addScriptTag({ path: SOCKET_IO_BUNDLE });
      pages.push(page);
    }
    const worlds = await Promise.all(
      pages.map((page, i) => page.evaluate(world, { api, ...workers[i], count: MESSAGES })),
    );
    const crossed = [
      await pages[0].evaluate(peek, { api, token: worlds[0].token, chatId: worlds[1].chatId }),
      await pages[1].evaluate(peek, { api, token: worlds[1].token, chatId: worlds[0].chatId }),
    ];
    report = { worlds, crossed };
  } finally {
    await browser.close();
  }
  await writeFile(join(outDir, 'sandboxes.json'), JSON.stringify(report, null, 2));
  const failures = [];
  report.worlds.forEach((w, i) => {
    const word = i === 0 ? 'apple' : 'pear';
    const mine = Array.from({ length: MESSAGES }, (_, n) => `${word} ${n}`);
    const heard = w.received.filter((r) => r.event === 'new-message').map((r) => r.content);
    if (!w.joined || !w.joined.success) failures.push(`${w.sandbox}: join refused`);
    if (JSON.stringify(heard) !== JSON.stringify(mine)) failures.push(`${w.sandbox} heard ${heard}`);
    if (w.received.some((r) => r.chatId !== w.chatId)) failures.push(`${w.sandbox}: foreign event`);
    if (JSON.stringify(w.history) !== JSON.stringify([...mine].reverse())) failures.push(`${w.sandbox} history ${w.history}`);
    if (JSON.stringify(w.replayed) !== JSON.stringify(mine)) failures.push(`${w.sandbox} replay ${w.replayed}`);
    if (JSON.stringify(w.chats) !== JSON.stringify([w.chatId])) failures.push(`${w.sandbox} chats ${w.chats}`);
  });
  if (report.crossed.some((status) => status !== 404)) failures.push(`crossed: ${report.crossed}`);
  stdout.write(`${JSON.stringify(report.crossed)}\n`);
  for (const failure of failures) stderr.write(`FAIL ${failure}\n`);
  return failures.length ? 1 : 0;
}

main().then(
  (code) => exit(code),
  (error) => {
    stderr.write(`${error && error.stack ? error.stack : error}\n`);
    exit(2);
  },
);
