// The fetch the orval client calls (its `mutator`, see orval.config.cjs): prefixes the
// server's base URL and hands back `{data, status, headers}` as the generated response
// types say, for every status: a problem document is the data of a 4xx response. The
// caller's token goes in each call's own `RequestInit` headers.

let baseUrl = '';

/** Where the generated functions send their requests. */
export function setChatApiBaseUrl(url: string): void {
  baseUrl = url;
}

export async function chatFetch<T>(url: string, options: RequestInit): Promise<T> {
  const response = await fetch(`${baseUrl}${url}`, options);
  const text = await response.text();
  const data: unknown = text ? JSON.parse(text) : {};
  return { data, status: response.status, headers: response.headers } as T;
}
