import { OPTIONAL_ATTRIBUTES } from '../envelope.ts';

/*
 * What the CloudEvents protocol bindings in binary content mode share, whatever the transport:
 * which attributes travel in headers of their own, how a structured-mode event announces
 * itself, and how header text is read.
 */

/**
 * The standard attributes a binding writes each in a prefixed header of its own (`ce_id` on
 * Kafka, `ce-id` on NATS), in the order Herald writes them: the required ones, then the
 * optional standard ones (`time`, `subject`, …) except `datacontenttype`, which travels in the
 * transport's `content-type` header instead.
 */
export const HEADER_ATTRIBUTES = [
  'specversion',
  'id',
  'source',
  'type',
  ...OPTIONAL_ATTRIBUTES.filter(
    (name): name is Exclude<(typeof OPTIONAL_ATTRIBUTES)[number], 'datacontenttype'> =>
      name !== 'datacontenttype',
  ),
] as const;

const STRUCTURED = /^application\/cloudevents\+json(\s*;.*)?$/i;

/**
 * True when a `content-type` announces a structured-mode event: the whole event as JSON
 * (`application/cloudevents+json`, with any parameters).
 */
export function isStructuredContentType(contentType: string): boolean {
  return STRUCTURED.test(contentType);
}

/**
 * A UTF-8 decoder that throws a `TypeError` on malformed input instead of replacing it, so a
 * header that is not text is refused rather than read as something else. One instance serves
 * every binding: decoding whole values keeps no state between calls.
 */
export const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
