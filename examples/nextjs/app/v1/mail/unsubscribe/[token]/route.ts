/*
 * app/v1/mail/unsubscribe/[token]/route.ts - the List-Unsubscribe URL of
 * the mails, when the worker's --api-url is this app's origin.
 *
 * POST is RFC 8058 one-click unsubscribe, sent by the mail client itself
 * (body "List-Unsubscribe=One-Click", ignored: the signed token in the path
 * is the authority): mail.unsubscribe turns the link's category off.
 * GET is a person opening the link in a browser: it goes to the
 * preferences page for the token, where a button unsubscribes (a link
 * scanner that follows it changes nothing).
 */
import { NextResponse, type NextRequest } from 'next/server';
import { getStore, isCommunityError } from '@/lib/community';

type Params = { params: Promise<{ token: string }> };

export async function POST(_req: NextRequest, { params }: Params) {
  const { token } = await params;
  try {
    const store = await getStore();
    return NextResponse.json(await store.mail.unsubscribe({ token }));
  } catch (e) {
    if (isCommunityError(e)) {
      const status = { CM_EINVAL: 400, CM_ENOTFOUND: 404 }[e.code as string] ?? 500;
      return NextResponse.json({ error: { code: e.code, message: e.message, field: e.field } }, { status });
    }
    throw e;
  }
}

export async function GET(req: NextRequest, { params }: Params) {
  const { token } = await params;
  const to = req.nextUrl.clone();
  to.pathname = '/preferences';
  to.search = `?token=${encodeURIComponent(token)}`;
  return NextResponse.redirect(to, 303);
}
