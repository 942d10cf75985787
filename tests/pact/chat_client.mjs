// The frontend's own API client, as a consumer test exercises it: the few calls a chat
// screen makes, with the token in the Authorization header. Pact's mock server answers
// them in the consumer test; this server answers the same requests when the pact is
// verified.
export function chatClient(baseUrl, token) {
  const call = async (method, path, body) => {
    const response = await fetch(`${baseUrl}${path}`, {
      method,
      headers: {
        Authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: response.status, headers: response.headers, body: await response.json() };
  };
  return {
    openChat: (sellerId) => call('POST', '/api/chat', { participantIds: [sellerId] }),
    history: (chatId) => call('GET', `/api/chat/${chatId}/messages`),
    send: (chatId, content) => call('POST', `/api/chat/${chatId}/messages`, { content }),
    edit: (chatId, messageId, content) =>
      call('PUT', `/api/chat/${chatId}/messages/${messageId}`, { content }),
  };
}
