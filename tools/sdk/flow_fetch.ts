// A full chat flow through openapi-fetch typed by openapi-typescript's `paths`
// (build/sdk/typescript/schema.ts), against a live server: users from the dev endpoint,
// a direct chat, send, edit, read, list, delete, and the typed problem documents of the
// 4xx answers on the way. Compiled with tsc --strict by tools/sdk/tsconfig.json.
import createClient, { type Client } from 'openapi-fetch';

import type { components, paths } from '../../build/sdk/typescript/schema';
import { FlowFailed, UNKNOWN_ID, check, checkProblem, runFlow, step } from './flow_support';

type Problem = components['schemas']['Problem'];
type Api = Client<paths>;

interface Outcome<D, E> {
  data?: D;
  error?: E;
  response: Response;
}

/** The body of a success with this status, typed by the operation's schema. */
function ok<D, E>(outcome: Outcome<D, E>, status: number): D {
  const { data, error, response } = outcome;
  if (data === undefined || response.status !== status) {
    throw new FlowFailed(`expected ${status}, got ${response.status}: ${JSON.stringify(error)}`);
  }
  return data;
}

/** The typed problem document of a 4xx, with the contract's status and code. */
function problem<D>(outcome: Outcome<D, Problem>, status: number, code: string): Problem {
  const { error, response } = outcome;
  check(response.status === status, `expected ${status}, got ${response.status}`);
  checkProblem(error, status, code);
  return error;
}

function api(baseUrl: string, token?: string): Api {
  const headers: Record<string, string> = token ? { Authorization: `Bearer ${token}` } : {};
  return createClient<paths>({ baseUrl, headers });
}

async function user(anonymous: Api, baseUrl: string, name: string): Promise<[string, Api]> {
  const created = ok(await anonymous.POST('/api/dev/users', { body: { name } }), 201);
  return [created.data.user._id, api(baseUrl, created.data.token)];
}

async function flow(baseUrl: string): Promise<void> {
  const anonymous = api(baseUrl);
  ok(await anonymous.POST('/api/dev/reset'), 200);
  step('the store is reset');
  const [aliceId, alice] = await user(anonymous, baseUrl, 'Alice');
  const [bobId, bob] = await user(anonymous, baseUrl, 'Bob');
  const [, carol] = await user(anonymous, baseUrl, 'Carol');
  step('three users and their tokens from POST /api/dev/users');

  problem(await api(baseUrl, 'not-a-jwt').GET('/api/chat'), 401, 'UNAUTHORIZED');
  step('a bad token is a typed 401 UNAUTHORIZED');

  const body: components['schemas']['CreateChatRequest'] = { participantIds: [bobId] };
  const chat = ok(await alice.POST('/api/chat', { body }), 201).data.chat;
  check(
    chat.participants.length === 2 && chat.participants.includes(aliceId),
    `participants ${chat.participants.join(',')}`
  );
  const again = ok(await alice.POST('/api/chat', { body }), 200).data.chat;
  check(again._id === chat._id, 'the same direct chat comes back');
  step('a direct chat is created (201), then found again (200)');
  const titled = { participantIds: [bobId], title: 'Bike' };
  problem(await alice.POST('/api/chat', { body: titled }), 400, 'VALIDATION_FAILED');
  step('a title on a direct chat is a typed 400');

  const id = chat._id;
  const sent = await alice.POST('/api/chat/{id}/messages', {
    params: { path: { id } },
    body: { content: '  Is it still for sale?  ' },
  });
  const message = ok(sent, 201).data.message;
  check(message.content === 'Is it still for sale?', `trimmed content, got ${message.content}`);
  check(sent.response.headers.has('X-RateLimit-Remaining'), 'send carries the rate headers');
  const blank = await alice.POST('/api/chat/{id}/messages', {
    params: { path: { id } },
    body: { content: '   ' },
  });
  problem(blank, 400, 'VALIDATION_FAILED');
  step('a message is sent and trimmed; a blank one is a typed 400');

  const messagePath = { path: { id, messageId: message._id } };
  const edit = { content: 'Is it still for sale? (edited)' };
  const edited = ok(
    await alice.PUT('/api/chat/{id}/messages/{messageId}', { params: messagePath, body: edit }),
    200
  ).data.message;
  check(edited.content === edit.content && edited.editedAt !== undefined, 'the edit is stored');
  problem(
    await bob.PUT('/api/chat/{id}/messages/{messageId}', { params: messagePath, body: edit }),
    403,
    'NOT_AUTHOR'
  );
  step('the author edits; anyone else gets a typed 403 NOT_AUTHOR');

  let chats = ok(await bob.GET('/api/chat'), 200).data.chats;
  check(chats[0]?.unreadCount === 1, `bob has 1 unread, got ${chats[0]?.unreadCount}`);
  const read = await bob.PATCH('/api/chat/{id}/messages/read', {
    params: { path: { id } },
    body: {},
  });
  check(ok(read, 200).data.modifiedCount === 1, 'one message newly read');
  chats = ok(await bob.GET('/api/chat'), 200).data.chats;
  check(chats[0]?.unreadCount === 0, 'nothing unread after reading');
  step("bob's unread count goes 1 -> 0 when he reads");

  const history = ok(await bob.GET('/api/chat/{id}/messages', { params: { path: { id } } }), 200);
  check(history.data.pagination.total === 1, 'one message in the history');
  check(history.data.messages[0]?.readBy.some((r) => r.userId === bobId) === true, 'readBy');
  const asCarol = await carol.GET('/api/chat/{id}/messages', { params: { path: { id } } });
  problem(asCarol, 403, 'NOT_PARTICIPANT');
  const unknown = await bob.GET('/api/chat/{id}/messages', {
    params: { path: { id: UNKNOWN_ID } },
  });
  problem(unknown, 404, 'NOT_FOUND');
  const malformed = await bob.GET('/api/chat/{id}/messages', {
    params: { path: { id: 'not-an-id' } },
  });
  problem(malformed, 400, 'VALIDATION_FAILED');
  step('the history lists; outsiders, unknown and malformed ids get typed 403/404/400');

  ok(await anonymous.POST('/api/dev/clock', { body: { advanceSeconds: 901 } }), 200);
  problem(
    await alice.PUT('/api/chat/{id}/messages/{messageId}', { params: messagePath, body: edit }),
    403,
    'EDIT_WINDOW_EXPIRED'
  );
  step('after the dev clock moves 901 s, an edit is a typed 403 EDIT_WINDOW_EXPIRED');

  const deleted = ok(
    await alice.DELETE('/api/chat/{id}/messages/{messageId}', { params: messagePath }),
    200
  ).data.message;
  check(deleted.deletedAt !== undefined && deleted.content === '', 'a tombstone');
  ok(await alice.DELETE('/api/chat/{id}/messages/{messageId}', { params: messagePath }), 200);
  const after = ok(await bob.GET('/api/chat/{id}/messages', { params: { path: { id } } }), 200);
  check(after.data.messages[0]?.deletedAt !== undefined, 'the tombstone stays in the history');
  step('delete leaves a tombstone, twice is 200, and the history keeps it');
}

runFlow('openapi-fetch client flow', flow);
