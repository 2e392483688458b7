/*
 * app/api/events/route.ts - a route handler: upcoming events as JSON
 * (GET /api/events?q=...), for the caller of the session cookie.
 */
import { NextResponse, type NextRequest } from 'next/server';
import { getStore, isCommunityError, searchEvents, sessionActor } from '@/lib/community';

export async function GET(req: NextRequest) {
  const q = req.nextUrl.searchParams.get('q')?.trim();
  const actor = await sessionActor();
  try {
    if (q)
      return NextResponse.json(await searchEvents(q, actor));
    const store = await getStore();
    return NextResponse.json(await store.events.list({ limit: 50 }, actor));
  } catch (e) {
    if (isCommunityError(e)) {
      const status = { CM_EINVAL: 400, CM_EAUTH: 401, CM_EPERM: 403, CM_ENOTFOUND: 404 }[e.code as string] ?? 500;
      return NextResponse.json({ error: { code: e.code, message: e.message, field: e.field } }, { status });
    }
    throw e;
  }
}
