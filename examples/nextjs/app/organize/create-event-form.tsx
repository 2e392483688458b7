'use client';
/*
 * app/organize/create-event-form.tsx - the "new event" form. After a failed
 * submission the fields keep what was typed, and the error names the field
 * by its label.
 */
import { useActionState } from 'react';
import { createEvent, type FormState } from '../actions';

const initial: FormState = {};

const labels: Record<string, string> = {
  title: 'Title', description: 'Description', format: 'Format', venue: 'Venue',
  online_url: 'Online link', start_local: 'Starts', end_local: 'Ends', timezone: 'Time zone',
  capacity: 'Seats',
};

export function CreateEventForm({ defaultTimezone }: { defaultTimezone: string }) {
  const [state, action, pending] = useActionState(createEvent, initial);
  const v = state.values ?? {};
  const label = state.field ? labels[state.field] ?? state.field : '';
  return (
    <form className="stack" action={action}>
      <label>Title<input name="title" required maxLength={200} defaultValue={v.title} /></label>
      <label>Description<textarea name="description" rows={4} maxLength={20000} defaultValue={v.description} /></label>
      <label>Format
        <select name="format" defaultValue={v.format ?? 'in_person'} key={v.format}>
          <option value="in_person">In person</option>
          <option value="online">Online</option>
          <option value="hybrid">Hybrid</option>
        </select>
      </label>
      <label>Venue<input name="venue" maxLength={500} defaultValue={v.venue} /></label>
      <label>Online link<input name="online_url" type="url" defaultValue={v.online_url} /></label>
      <label>Starts<input name="start_local" type="datetime-local" required defaultValue={v.start_local} /></label>
      <label>Ends<input name="end_local" type="datetime-local" required defaultValue={v.end_local} /></label>
      <label>Time zone<input name="timezone" defaultValue={v.timezone ?? defaultTimezone} required /></label>
      <label>Seats (empty: unlimited)<input name="capacity" type="number" min={0} defaultValue={v.capacity} /></label>
      {state.error && (
        <p className="error" role="alert" data-testid="form-error">{label ? `${label}: ` : ''}{state.error}</p>
      )}
      <button type="submit" disabled={pending}>Create and publish</button>
    </form>
  );
}
