#!/usr/bin/env node
// A frontend's page under test, taken out of this server's edge:
//   sockets  a real page (socket.io-client in Chromium) joins a chat, types, sends a payload
//            asyncapi.yaml refuses, and hears a message; the script then asserts through
//            the journal (`GET /api/dev/requests?kind=socket`) what the page emitted, with
//            its acks and the violation, and what each user received
//   record   the chat page (served from the server's origin) opens a chat, sends, lists the
//            history; the sandbox's session is exported as HAR (GET /api/dev/requests.har),
//            checked against the HAR 1.2 schema (npm har-validator), and saved with what
//            the page rendered
//   replay   with the server stopped, the same page runs again, every API call answered by
//            Playwright's `page.routeFromHAR` from that file (anything else aborted)
// Outcomes go to OUT_DIR/<mode>.json.
//
// Usage: node tests/browser/frontend_bridge.mjs sockets|record|replay BASE_URL OUT_DIR
// Environment: CHROMIUM_PATH (default /usr/bin/chromium).
// Exit codes: 0 every check passed; 1 a check failed; 2 misuse or the browser failed.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { argv, env, exit, stderr } from 'node:process';

import validate from 'har-validator';
import { chromium } from 'playwright-core';

import { SOCKET_IO_BUNDLE, chromiumFlags } from './chromium.mjs';

const APP_PAGE = '/app/chat.html';
// The frontend under test: the page's own code, the same in record and replay.
const APP_HTML = `<!doctype html><html><head><title>chat</title></head><body><ul id="history"></ul>
<script>
async function chatScreen({ api, token, sellerId }) {
  const call = async (method, path, body) => {
    const response = await fetch(api + path, {
      method,
      headers: { Authorization: 'Bearer ' + token, ...(body ? { 'Content-Type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: response.status, body: await response.json() };
  };
  const opened = await call('POST', '/api/chat', { participantIds: [sellerId] });
  const chatId = opened.body.data.chat._id;
  const sent = await call('POST', '/api/chat/' + chatId + '/messages', { content: 'Is it still for sale?' });
  const history = await call('GET', '/api/chat/' + chatId + '/messages');
  for (const message of history.body.data.messages) {
    const item = document.createElement('li');
    item.textContent = message.content;
    document.getElementById('history').appendChild(item);
  }
  return { statuses: [opened.status, sent.status, history.status], chatId, shown: document.getElementById('history').innerText };
}
</script></body></html>`;

