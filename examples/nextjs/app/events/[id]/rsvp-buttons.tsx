'use client';
/*
 * app/events/[id]/rsvp-buttons.tsx - RSVP and cancel, bound to one event.
 * The library decides going versus waitlist and promotes the waitlist; on a
 * full event the button says so ("Join waitlist"), a new waitlist entry
 * shows the position rsvps.add returns, and cancelling asks first.
 */
import { useActionState, useEffect, useState } from 'react';
import { cancelRsvp, rsvp, type FormState } from '../../actions';

const initial: FormState = {};

export function RsvpButtons({ eventId, status, full }: {
  eventId: number;
  status: string | null;
  full: boolean;
}) {
  const [addState, addAction, adding] = useActionState(rsvp.bind(null, eventId), initial);
  const [cancelState, cancelAction, cancelling] = useActionState(cancelRsvp.bind(null, eventId), initial);
  const [confirming, setConfirming] = useState(false);
  useEffect(() => setConfirming(false), [status]);
  const active = status === 'going' || status === 'waitlisted';
  const error = active ? cancelState.error : addState.error;
  const position = status === 'waitlisted' ? addState.position : null;
  return (
    <div className="card">
      <p data-testid="my-rsvp">
        {status === 'going' && 'You are going.'}
        {status === 'waitlisted' && 'You are on the waitlist.'}
        {!active && 'You have not RSVPed.'}
      </p>
      {position != null && (
        <p data-testid="waitlist-position">You are number {position} on the waitlist.</p>
      )}
      {active && !confirming && (
        <button type="button" className="secondary" onClick={() => setConfirming(true)}>
          Cancel my RSVP
        </button>
      )}
      {active && confirming && (
        <form action={cancelAction}>
          <p>Cancel your RSVP? {status === 'waitlisted'
            ? 'You leave the waitlist.'
            : 'Your seat goes to the next person on the waitlist.'}</p>
          <button type="submit" className="secondary" disabled={cancelling}>Yes, cancel it</button>{' '}
          <button type="button" onClick={() => setConfirming(false)}>Keep my RSVP</button>
        </form>
      )}
      {!active && (
        <form action={addAction}>
          <button type="submit" disabled={adding}>{full ? 'Join waitlist' : 'RSVP'}</button>
          {full && <span className="muted"> The event is full; you get a seat when one frees up.</span>}
        </form>
      )}
      {error && <p className="error" role="alert">{error}</p>}
    </div>
  );
}
