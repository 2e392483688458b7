/*
 * app/money.ts - amounts in minor units of an ISO 4217 currency as text.
 */

/** 1234 EUR minor units -> "€12.34" (the currency's own number of decimals). */
export function money(minor: number, currency: string): string {
  const f = new Intl.NumberFormat('en', { style: 'currency', currency });
  const digits = f.resolvedOptions().maximumFractionDigits ?? 2;
  return f.format(minor / 10 ** digits);
}
