// Money is an integer number of minor units (cents for EUR, yen for JPY) and a currency. It is
// never a float: sums and products are checked to stay safe integers, so a total cannot silently
// lose precision.

/** The currencies the shop sells in. */
export const CURRENCIES = ['EUR', 'USD', 'GBP', 'CHF', 'JPY'] as const;

export type Currency = (typeof CURRENCIES)[number];

/** Digits after the decimal point of each currency's major unit (ISO 4217). */
export const MINOR_UNIT_DIGITS: Readonly<Record<Currency, number>> = {
  EUR: 2,
  USD: 2,
  GBP: 2,
  CHF: 2,
  JPY: 0,
};

/** True when `value` is one of {@link CURRENCIES}. */
export function isCurrency(value: unknown): value is Currency {
  return typeof value === 'string' && (CURRENCIES as readonly string[]).includes(value);
}

/** An amount is a safe, non-negative integer of minor units. */
export function isAmount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/**
 * `unitPrice × quantity`, or undefined when the product is not a safe integer (the caller reports
 * it as an out-of-range order rather than storing a rounded total).
 */
export function lineTotal(unitPrice: number, quantity: number): number | undefined {
  const total = unitPrice * quantity;
  return isAmount(total) ? total : undefined;
}

/** The sum of amounts, or undefined when it is not a safe integer. */
export function sumAmounts(amounts: readonly number[]): number | undefined {
  let total = 0;
  for (const amount of amounts) {
    total += amount;
    if (!isAmount(total)) return undefined;
  }
  return total;
}

/**
 * Formats minor units for people, independent of the machine's locale so that messages are
 * reproducible: `formatMoney(123456, 'EUR')` is `"1234.56 EUR"`, `formatMoney(500, 'JPY')` is
 * `"500 JPY"`.
 */
export function formatMoney(amount: number, currency: Currency): string {
  const digits = MINOR_UNIT_DIGITS[currency];
  if (digits === 0) return `${amount} ${currency}`;
  const sign = amount < 0 ? '-' : '';
  const text = String(Math.abs(amount)).padStart(digits + 1, '0');
  return `${sign}${text.slice(0, -digits)}.${text.slice(-digits)} ${currency}`;
}

/** Whole major units of an amount, rounded down: 1999 EUR cents → 19. */
export function majorUnits(amount: number, currency: Currency): number {
  return Math.floor(amount / 10 ** MINOR_UNIT_DIGITS[currency]);
}