async function dev(api, sandbox, path, body) {
  const response = await fetch(`${api}/api/dev/${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Chat-Sandbox': sandbox },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
  return response.json();
}

async function openPage(browser, api) {
  const page = await (await browser.newContext()).newPage();
  // the app's document comes from the test, at the server's origin, in both runs
  await page.route(`${api}${APP_PAGE}`, (route) =>
    route.fulfill({ status: 200, contentType: 'text/html', body: APP_HTML }),
  );
  return page;
}

// Runs inside the page: two users' sockets, the buyer's page emitting what a chat UI does.
async function socketFlow({ api, buyer, seller, chatId }) {
  const connect = (token) =>
    new Promise((resolve, reject) => {
      // eslint-disable-next-line no-undef
      const socket = io(api, { auth: { token }, transports: ['websocket'], forceNew: true, reconnection: false });
      socket.on('connect', () => resolve(socket));
      socket.on('connect_error', (error) => reject(new Error(error.message)));
    });
  const ask = (socket, event, payload) => new Promise((resolve) => socket.emit(event, payload, resolve));
  const page = await connect(buyer.token);
  const other = await connect(seller.token);
  const heard = new Promise((resolve) => page.on('new-message', resolve));
  const typing = new Promise((resolve) => other.on('user-typing', resolve));
  const acks = [];
  acks.push(await ask(page, 'join-chat-room', chatId));
  acks.push(await ask(other, 'join-chat-room', { chatId }));
  acks.push(await ask(page, 'typing-start', { chatId }));
  await typing;
  acks.push(await ask(page, 'typing-start', chatId)); // a bare id: asyncapi.yaml wants {chatId}
  acks.push(await ask(page, 'typing-stop', { chatId }));
  await fetch(`${api}/api/chat/${chatId}/messages`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${seller.token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ content: 'Yes, it is.' }),
  });
  const message = await heard;
  page.disconnect();
  other.disconnect();
  return { acks, heard: message.message.content };
}

async function sockets(browser, api, failures) {
  const sandbox = 'bridge-sockets';
  const buyer = (await dev(api, sandbox, 'users', { name: 'Bea Buyer' })).data;
  const seller = (await dev(api, sandbox, 'users', { name: 'Sol Seller' })).data;
  const opened = await fetch(`${api}/api/chat`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${buyer.token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ participantIds: [seller.user._id] }),
  }).then((r) => r.json());
  const chatId = opened.data.chat._id;
  // the server's own landing page as the host of the client (its CSP allows only this
  // server, so the bundle is added with CSP bypassed, as in sandboxes.mjs)
  const page = await (await browser.newContext({ bypassCSP: true })).newPage();
  await page.goto(`http://localhost:${new URL(api).port}/`);
  await page.addScriptTag({ path: SOCKET_IO_BUNDLE });
  const flow = await page.evaluate(socketFlow, { api, buyer, seller, chatId });
  // the disconnects arrive after the page let go: wait until both are journaled
  let disconnects = [];
  for (let i = 0; i < 100 && disconnects.length < 2; i += 1) {
    disconnects = (await dev(api, sandbox, 'requests?kind=socket&event=disconnect')).data.requests;
    if (disconnects.length < 2) await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const journal = (query) => dev(api, sandbox, `requests?kind=socket&${query}`).then((r) => r.data.requests);
  const emitted = (await journal(`userId=${buyer.user._id}`))
    .filter((e) => e.type === 'client-event')
    .reverse()
    .map((e) => ({ event: e.event, payload: e.payload, ack: e.ack, violation: e.violation ?? null }));
  const received = (await journal('limit=1000'))
    .filter((e) => e.type === 'server-event')
    .reverse()
    .map((e) => ({ event: e.event, userId: e.userId, room: e.room, seq: e.seq }));
  const report = { chatId, buyerId: buyer.user._id, sellerId: seller.user._id, flow, emitted, received, disconnects: disconnects.length };
  const expected = [
    { event: 'join-chat-room', payload: chatId, ack: { success: true }, violation: null },
    { event: 'typing-start', payload: { chatId }, ack: { success: true }, violation: null },
    { event: 'typing-start', payload: chatId, ack: { success: false, error: { code: 'VALIDATION_FAILED', detail: 'payload must be {chatId}' } }, violation: 'payload must be {chatId}' },
    { event: 'typing-stop', payload: { chatId }, ack: { success: true }, violation: null },
  ];
  if (JSON.stringify(emitted) !== JSON.stringify(expected)) failures.push(`emitted ${JSON.stringify(emitted)}`);
  const typed = received.filter((e) => e.event === 'user-typing').map((e) => e.userId);
  if (JSON.stringify(typed) !== JSON.stringify([seller.user._id, seller.user._id])) failures.push(`user-typing went to ${typed}`);
  const messages = received.filter((e) => e.event === 'new-message');
  const reached = messages.map((e) => e.userId).sort();
  if (JSON.stringify(reached) !== JSON.stringify([buyer.user._id, seller.user._id].sort())) failures.push(`new-message reached ${reached}`);
  if (messages.some((e) => e.room !== `chat-${chatId}` || e.seq !== 1)) failures.push(`new-message ${JSON.stringify(messages)}`);
  if (flow.heard !== 'Yes, it is.') failures.push(`the page heard ${flow.heard}`);
  return report;
}

async function record(browser, api, outDir, failures) {
  const sandbox = 'bridge-har';
  const buyer = (await dev(api, sandbox, 'users', { name: 'Bea Buyer' })).data;
  const seller = (await dev(api, sandbox, 'users', { name: 'Sol Seller' })).data;
  const session = { token: buyer.token, sellerId: seller.user._id };
  const page = await openPage(browser, api);
  await page.goto(`${api}${APP_PAGE}`);
  const rendered = await page.evaluate((args) => chatScreen(args), { api, ...session });
  const har = await dev(api, sandbox, 'requests.har');
  let valid = true;
  try {
    await validate.har(har);
  } catch (error) {
    valid = false;
    failures.push(`HAR 1.2 schema: ${JSON.stringify(error.errors ?? String(error))}`);
  }
  await writeFile(join(outDir, 'session.har'), JSON.stringify(har, null, 2));
  await writeFile(join(outDir, 'session.json'), JSON.stringify(session));
  if (JSON.stringify(rendered.statuses) !== '[201,201,200]') failures.push(`statuses ${rendered.statuses}`);
  return { rendered, valid, entries: har.log.entries.length, tokenInHar: JSON.stringify(har).includes(buyer.token) };
}

async function replay(browser, api, outDir, failures) {
  const session = JSON.parse(await readFile(join(outDir, 'session.json'), 'utf8'));
  const page = await openPage(browser, api);
  const reached = [];
  page.on('request', (request) => reached.push(request.url()));
  await page.routeFromHAR(join(outDir, 'session.har'), { url: `${api}/api/**`, notFound: 'abort' });
  await page.goto(`${api}${APP_PAGE}`);
  const rendered = await page.evaluate((args) => chatScreen(args), { api, ...session });
  const recorded = JSON.parse(await readFile(join(outDir, 'record.json'), 'utf8')).rendered;
  if (JSON.stringify(rendered) !== JSON.stringify(recorded)) failures.push(`replayed ${JSON.stringify(rendered)} recorded ${JSON.stringify(recorded)}`);
  return { rendered, reached };
}

const MODES = { sockets, record, replay };

async function main() {
  const [mode, api, outDir] = argv.slice(2);
  if (!MODES[mode] || !api || !outDir) {
    stderr.write('usage: frontend_bridge.mjs sockets|record|replay BASE_URL OUT_DIR\n');
    return 2;
  }
  const browser = await chromium.launch({
    executablePath: env.CHROMIUM_PATH || '/usr/bin/chromium',
    args: chromiumFlags(['localhost']),
  });
  const failures = [];
  let report;
  try {
    report = await MODES[mode](browser, api, outDir, failures);
  } finally {
    await browser.close();
  }
  await writeFile(join(outDir, `${mode}.json`), JSON.stringify({ ...report, failures }, null, 2));
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
