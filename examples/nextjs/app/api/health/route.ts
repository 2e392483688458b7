/* app/api/health/route.ts - readiness: the store opens and answers. */
import { NextResponse } from 'next/server';
import { getStore } from '@/lib/community';
import { version } from '@libcommunity/node';

export async function GET() {
  const store = await getStore();
  await store.events.list({ limit: 1 });
  return NextResponse.json({ ok: true, library: version, backend: store.backend });
}
