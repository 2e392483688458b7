/*
 * app/assistant/page.tsx - the assistant's chat page: the signed-in
 * member's past conversations (assistant.conversations), the open one's
 * messages (assistant.get, ?c=ID) and the chat, whose answers stream in
 * from app/api/assistant/ask.
 */
import Link from 'next/link';
import type { AssistantGetResult } from '@libcommunity/node';
import { currentMember, getStore, isCommunityError, sessionActor } from '@/lib/community';
import { Chat } from './chat';

export const dynamic = 'force-dynamic';

export default async function AssistantPage({ searchParams }: { searchParams: Promise<{ c?: string }> }) {
  if (!(await currentMember())) {
    return (
      <>
        <h1>Assistant</h1>
        <p><Link href="/login?next=/assistant">Log in</Link> to ask the assistant about the community.</p>
      </>
    );
  }
  const { c } = await searchParams;
  const actor = await sessionActor();
  const store = await getStore();
  const list = await store.assistant.conversations({ limit: 20 }, actor);
  let open: AssistantGetResult | null = null;
  const id = Number(c);
  if (c && Number.isInteger(id) && id > 0) {
    try {
      open = await store.assistant.get({ conversation_id: id }, actor);
    } catch (e) {
      if (!isCommunityError(e) || e.code !== 'CM_ENOTFOUND')
        throw e;
    }
  }
  return (
    <>
      <h1>Assistant</h1>
      <div className="card">
        <h2>Your conversations</h2>
        {list.items.length === 0 ? (
          <p className="muted" data-testid="no-conversations">No conversations yet.</p>
        ) : (
          <ul data-testid="conversations">
            {list.items.map((conv) => (
              <li key={conv.id} data-testid="conversation">
                <Link href={`/assistant?c=${conv.id}`}>{conv.title}</Link>{' '}
                <span className="muted">({conv.message_count} messages)</span>
              </li>
            ))}
          </ul>
        )}
        <p><Link href="/assistant">New conversation</Link></p>
      </div>
      <Chat
        key={open?.conversation.id ?? 'new'}
        conversationId={open?.conversation.id ?? null}
        history={(open?.messages ?? []).map((m) => ({
          role: m.role, text: m.text, citations: m.citations,
        }))}
      />
    </>
  );
}
