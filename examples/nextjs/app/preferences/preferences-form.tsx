'use client';
/*
 * app/preferences/preferences-form.tsx - the three categories of mail as
 * checkboxes with a Save button and, when the page was opened from a mail's
 * link, an "Unsubscribe" button for that mail's category. Both submit to
 * one server action, whose answer carries the categories as now stored.
 */
import { useActionState } from 'react';
import { updatePreferences, type Categories, type Category, type PrefsState } from './actions';

const LABELS: [Category, string, string][] = [
  ['newsletters', 'Newsletters', 'News from the organizers, and from your groups and events'],
  ['event_reminders', 'Event reminders', 'A day and an hour before the events you are going to'],
  ['waitlist_news', 'Waitlist news', 'When a seat opens up for you'],
];

export function PreferencesForm({ token, initial }: { token?: string; initial: Categories }) {
  const [state, action, pending] = useActionState<PrefsState, FormData>(updatePreferences, {});
  const prefs = state.prefs ?? initial;
  return (
    <>
      {token && (
        <form action={action} className="card">
          <input type="hidden" name="token" value={token} />
          <input type="hidden" name="intent" value="unsubscribe" />
          <p>Stop getting the kind of mail this link came with:</p>
          <button type="submit" disabled={pending}>Unsubscribe</button>
        </form>
      )}
      {/* the key remounts the checkboxes with what is now stored */}
      <form action={action} className="stack" key={JSON.stringify(prefs)}>
        {token && <input type="hidden" name="token" value={token} />}
        <input type="hidden" name="intent" value="save" />
        {LABELS.map(([name, label, hint]) => (
          <label key={name} className="check">
            <input type="checkbox" name={name} defaultChecked={prefs[name]} data-testid={`pref-${name}`} />
            <span>{label} <span className="muted">{hint}</span></span>
          </label>
        ))}
        {state.error && <p className="error" role="alert" data-testid="form-error">{state.error}</p>}
        {state.ok && <p className="ok" role="status" data-testid="form-ok">{state.ok}</p>}
        <button type="submit" disabled={pending}>Save</button>
      </form>
    </>
  );
}
