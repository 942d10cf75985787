// A full chat flow through the typescript-axios client that openapi-generator made from
// openapi.yaml (build/sdk/axios), against a live server: users from the dev endpoint, a
// direct chat, send, edit, read, list, delete, and the typed problem documents of the 4xx
// answers (AxiosError<Problem>) on the way. Compiled with tsc --strict.
import { isAxiosError, type AxiosResponse } from 'axios';

import {
  ChatsApi,
  Configuration,
  type CreateChatRequest,
  DevApi,
  MessagesApi,
  type Problem,
} from '../../build/sdk/axios';
import { FlowFailed, UNKNOWN_ID, check, checkProblem, runFlow, step } from './flow_support';

interface Apis {
  chats: ChatsApi;
  messages: MessagesApi;
}

function apis(basePath: string, accessToken?: string): Apis {
  const configuration = new Configuration({ basePath, accessToken });
  return { chats: new ChatsApi(configuration), messages: new MessagesApi(configuration) };
}

/** The body of a success with this status, typed by the generated model. */
function ok<T>(response: AxiosResponse<T>, status: number): T {
  check(response.status === status, `expected ${status}, got ${response.status}`);
  return response.data;
}

/** The typed problem document of the 4xx a call must fail with. */
async function problem(call: Promise<unknown>, status: number, code: string): Promise<Problem> {
  try {
    await call;
  } catch (error: unknown) {
    if (isAxiosError<Problem>(error) && error.response !== undefined) {
      check(error.response.status === status, `expected ${status}, got ${error.response.status}`);
      const body: Problem = error.response.data;
      checkProblem(body, status, code);
      return body;
    }
    throw error;
  }
  throw new FlowFailed(`expected problem ${status} ${code}, but the call succeeded`);
}

async function user(dev: DevApi, basePath: string, name: string): Promise<[string, Apis]> {
  const created = ok(await dev.createDevUser({ createDevUserRequest: { name } }), 201);
  return [created.data.user._id, apis(basePath, created.data.token)];
}

async function flow(basePath: string): Promise<void> {
  const dev = new DevApi(new Configuration({ basePath }));
  ok(await dev.resetDevStore(), 200);
  step('the store is reset');
  const [aliceId, alice] = await user(dev, basePath, 'Alice');
  const [bobId, bob] = await user(dev, basePath, 'Bob');
  const [, carol] = await user(dev, basePath, 'Carol');
  step('three users and their tokens from POST /api/dev/users');

  await problem(apis(basePath, 'not-a-jwt').chats.listChats(), 401, 'UNAUTHORIZED');
  step('a bad token is a typed 401 UNAUTHORIZED');

  const createChatRequest: CreateChatRequest = { participantIds: [bobId] };
  const chat = ok(await alice.chats.createChat({ createChatRequest }), 201).data.chat;
  check(
    chat.participants.length === 2 && chat.participants.includes(aliceId),
    `participants ${chat.participants.join(',')}`
  );
  const again = ok(await alice.chats.createChat({ createChatRequest }), 200).data.chat;
  check(again._id === chat._id, 'the same direct chat comes back');
  step('a direct chat is created (201), then found again (200)');
  const titled: CreateChatRequest = { participantIds: [bobId], title: 'Bike' };
  await problem(alice.chats.createChat({ createChatRequest: titled }), 400, 'VALIDATION_FAILED');
  step('a title on a direct chat is a typed 400');

  const id = chat._id;
  const sent = await alice.messages.sendMessage({
    id,
    sendMessageRequest: { content: '  Is it still for sale?  ' },
  });
  const message = ok(sent, 201).data.message;
  check(message.content === 'Is it still for sale?', `trimmed content, got ${message.content}`);
  check(sent.headers['x-ratelimit-remaining'] !== undefined, 'send carries the rate headers');
  await problem(
    alice.messages.sendMessage({ id, sendMessageRequest: { content: '   ' } }),
    400,
    'VALIDATION_FAILED'
  );
  step('a message is sent and trimmed; a blank one is a typed 400');

  const editMessageRequest = { content: 'Is it still for sale? (edited)' };
  const target = { id, messageId: message._id };
  const edited = ok(
    await alice.messages.editMessage({ ...target, editMessageRequest }),
    200
  ).data.message;
  check(edited.content === editMessageRequest.content && edited.editedAt !== undefined, 'edit');
  await problem(bob.messages.editMessage({ ...target, editMessageRequest }), 403, 'NOT_AUTHOR');
  step('the author edits; anyone else gets a typed 403 NOT_AUTHOR');

  let chats = ok(await bob.chats.listChats(), 200).data.chats;
  check(chats[0]?.unreadCount === 1, `bob has 1 unread, got ${chats[0]?.unreadCount}`);
  const read = await bob.messages.markMessagesRead({ id, markReadRequest: {} });
  check(ok(read, 200).data.modifiedCount === 1, 'one message newly read');
  chats = ok(await bob.chats.listChats(), 200).data.chats;
  check(chats[0]?.unreadCount === 0, 'nothing unread after reading');
  step("bob's unread count goes 1 -> 0 when he reads");

  const history = ok(await bob.messages.listMessages({ id }), 200).data;
  check(history.pagination.total === 1, 'one message in the history');
  check(history.messages[0]?.readBy.some((r) => r.userId === bobId) === true, 'readBy');
  await problem(carol.messages.listMessages({ id }), 403, 'NOT_PARTICIPANT');
  await problem(bob.messages.listMessages({ id: UNKNOWN_ID }), 404, 'NOT_FOUND');
  await problem(bob.messages.listMessages({ id: 'not-an-id' }), 400, 'VALIDATION_FAILED');
  step('the history lists; outsiders, unknown and malformed ids get typed 403/404/400');

  ok(await dev.advanceDevClock({ advanceClockRequest: { advanceSeconds: 901 } }), 200);
  await problem(
    alice.messages.editMessage({ ...target, editMessageRequest }),
    403,
    'EDIT_WINDOW_EXPIRED'
  );
  step('after the dev clock moves 901 s, an edit is a typed 403 EDIT_WINDOW_EXPIRED');

  const deleted = ok(await alice.messages.deleteMessage(target), 200).data.message;
  check(deleted.deletedAt !== undefined && deleted.content === '', 'a tombstone');
  ok(await alice.messages.deleteMessage(target), 200);
  const after = ok(await bob.messages.listMessages({ id }), 200).data;
  check(after.messages[0]?.deletedAt !== undefined, 'the tombstone stays in the history');
  step('delete leaves a tombstone, twice is 200, and the history keeps it');
}

runFlow('typescript-axios client flow', flow);
