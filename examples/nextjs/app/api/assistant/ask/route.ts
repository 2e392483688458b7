/*
 * app/api/assistant/ask/route.ts - POST {message, conversation_id?}: the
 * signed-in member's question to the assistant, answered as server-sent
 * events while the model writes (store.execStream of assistant.ask): delta
 * {text}, citations, action (a proposed write), done (the stored result),
 * or error {code, message}. The browser going away stops the answer
 * (nothing stored).
 *
 * Only same-origin JSON requests are taken: a cross-site form cannot send
 * application/json, and an Origin naming another site is refused.
 */
import { getStore, isCommunityError, sessionActor } from '@/lib/community';

export const dynamic = 'force-dynamic';

const json = (status: number, body: unknown) => Response.json(body, { status });

export async function POST(request: Request) {
  const origin = request.headers.get('origin');
  const host = request.headers.get('host');
  if (origin && (!host || new URL(origin).host !== host))
    return json(403, { code: 'CM_EPERM', message: 'cross-site request refused' });
  if (!(request.headers.get('content-type') ?? '').startsWith('application/json'))
    return json(415, { code: 'CM_EINVAL', message: 'send application/json' });
  const actor = await sessionActor();
  if (!actor)
    return json(401, { code: 'CM_EAUTH', message: 'log in first' });
  let body: { message?: unknown; conversation_id?: unknown };
  try {
    body = await request.json();
  } catch {
    return json(400, { code: 'CM_EINVAL', message: 'the body is not JSON' });
  }
  const input: { message: string; conversation_id?: number } = {
    message: typeof body.message === 'string' ? body.message : '',
  };
  if (typeof body.conversation_id === 'number')
    input.conversation_id = body.conversation_id;
  const store = await getStore();
  const encoder = new TextEncoder();
  let open = true;
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      const send = (event: string, data: unknown) => {
        if (open)
          controller.enqueue(encoder.encode(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`));
      };
      store.execStream('assistant.ask', input, actor, (event, data) => {
        send(event, data);
        return open;
      }).catch((e: unknown) => {
        if (isCommunityError(e))
          send('error', { code: e.code, message: e.message, field: e.field });
        else
          send('error', { code: 'CM_EINTERNAL', message: 'the assistant failed' });
      }).finally(() => {
        if (open) {
          open = false;
          controller.close();
        }
      });
    },
    cancel() {
      open = false;
    },
  });
  return new Response(stream, {
    headers: {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      'X-Accel-Buffering': 'no',
    },
  });
}
