/*
 * lib/safety.ts - pure checks used by the server actions, kept free of
 * Next.js imports so that e2e/safety.test.mjs can test them directly.
 */

/**
 * Where to send the browser after signing in: `next` when it is a
 * same-origin relative path, else "/". Accepted: starts with a single "/",
 * and holds no "//", no backslash (browsers read "/\evil.example" as
 * "//evil.example") and no control characters or spaces (browsers strip
 * tabs and newlines from URLs).
 */
export function safeNextPath(next: string | null | undefined): string {
  if (typeof next !== 'string' || next.length === 0 || next.length > 2048)
    return '/';
  if (next[0] !== '/' || next.includes('//') || next.includes('\\'))
    return '/';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0020\u007f-\u009f]/.test(next))
    return '/';
  return next;
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

/** The host name of a Host header ("example.org:3000" -> "example.org"). */
function hostName(host: string): string {
  const h = host.trim().toLowerCase();
  if (h.startsWith('['))
    return h.slice(0, h.indexOf(']') + 1);
  const colon = h.indexOf(':');
  return colon < 0 ? h : h.slice(0, colon);
}

/**
 * Why a Secure session cookie would not survive this request, or null when
 * it would. Browsers keep a Secure cookie only from an HTTPS page or from
 * localhost; over plain HTTP elsewhere they drop it silently, and the member
 * would seem signed in and then be signed out. The request counts as HTTPS
 * when the browser's Origin is https: or a proxy says X-Forwarded-Proto:
 * https.
 */
export function secureCookieProblem(req: {
  host: string | null;
  origin: string | null;
  forwardedProto: string | null;
}): string | null {
  const proto = (req.forwardedProto ?? '').split(',')[0].trim().toLowerCase();
  if (proto === 'https' || (req.origin ?? '').toLowerCase().startsWith('https://'))
    return null;
  let host = req.host ?? '';
  if (req.origin) {
    try {
      host = new URL(req.origin).host;
    } catch {
      /* keep the Host header */
    }
  }
  const name = hostName(host);
  if (LOOPBACK.has(name) || name.endsWith('.localhost'))
    return null;
  return 'This site is served over plain HTTP, so your browser would drop the secure ' +
    'session cookie and sign you out at once. Open it over HTTPS (a proxy in front must ' +
    'send X-Forwarded-Proto: https), or, on a trusted network only, start the app with ' +
    'COOKIE_SECURE=0.';
}
