'use client';
/* app/organize/create-event-form.tsx - the organizer's "new event" form. */
import { useActionState } from 'react';
import { createEvent, type FormState } from '../actions';

const initial: FormState = {};

export function CreateEventForm({ defaultTimezone }: { defaultTimezone: string }) {
  const [state, action, pending] = useActionState(createEvent, initial);
  return (
    <form className="stack" action={action}>
      <label>Title<input name="title" required maxLength={200} /></label>
      <label>Description<textarea name="description" rows={4} maxLength={20000} /></label>
      <label>Format
        <select name="format" defaultValue="in_person">
          <option value="in_person">In person</option>
          <option value="online">Online</option>
          <option value="hybrid">Hybrid</option>
        </select>
      </label>
      <label>Venue<input name="venue" maxLength={500} /></label>
      <label>Online link<input name="online_url" type="url" /></label>
      <label>Starts<input name="start_local" type="datetime-local" required /></label>
      <label>Ends<input name="end_local" type="datetime-local" required /></label>
      <label>Time zone<input name="timezone" defaultValue={defaultTimezone} required /></label>
      <label>Seats (empty: unlimited)<input name="capacity" type="number" min={0} /></label>
      {state.error && <p className="error" role="alert">{state.field ? `${state.field}: ` : ''}{state.error}</p>}
      <button type="submit" disabled={pending}>Create and publish</button>
    </form>
  );
}
