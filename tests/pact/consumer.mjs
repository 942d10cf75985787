#!/usr/bin/env node
// A frontend's Pact consumer test, written as a team would write it with pact-js
// (`PactV3`, `MatchersV3`): each interaction names the provider state it needs, and takes
// the ids and tokens it sends from that state (`fromProviderState`), so the pact can be
// verified against the real server, whose `POST /api/dev/provider-states` makes them.
//
// It writes two pacts into OUT_DIR: `chat-web-chat-api.json`, what the documented rules
// say, and `chat-web-wrong-chat-api.json`, a consumer that expects an edit after the
// edit window to succeed (the rules say 403 EDIT_WINDOW_EXPIRED), which verification
// must refuse.
//
// Usage: node tests/pact/consumer.mjs OUT_DIR
// Exit codes: 0 both pacts written; 1 a consumer expectation failed; 2 misuse.
import { argv, exit, stderr, stdout } from 'node:process';

import { MatchersV3, PactV3, SpecificationVersion } from '@pact-foundation/pact';

import { chatClient } from './chat_client.mjs';

const { eachLike, fromProviderState, integer, like, regex, string } = MatchersV3;
const ID = '665f1b2c3d4e5f6a7b8c9d0e';
const TOKEN = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI2NjVmMWIyYzNkNGU1ZjZhN2I4YzlkMDEifQ.c2ln';
const OBJECT_ID = '^[0-9a-f]{24}$';

const buyerAuth = { Authorization: fromProviderState('Bearer ${buyerToken}', `Bearer ${TOKEN}`) };
// the history's path, or a message's (`tail` an expression, `example` what it stands for)
const chatPath = (tail = '', example = '') =>
  fromProviderState(`/api/chat/\${chatId}/messages${tail}`, `/api/chat/${ID}/messages${example}`);
const problem = (status, code) => ({
  status,
  headers: { 'Content-Type': 'application/problem+json' },
  body: { success: false, status, code, title: string('Forbidden'), detail: string('why') },
});

function check(condition, what) {
  if (!condition) throw new Error(`consumer expectation failed: ${what}`);
}

async function documentedRules(dir) {
  const pact = new PactV3({ consumer: 'chat-web', provider: 'chat-api', dir, spec: SpecificationVersion.SPECIFICATION_VERSION_V3, logLevel: 'error' });

  pact
    .given('a buyer and a seller')
    .uponReceiving('the buyer opens a direct chat with the seller')
    .withRequest({
      method: 'POST',
      path: '/api/chat',
      headers: { ...buyerAuth, 'Content-Type': 'application/json' },
      body: { participantIds: [fromProviderState('${sellerId}', ID)] },
    })
    .willRespondWith({
      status: 201,
      body: {
        success: true,
        data: { chat: like({ _id: regex(OBJECT_ID, ID), type: 'direct', participants: eachLike(regex(OBJECT_ID, ID), 2) }) },
      },
    });
  await pact.executeTest(async (server) => {
    const opened = await chatClient(server.url, TOKEN).openChat(ID);
    check(opened.status === 201 && opened.body.data.chat.type === 'direct', 'open chat');
  });

  pact
    .given('buyer and seller have a direct chat with 3 messages')
    .uponReceiving('the buyer reads the history')
    .withRequest({ method: 'GET', path: chatPath(), headers: buyerAuth })
    .willRespondWith({
      status: 200,
      body: {
        success: true,
        data: {
          messages: eachLike({ _id: regex(OBJECT_ID, ID), content: string('Is it still for sale?'), senderId: regex(OBJECT_ID, ID) }, 3),
          pagination: { page: 1, limit: 20, total: 3, pages: 1 },
        },
      },
    });
  await pact.executeTest(async (server) => {
    const history = await chatClient(server.url, TOKEN).history(ID);
    check(history.body.data.messages.length === 3, 'three messages');
  });

  pact
    .given("the buyer's rate limit is used up")
    .uponReceiving('the buyer sends one message too many')
    .withRequest({ method: 'POST', path: chatPath(), headers: { ...buyerAuth, 'Content-Type': 'application/json' }, body: { content: 'one more' } })
    .willRespondWith({ ...problem(429, 'RATE_LIMITED'), headers: { 'Content-Type': 'application/problem+json', 'Retry-After': regex('^[0-9]+$', '30') } });
  await pact.executeTest(async (server) => {
    const refused = await chatClient(server.url, TOKEN).send(ID, 'one more');
    check(refused.status === 429 && refused.headers.get('retry-after') === '30', 'retry after');
  });

  pact
    .given('a message older than the edit window')
    .uponReceiving('the buyer edits a message after the edit window')
    .withRequest({ method: 'PUT', path: chatPath('/${messageId}', `/${ID}`), headers: { ...buyerAuth, 'Content-Type': 'application/json' }, body: { content: 'changed' } })
    .willRespondWith(problem(403, 'EDIT_WINDOW_EXPIRED'));
  await pact.executeTest(async (server) => {
    const refused = await chatClient(server.url, TOKEN).edit(ID, ID, 'changed');
    check(refused.body.code === 'EDIT_WINDOW_EXPIRED', 'edit window');
  });
}

async function wrongExpectation(dir) {
  // A consumer written against a misreading: it expects the late edit to go through.
  const pact = new PactV3({ consumer: 'chat-web-wrong', provider: 'chat-api', dir, spec: SpecificationVersion.SPECIFICATION_VERSION_V3, logLevel: 'error' });
  pact
    .given('a message older than the edit window')
    .uponReceiving('the buyer edits a message after the edit window')
    .withRequest({ method: 'PUT', path: chatPath('/${messageId}', `/${ID}`), headers: { ...buyerAuth, 'Content-Type': 'application/json' }, body: { content: 'changed' } })
    .willRespondWith({ status: 200, body: { success: true, data: { message: like({ content: 'changed' }) } } });
  await pact.executeTest(async (server) => {
    const edited = await chatClient(server.url, TOKEN).edit(ID, ID, 'changed');
    check(edited.status === 200, 'the wrong expectation holds against its own mock');
  });
}

async function main() {
  const [dir] = argv.slice(2);
  if (!dir) {
    stderr.write('usage: consumer.mjs OUT_DIR\n');
    return 2;
  }
  await documentedRules(dir);
  await wrongExpectation(dir);
  stdout.write(`pacts written to ${dir}\n`);
  return 0;
}

main().then(
  (code) => exit(code),
  (error) => {
    stderr.write(`${error && error.stack ? error.stack : error}\n`);
    exit(1);
  },
);
