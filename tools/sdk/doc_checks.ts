// What the docs' TypeScript client examples must have done, checked over plain fetch
// rather than through the client under test; the programs tools/sdk/doc_examples.py
// writes end with these.
import { check } from './flow_support';

interface ChatSeen {
  type: string;
  participants: string[];
  lastMessage?: { senderId: string };
}

function sameUsers(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((id) => b.includes(id));
}

/** The example opened the direct chat between `selfId` and `otherId` and sent in it. */
export async function checkOpenedAndSent(
  api: string,
  token: string,
  selfId: string,
  otherId: string
): Promise<void> {
  const response = await fetch(`${api}/api/chat`, { headers: { Authorization: `Bearer ${token}` } });
  check(response.status === 200, `GET /api/chat answered ${response.status}`);
  const chats = ((await response.json()) as { data: { chats: ChatSeen[] } }).data.chats;
  const chat = chats.find((c) => c.type === 'direct' && sameUsers(c.participants, [selfId, otherId]));
  check(chat !== undefined, `the example opened no direct chat with ${otherId}`);
  check(chat.lastMessage?.senderId === selfId, 'the example sent no message in that chat');
}

/** The README's body opened a new chat of exactly the caller and the users it names. */
export function checkReadmeChat(
  status: number,
  participants: readonly string[] | undefined,
  expected: readonly string[]
): void {
  check(status === 201, `the README's body: expected 201, got ${status}`);
  check(
    participants !== undefined && participants.join() === expected.join(),
    `the README's body: participants ${participants?.join()}, expected ${expected.join()}`
  );
}
