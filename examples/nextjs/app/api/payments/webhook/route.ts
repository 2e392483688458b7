/*
 * app/api/payments/webhook/route.ts - the payment provider's webhook
 * (payments.webhook). The body goes to the library exactly as received,
 * with the Stripe-Signature header: the library verifies the signature over
 * those bytes, stores the event once and applies it. Register
 * https://<this app>/api/payments/webhook at the provider.
 */
import { getStore, isCommunityError } from '@/lib/community';

export const dynamic = 'force-dynamic';

const STATUS: Record<string, number> = {
  CM_EAUTH: 401, CM_EINVAL: 400, CM_ENOTFOUND: 404, CM_ECONFLICT: 409, CM_ECONSTRAINT: 409,
  CM_EBUSY: 503,
};

export async function POST(req: Request): Promise<Response> {
  const payload = await req.text();
  const signature = req.headers.get('stripe-signature') ?? undefined;
  try {
    const store = await getStore();
    const event = await store.payments.webhook({ payload, ...(signature ? { signature } : {}) });
    return Response.json(event);
  } catch (e) {
    if (isCommunityError(e))
      return Response.json({ code: e.code, field: e.field, message: e.message },
        { status: STATUS[e.code] ?? 500 });
    throw e;
  }
}
