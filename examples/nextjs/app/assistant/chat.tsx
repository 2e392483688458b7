'use client';
/*
 * app/assistant/chat.tsx - the chat: the question is POSTed to
 * /api/assistant/ask and the answer read from the response body as it
 * streams (server-sent events: delta, citations, action, done, error).
 * Citations link to the events they name; a proposed action shows Confirm
 * and Decline (assistant.confirm through a server action).
 */
import Link from 'next/link';
import { useState, type FormEvent } from 'react';
import type { AssistantCitation, AssistantPendingAction } from '@libcommunity/node';
import { confirmAction, type ConfirmState } from './actions';

export type ChatMessage = { role: 'user' | 'assistant'; text: string; citations: AssistantCitation[] };

function Citations({ items }: { items: AssistantCitation[] }) {
  if (items.length === 0)
    return null;
  return (
    <p className="muted" data-testid="citations">
      Sources:{' '}
      {items.map((c, i) => (
        <span key={`${c.type}:${c.id}`}>
          {i > 0 && ', '}
          {c.type === 'event'
            ? <Link href={`/events/${c.id}`} data-testid="citation">{c.title}</Link>
            : <span data-testid="citation">{c.title} ({c.type})</span>}
        </span>
      ))}
    </p>
  );
}

/** Split a server-sent event stream's text into complete events; returns the rest. */
function takeEvents(buf: string, on: (event: string, data: string) => void): string {
  let end;
  while ((end = buf.indexOf('\n\n')) >= 0) {
    const block = buf.slice(0, end);
    buf = buf.slice(end + 2);
    let event = 'message';
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line.startsWith('event:'))
        event = line.slice(6).trim();
      else if (line.startsWith('data:'))
        data.push(line.slice(5).replace(/^ /, ''));
    }
    on(event, data.join('\n'));
  }
  return buf;
}

export function Chat({ conversationId, history }: { conversationId: number | null; history: ChatMessage[] }) {
  const [conv, setConv] = useState<number | null>(conversationId);
  const [messages, setMessages] = useState<ChatMessage[]>(history);
  const [answer, setAnswer] = useState<ChatMessage | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [action, setAction] = useState<AssistantPendingAction | null>(null);
  const [outcome, setOutcome] = useState<ConfirmState | null>(null);
  const [question, setQuestion] = useState('');

  async function ask(e: FormEvent) {
    e.preventDefault();
    const message = question.trim();
    if (!message || busy)
      return;
    setBusy(true);
    setError(null);
    setAction(null);
    setOutcome(null);
    setQuestion('');
    setMessages((m) => [...m, { role: 'user', text: message, citations: [] }]);
    let current: ChatMessage = { role: 'assistant', text: '', citations: [] };
    setAnswer(current);
    try {
      const res = await fetch('/api/assistant/ask', {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
        body: JSON.stringify(conv ? { message, conversation_id: conv } : { message }),
      });
      if (!res.ok || !res.body) {
        const err = await res.json().catch(() => ({ message: res.statusText }));
        throw new Error(err.message ?? `HTTP ${res.status}`);
      }
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = '';
      let done = false;
      for (;;) {
        const { value, done: end } = await reader.read();
        if (end)
          break;
        buf = takeEvents(buf + value.replace(/\r\n/g, '\n'), (event, raw) => {
          const data = JSON.parse(raw);
          if (event === 'delta') {
            current = { ...current, text: current.text + data.text };
          } else if (event === 'citations') {
            current = { ...current, citations: data.citations };
          } else if (event === 'action') {
            setAction(data as AssistantPendingAction);
          } else if (event === 'done') {
            done = true;
            current = { ...current, text: data.message.text, citations: data.message.citations };
            setConv(data.conversation_id);
          } else if (event === 'error') {
            throw new Error(data.message);
          }
          setAnswer(current);
        });
      }
      if (!done)
        throw new Error('The answer was cut off.');
      setMessages((m) => [...m, current]);
      setAnswer(null);
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
      setAnswer(null);
    } finally {
      setBusy(false);
    }
  }

  async function decide(decline: boolean) {
    if (!action || conv === null)
      return;
    setBusy(true);
    const r = await confirmAction(conv, action.token, decline);
    setBusy(false);
    setOutcome(r);
    if (!r.error)
      setAction(null);
  }

  return (
    <div className="card" data-testid="chat">
      <div data-testid="messages">
        {messages.map((m, i) => (
          <div key={i} className={`message ${m.role}`} data-testid={`message-${m.role}`}>
            <p><strong>{m.role === 'user' ? 'You' : 'Assistant'}:</strong> {m.text}</p>
            <Citations items={m.citations} />
          </div>
        ))}
        {answer && (
          <div className="message assistant" data-testid="answer-streaming" aria-live="polite">
            <p><strong>Assistant:</strong> <span data-testid="answer-text">{answer.text}</span></p>
            <Citations items={answer.citations} />
          </div>
        )}
      </div>
      {action && (
        <div className="card" data-testid="pending-action">
          <p data-testid="action-summary">{action.summary}</p>
          <button type="button" disabled={busy} onClick={() => decide(false)}>Confirm</button>{' '}
          <button type="button" className="secondary" disabled={busy} onClick={() => decide(true)}>Decline</button>
        </div>
      )}
      {outcome?.status && (
        <p data-testid="action-outcome" data-status={outcome.status}>{outcome.text}</p>
      )}
      {outcome?.error && <p className="error" role="alert">{outcome.error}</p>}
      {error && <p className="error" role="alert" data-testid="chat-error">{error}</p>}
      <form onSubmit={ask}>
        <label>
          Ask about the community
          <input name="message" value={question} maxLength={2000} required
            onChange={(e) => setQuestion(e.target.value)} />
        </label>
        <button type="submit" disabled={busy}>Ask</button>
      </form>
    </div>
  );
}
