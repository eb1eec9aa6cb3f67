import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { COUNTRY_CODES, isCountryCode } from '../src/countries.ts';
import { formatMoney, isCurrency, lineTotal, majorUnits, sumAmounts } from '../src/money.ts';

describe('money in minor units', () => {
  it('formats amounts with the currency’s own number of decimals, whatever the locale', () => {
    assert.equal(formatMoney(123456, 'EUR'), '1234.56 EUR');
    assert.equal(formatMoney(5, 'USD'), '0.05 USD');
    assert.equal(formatMoney(500, 'JPY'), '500 JPY');
    assert.equal(formatMoney(-1999, 'GBP'), '-19.99 GBP');
  });

  it('refuses products and sums that would stop being safe integers', () => {
    assert.equal(lineTotal(1999, 3), 5997);
    assert.equal(lineTotal(Number.MAX_SAFE_INTEGER, 2), undefined);
    assert.equal(sumAmounts([1, 2, 3]), 6);
    assert.equal(sumAmounts([Number.MAX_SAFE_INTEGER, 1]), undefined);
  });

  it('counts whole major units, rounding down', () => {
    assert.equal(majorUnits(1999, 'EUR'), 19);
    assert.equal(majorUnits(900, 'JPY'), 900);
  });

  it('knows its currencies and nothing else', () => {
    assert.ok(isCurrency('EUR'));
    assert.ok(!isCurrency('eur'));
    assert.ok(!isCurrency('XXX'));
  });
});

describe('country codes', () => {
  it('holds the 249 assigned ISO 3166-1 alpha-2 codes, upper case only', () => {
    assert.equal(COUNTRY_CODES.size, 249);
    assert.ok(isCountryCode('DE'));
    assert.ok(!isCountryCode('de'));
    assert.ok(!isCountryCode('ZZ'));
    assert.ok(!isCountryCode('UK'), 'UK is not an ISO code (GB is)');
  });
});
