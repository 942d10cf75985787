// A real socket.io-client (the version in package.json) against the Python server.
//
//   node tests/node/interop.mjs URL TOKEN CHAT_ID
//
// Connects with auth {token}, joins chat-CHAT_ID with an acknowledgement, and waits for
// one `new-message`. Each step is one JSON line on stdout, {"step": ..., "data": ...}:
// "joined" (the ack), then "new-message" (the payload); or "connect_error" with
// {message, data} when the server refuses the connection. Exits 0 after the last step,
// 1 when nothing arrives within 10 seconds.
import { io } from "socket.io-client";

const [url, token, chatId] = process.argv.slice(2);
const report = (step, data) => process.stdout.write(JSON.stringify({ step, data }) + "\n");
const socket = io(url, { auth: { token }, reconnection: false, timeout: 5000 });
const deadline = setTimeout(() => {
  report("timeout", null);
  socket.close();
  process.exitCode = 1;
}, 10000);

function finish() {
  clearTimeout(deadline);
  socket.close();
}

socket.on("connect_error", (error) => {
  report("connect_error", { message: error.message, data: error.data });
  finish();
});

socket.on("connect", async () => {
  const ack = await socket.timeout(5000).emitWithAck("join-chat-room", { chatId });
  report("joined", ack);
});

socket.on("new-message", (payload) => {
  report("new-message", payload);
  finish();
});
