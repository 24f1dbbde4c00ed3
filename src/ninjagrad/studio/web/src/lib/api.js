// Talking to the studio's server: commands (POST, JSON in and out) and the stream of snapshots (SSE).
// Every request carries the token the server wrote into the page.

export const token = document.querySelector('meta[name="ninjagrad-token"]').content;

export function withToken(path) {
  return `${path}${path.includes("?") ? "&" : "?"}token=${encodeURIComponent(token)}`;
}

// Run `command` on `session`; resolves to {state} or {error, state} (a message for the page).
export async function send(session, command, args = {}) {
  let response;
  try {
    response = await fetch(withToken(`/api/${session}/${command}`), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(args),
    });
  } catch (error) {
    return { error: `cannot reach the studio (${error.message}); is \`ninjagrad studio\` still running?` };
  }
  const body = await response.json().catch(() => null);
  if (!response.ok) return { error: body?.error ?? `HTTP ${response.status}`, state: body?.state };
  return { state: body };
}

// Call onState(snapshot) for every snapshot the server streams (at most 30 a second). Returns a closer.
export function subscribe(session, onState, onConnection) {
  const source = new EventSource(withToken(`/api/${session}/stream`));
  source.onopen = () => onConnection?.(true);
  source.onmessage = (event) => onState(JSON.parse(event.data));
  source.onerror = () => onConnection?.(false);
  return () => source.close();
}
