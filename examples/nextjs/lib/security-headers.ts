/*
 * lib/security-headers.ts - the security headers of every response, built
 * by proxy.ts; kept free of Next.js imports so that e2e/safety.test.mjs can
 * test them directly.
 *
 * The Content-Security-Policy carries a fresh nonce per request: Next.js
 * reads it from the request's own Content-Security-Policy header (set by
 * the proxy) and puts it on the inline scripts that hydrate the page.
 */

/** The policy for one response. `dev`: `next dev` needs eval for its
 * error overlay and fast refresh. */
export function contentSecurityPolicy(nonce: string, dev = false): string {
  return [
    "default-src 'self'",
    `script-src 'self' 'nonce-${nonce}' 'strict-dynamic'${dev ? " 'unsafe-eval'" : ''}`,
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** Strict-Transport-Security for a request that came over HTTPS (directly,
 * or `X-Forwarded-Proto: https` from the TLS proxy in front), else null.
 * `maxAge`: HSTS_MAX_AGE in seconds (default one year; 0 sends none). */
export function strictTransportSecurity(req: {
  protocol: string; forwardedProto: string | null; maxAge: string | undefined;
}): string | null {
  const proto = (req.forwardedProto ?? '').split(',')[0].trim().toLowerCase();
  if (proto !== 'https' && req.protocol !== 'https:')
    return null;
  const raw = req.maxAge === undefined || req.maxAge === '' ? '31536000' : req.maxAge;
  if (!/^\d{1,10}$/.test(raw))
    throw new Error(`HSTS_MAX_AGE must be a number of seconds, not "${raw}"`);
  const age = Number(raw);
  return age > 0 ? `max-age=${age}; includeSubDomains` : null;
}

/** The headers that do not depend on the request. */
export const STATIC_SECURITY_HEADERS: ReadonlyArray<[string, string]> = [
  ['X-Frame-Options', 'DENY'],
  ['X-Content-Type-Options', 'nosniff'],
  ['Referrer-Policy', 'strict-origin-when-cross-origin'],
];
