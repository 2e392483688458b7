/*
 * app/layout.tsx - the page frame: navigation and who is signed in
 * (members.me with the session cookie, in a server component).
 */
import type { Metadata } from 'next';
import Link from 'next/link';
import type { ReactNode } from 'react';
import { canOrganize, currentMember } from '@/lib/community';
import { logout } from './actions';
import './globals.css';

export const metadata: Metadata = {
  title: 'Community',
  description: 'Events of the community, on libcommunity',
};

export default async function RootLayout({ children }: { children: ReactNode }) {
  const me = await currentMember();
  return (
    <html lang="en">
      <body>
        <header>
          <Link href="/" className="brand">Community</Link>
          {canOrganize(me) && <Link href="/organize">Organize</Link>}
          {me ? (
            <>
              <Link href="/tickets">My tickets</Link>
              <Link href="/membership">Membership</Link>
              <Link href="/preferences">Mail preferences</Link>
              <Link href="/assistant">Assistant</Link>
              <span data-testid="whoami">{me.name}</span>
              <form action={logout}><button className="secondary" type="submit">Log out</button></form>
            </>
          ) : (
            <>
              <Link href="/login">Log in</Link>
              <Link href="/signup">Sign up</Link>
            </>
          )}
        </header>
        <main>{children}</main>
      </body>
    </html>
  );
}
