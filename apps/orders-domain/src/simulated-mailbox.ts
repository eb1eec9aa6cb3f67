// A mail provider outside the shop, simulated: every message it accepted is kept (a collection
// standing for the provider's outbox), readable by tests and people. Like real providers it
// takes an idempotency key: a message sent again with the same key is the same message, stored
// once, however often the sender retried after a crash or a lost answer.
import { createHash } from 'node:crypto';
import type { Store } from '@herald/core';
import type { Message } from './notification.ts';
import { COLLECTIONS } from './topology.ts';

/** A message as the mailbox holds it. */
export interface MailboxMessage extends Message {
  readonly messageId: string;
  readonly idempotencyKey: string;
  readonly sentAt: string;
  /** How many send requests carried this key (1 unless the sender retried). */
  readonly requests: number;
}

/**
 * The simulated provider.
 *
 * @example await new SimulatedMailbox(store).send(message, ctxEffectKey);
 */
export class SimulatedMailbox {
  readonly #store: Store;

  constructor(store: Store) {
    this.#store = store;
  }

  /** Accepts a message; returns its id, the same for every send with the same key. */
  async send(message: Message, idempotencyKey: string): Promise<{ readonly messageId: string }> {
    const messageId = `msg_${createHash('sha256').update(idempotencyKey).digest('hex').slice(0, 24)}`;
    await this.#store.transaction(async (tx) => {
      const existing = await tx.get<MailboxMessage>(COLLECTIONS.mailbox, messageId);
      const stored: MailboxMessage =
        existing === undefined
          ? { ...message, messageId, idempotencyKey, sentAt: new Date().toISOString(), requests: 1 }
          : { ...existing, requests: existing.requests + 1 };
      await tx.put(COLLECTIONS.mailbox, messageId, stored);
    });
    return { messageId };
  }

  /** Every message, optionally only those about one order. */
  async messages(orderId?: string): Promise<MailboxMessage[]> {
    const all = (await this.#store.list<MailboxMessage>(COLLECTIONS.mailbox)).map((r) => r.value);
    return orderId === undefined ? all : all.filter((m) => m.orderId === orderId);
  }
}
