'use server';
/*
 * app/assistant/actions.ts - the chat page's server action: confirm or
 * decline the action the assistant proposed (assistant.confirm, as the
 * signed-in member, once).
 */
import { getStore, isCommunityError, sessionActor } from '@/lib/community';

export type ConfirmState = { status?: 'confirmed' | 'declined'; text?: string; error?: string };

export async function confirmAction(conversationId: number, token: string, decline: boolean): Promise<ConfirmState> {
  const actor = await sessionActor();
  if (!actor)
    return { error: 'Your session has expired. Log in again.' };
  try {
    const store = await getStore();
    const r = await store.assistant.confirm({ conversation_id: conversationId, token, decline }, actor);
    return { status: r.status, text: r.message.text };
  } catch (e) {
    if (isCommunityError(e))
      return { error: e.message };
    throw e;
  }
}
