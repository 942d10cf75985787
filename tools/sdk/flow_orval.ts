// A full chat flow through the fetch client orval generated from openapi.yaml
// (build/sdk/orval/api.ts), against a live server: users from the dev endpoint, a direct
// chat, send, edit, read, list, delete, and the typed problem documents of the 4xx
// answers (each response is a union narrowed by its status). Compiled with tsc --strict.
import {
  type CreateChatRequest,
  type Problem,
  advanceDevClock,
  createChat,
  createDevUser,
  deleteMessage,
  editMessage,
  listChats,
  listMessages,
  markMessagesRead,
  resetDevStore,
  sendMessage,
} from '../../build/sdk/orval/api';
import { FlowFailed, UNKNOWN_ID, check, checkProblem, runFlow, step } from './flow_support';
import { setChatApiBaseUrl } from './orval_fetch';

interface Outcome {
  status: number;
  data: unknown;
}

/** The body of a success with this status, typed by the operation's response union. */
function ok<R extends Outcome, S extends R['status']>(
  response: R,
  status: S
): Extract<R, { status: S }>['data'] {
  if (response.status !== status) {
    const body = JSON.stringify(response.data);
    throw new FlowFailed(`expected ${status}, got ${response.status}: ${body}`);
  }
  return (response as Extract<R, { status: S }>).data;
}

/** The typed problem document of a 4xx, with the contract's status and code. */
function problem<R extends Outcome>(response: R, status: number, code: string): Problem {
  check(response.status === status, `expected ${status}, got ${response.status}`);
  const body = (response as Extract<R, { data: Problem }>).data;
  checkProblem(body, status, code);
  return body;
}

function as(token: string): RequestInit {
  return { headers: { Authorization: `Bearer ${token}` } };
}

async function user(name: string): Promise<[string, RequestInit]> {
  const created = ok(await createDevUser({ name }), 201);
  return [created.data.user._id, as(created.data.token)];
}

async function flow(baseUrl: string): Promise<void> {
  setChatApiBaseUrl(baseUrl);
  ok(await resetDevStore(), 200);
  step('the store is reset');
  const [aliceId, alice] = await user('Alice');
  const [bobId, bob] = await user('Bob');
  const [, carol] = await user('Carol');
  step('three users and their tokens from POST /api/dev/users');

  problem(await listChats(undefined, as('not-a-jwt')), 401, 'UNAUTHORIZED');
  step('a bad token is a typed 401 UNAUTHORIZED');

  const request: CreateChatRequest = { participantIds: [bobId] };
  const chat = ok(await createChat(request, alice), 201).data.chat;
  check(
    chat.participants.length === 2 && chat.participants.includes(aliceId),
    `participants ${chat.participants.join(',')}`
  );
  const again = ok(await createChat(request, alice), 200).data.chat;
  check(again._id === chat._id, 'the same direct chat comes back');
  step('a direct chat is created (201), then found again (200)');
  const titled: CreateChatRequest = { participantIds: [bobId], title: 'Bike' };
  problem(await createChat(titled, alice), 400, 'VALIDATION_FAILED');
  step('a title on a direct chat is a typed 400');

  const id = chat._id;
  const sent = await sendMessage(id, { content: '  Is it still for sale?  ' }, alice);
  const message = ok(sent, 201).data.message;
  check(message.content === 'Is it still for sale?', `trimmed content, got ${message.content}`);
  check(sent.headers.has('X-RateLimit-Remaining'), 'send carries the rate headers');
  problem(await sendMessage(id, { content: '   ' }, alice), 400, 'VALIDATION_FAILED');
  step('a message is sent and trimmed; a blank one is a typed 400');

  const edit = { content: 'Is it still for sale? (edited)' };
  const edited = ok(await editMessage(id, message._id, edit, alice), 200).data.message;
  check(edited.content === edit.content && edited.editedAt !== undefined, 'the edit is stored');
  problem(await editMessage(id, message._id, edit, bob), 403, 'NOT_AUTHOR');
  step('the author edits; anyone else gets a typed 403 NOT_AUTHOR');

  let chats = ok(await listChats(undefined, bob), 200).data.chats;
  check(chats[0]?.unreadCount === 1, `bob has 1 unread, got ${chats[0]?.unreadCount}`);
  const read = await markMessagesRead(id, {}, bob);
  check(ok(read, 200).data.modifiedCount === 1, 'one message newly read');
  chats = ok(await listChats(undefined, bob), 200).data.chats;
  check(chats[0]?.unreadCount === 0, 'nothing unread after reading');
  step("bob's unread count goes 1 -> 0 when he reads");

  const history = ok(await listMessages(id, undefined, bob), 200).data;
  check(history.pagination.total === 1, 'one message in the history');
  check(history.messages[0]?.readBy.some((r) => r.userId === bobId) === true, 'readBy');
  const older = ok(await listMessages(id, { before: message._id }, bob), 200).data;
  check(older.messages.length === 0, 'nothing is older than the only message');
  problem(await listMessages(id, undefined, carol), 403, 'NOT_PARTICIPANT');
  problem(await listMessages(UNKNOWN_ID, undefined, bob), 404, 'NOT_FOUND');
  problem(await listMessages('not-an-id', undefined, bob), 400, 'VALIDATION_FAILED');
  step('the history lists; outsiders, unknown and malformed ids get typed 403/404/400');

  ok(await advanceDevClock({ advanceSeconds: 901 }), 200);
  problem(await editMessage(id, message._id, edit, alice), 403, 'EDIT_WINDOW_EXPIRED');
  step('after the dev clock moves 901 s, an edit is a typed 403 EDIT_WINDOW_EXPIRED');

  const deleted = ok(await deleteMessage(id, message._id, alice), 200).data.message;
  check(deleted.deletedAt !== undefined && deleted.content === '', 'a tombstone');
  ok(await deleteMessage(id, message._id, alice), 200);
  const after = ok(await listMessages(id, undefined, bob), 200).data;
  check(after.messages[0]?.deletedAt !== undefined, 'the tombstone stays in the history');
  step('delete leaves a tombstone, twice is 200, and the history keeps it');
}

runFlow('orval fetch client flow', flow);
