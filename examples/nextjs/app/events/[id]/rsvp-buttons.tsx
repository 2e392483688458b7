'use client';
/*
 * app/events/[id]/rsvp-buttons.tsx - RSVP and cancel, bound to one event.
 * The library decides going versus waitlist and promotes the waitlist.
 */
import { useActionState } from 'react';
import { cancelRsvp, rsvp, type FormState } from '../../actions';

const initial: FormState = {};

export function RsvpButtons({ eventId, status }: { eventId: number; status: string | null }) {
  const [addState, addAction, adding] = useActionState(rsvp.bind(null, eventId), initial);
  const [cancelState, cancelAction, cancelling] = useActionState(cancelRsvp.bind(null, eventId), initial);
  const active = status === 'going' || status === 'waitlisted';
  const error = active ? cancelState.error : addState.error;
  return (
    <div className="card">
      <p data-testid="my-rsvp">
        {status === 'going' && 'You are going.'}
        {status === 'waitlisted' && 'You are on the waitlist.'}
        {!active && 'You have not RSVPed.'}
      </p>
      {active ? (
        <form action={cancelAction}>
          <button type="submit" className="secondary" disabled={cancelling}>Cancel my RSVP</button>
        </form>
      ) : (
        <form action={addAction}>
          <button type="submit" disabled={adding}>RSVP</button>
        </form>
      )}
      {error && <p className="error" role="alert">{error}</p>}
    </div>
  );
}
