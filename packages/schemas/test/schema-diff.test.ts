import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { diffSchemas, isCompatibleChange } from '../src/schema-diff.ts';

void describe('diffSchemas', () => {
  void it('names each difference with its JSON pointer and whether a reader survives it', () => {
    const writer = {
      type: 'object',
      properties: {
        order: { type: 'object', properties: { total: { type: 'integer' } }, additionalProperties: false },
      },
      additionalProperties: false,
    };
    const reader = {
      type: 'object',
      properties: {
        order: {
          type: 'object',
          properties: { total: { type: 'number', maximum: 10 } },
          additionalProperties: false,
        },
      },
      additionalProperties: false,
    };
    assert.deepEqual(
      diffSchemas(writer, reader).map((d) => [d.kind, d.path, d.compatible]),
      [
        ['MAXIMUM_ADDED', '#/properties/order/properties/total/maximum', false],
        ['TYPE_EXTENDED', '#/properties/order/properties/total', true],
      ],
    );
  });

  void it('terminates on recursive schemas on either side', () => {
    const tree = { type: 'object', properties: { children: { type: 'array', items: { $ref: '#' } } } };
    assert.deepEqual(diffSchemas(tree, tree), []);
    const viaDefinitions = {
      $ref: '#/definitions/node',
      definitions: { node: { type: 'object', properties: { next: { $ref: '#/definitions/node' } } } },
    };
    assert.deepEqual(diffSchemas(viaDefinitions, viaDefinitions), []);
  });

  void it('refuses references outside the schema and unknown types', () => {
    assert.throws(() => diffSchemas({ $ref: 'https://example.com/s.json' }, true), /only local \$ref/);
    assert.throws(() => diffSchemas({ $ref: '#/definitions/none' }, true), /points at nothing/);
    assert.throws(() => diffSchemas({ type: 'date' }, true), /unknown JSON Schema type "date"/);
  });

  void it('reads draft-4 boolean exclusive bounds as exclusive limits', () => {
    const draft4 = { type: 'number', minimum: 0, exclusiveMinimum: true };
    const draft7 = { type: 'number', exclusiveMinimum: 0 };
    assert.deepEqual(diffSchemas(draft4, draft7), []);
  });

  void it('treats a schema with only metadata as accepting anything', () => {
    assert.deepEqual(
      diffSchemas({ description: 'any' }, true).map((d) => [d.kind, d.compatible]),
      [['DESCRIPTION_CHANGED', true]],
    );
    assert.equal(isCompatibleChange('TYPE_CHANGED'), false);
    assert.equal(isCompatibleChange('OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL'), true);
  });
});
