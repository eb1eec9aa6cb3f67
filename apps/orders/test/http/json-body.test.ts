import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { duplicateKey, nestingDepth, parseJsonBody } from '@herald/orders-domain/http/json-body.ts';
import { ProblemError } from '@herald/orders-domain/http/problem.ts';

const slugOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof ProblemError);
    return error.problem.type;
  }
  assert.fail('expected a ProblemError');
};

describe('the JSON body parser', () => {
  it('measures nesting without parsing, ignoring brackets inside strings', () => {
    assert.equal(nestingDepth('{"a":[1,{"b":"[[[{{{"}]}'), 3);
    assert.equal(nestingDepth('"\\"["'), 0);
  });

  it('refuses a depth bomb before JSON.parse sees it', () => {
    assert.equal(
      slugOf(() => parseJsonBody('['.repeat(100_000), 8)),
      '/problems/body-too-deep',
    );
  });

  it('refuses a property that appears twice in one object, at any depth, and only then', () => {
    assert.equal(
      slugOf(() => parseJsonBody('{"customerId":"alice","customerId":"mallory"}', 8)),
      '/problems/duplicate-property',
    );
    assert.equal(duplicateKey('{"a":1,"b":{"a":2},"a":3}'), 'a');
    assert.equal(duplicateKey('{"items":[{"sku":"A","sku":"B"}]}'), 'sku');
    assert.equal(duplicateKey('{"a":1,"\\u0061":2}'), 'a', 'an escaped name means the same name');
    assert.equal(
      duplicateKey('{"a":{"a":1},"b":[{"a":1},{"a":2}]}'),
      undefined,
      'equal names in different objects',
    );
    assert.equal(duplicateKey('{"a":"a","b":["a","a"],"c":"\\"a\\""}'), undefined, 'values are not names');
  });

  it('refuses prototype-pollution keys at any depth', () => {
    assert.equal(
      slugOf(() => parseJsonBody('{"a":{"__proto__":{"x":1}}}', 8)),
      '/problems/forbidden-property',
    );
    assert.equal(
      slugOf(() => parseJsonBody('[{"constructor":{"prototype":{"x":1}}}]', 8)),
      '/problems/forbidden-property',
    );
    assert.deepEqual(parseJsonBody('{"constructor":"fine"}', 8), { constructor: 'fine' });
  });

  it('refuses empty and malformed bodies', () => {
    assert.equal(
      slugOf(() => parseJsonBody('  ', 8)),
      '/problems/malformed-json',
    );
    assert.equal(
      slugOf(() => parseJsonBody('{"a":', 8)),
      '/problems/malformed-json',
    );
  });
});
