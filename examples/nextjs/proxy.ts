/*
 * proxy.ts - runs before every request: a per-request CSP nonce (passed on
 * to the render in the request headers, so Next.js puts it on its scripts)
 * and the security headers of lib/security-headers.ts on the response.
 */
import { NextResponse, type NextRequest } from 'next/server';
import {
  contentSecurityPolicy, STATIC_SECURITY_HEADERS, strictTransportSecurity,
} from './lib/security-headers';

export function proxy(request: NextRequest) {
  const nonce = Buffer.from(crypto.randomUUID()).toString('base64');
  const csp = contentSecurityPolicy(nonce, process.env.NODE_ENV !== 'production');
  const reqHeaders = new Headers(request.headers);
  reqHeaders.set('x-nonce', nonce);
  reqHeaders.set('Content-Security-Policy', csp);
  const response = NextResponse.next({ request: { headers: reqHeaders } });
  response.headers.set('Content-Security-Policy', csp);
  for (const [name, value] of STATIC_SECURITY_HEADERS)
    response.headers.set(name, value);
  const hsts = strictTransportSecurity({
    protocol: request.nextUrl.protocol,
    forwardedProto: request.headers.get('x-forwarded-proto'),
    maxAge: process.env.HSTS_MAX_AGE,
  });
  if (hsts)
    response.headers.set('Strict-Transport-Security', hsts);
  return response;
}
