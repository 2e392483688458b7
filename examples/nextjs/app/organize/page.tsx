/*
 * app/organize/page.tsx - organizers (and every role above: the roles come
 * from events.create's declaration) create events here. The page only hides
 * the form from others; events.create itself checks the role.
 */
import Link from 'next/link';
import { canOrganize, currentMember, organizerRoles, rolesText } from '@/lib/community';
import { CreateEventForm } from './create-event-form';

export default async function OrganizePage() {
  const me = await currentMember();
  if (!me)
    return <p><Link href="/login?next=/organize">Log in</Link> to organize events.</p>;
  if (!canOrganize(me))
    return (
      <p>Only {rolesText(organizerRoles)} can create events. Ask an administrator for the
        organizer role.</p>
    );
  return (
    <>
      <h1>New event</h1>
      <CreateEventForm defaultTimezone={process.env.COMMUNITY_DEFAULT_TZ ?? 'UTC'} />
    </>
  );
}
