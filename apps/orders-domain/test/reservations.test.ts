import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { StoreTransaction } from '@herald/core';
import type { Reservation, StockLevel } from '../src/inventory.ts';
import { commitReservation, releaseReservation } from '../src/reservations.ts';
import { COLLECTIONS } from '../src/topology.ts';

/** A transaction over documents in memory: the reads and writes settling a reservation makes. */
function documents(initial: Record<string, Record<string, unknown>> = {}) {
  const collections = new Map(
    Object.entries(initial).map(([name, docs]) => [name, new Map(Object.entries(docs))]),
  );
  const collection = (name: string) => {
    let docs = collections.get(name);
    if (docs === undefined) collections.set(name, (docs = new Map<string, unknown>()));
    return docs;
  };
  let writes = 0;
  const tx = {
    get: async (name: string, id: string) => collection(name).get(id),
    put: async (name: string, id: string, value: unknown) => {
      writes++;
      collection(name).set(id, value);
    },
  } as unknown as StoreTransaction;
  return {
    tx,
    doc: <T>(name: string, id: string) => collection(name).get(id) as T | undefined,
    writes: () => writes,
  };
}

const reserved: Reservation = { orderId: 'o1', lines: [{ sku: 'A', quantity: 2 }], status: 'reserved' };
const stockA: StockLevel = { sku: 'A', available: 3, reserved: 2 };
const withReservation = (reservation: Reservation) =>
  documents({ [COLLECTIONS.reservations]: { o1: reservation }, [COLLECTIONS.stock]: { A: stockA } });

describe('settling a reservation', () => {
  it('gives the stock of a reserved order back and marks it released', async () => {
    const store = withReservation(reserved);
    const before = await releaseReservation(store.tx, 'o1');
    assert.deepEqual(before, reserved);
    assert.deepEqual(store.doc(COLLECTIONS.stock, 'A'), { sku: 'A', available: 5, reserved: 0 });
    assert.equal(store.doc<Reservation>(COLLECTIONS.reservations, 'o1')?.status, 'released');
  });

  it('lets the stock of a reserved order go and marks it committed', async () => {
    const store = withReservation(reserved);
    const before = await commitReservation(store.tx, 'o1');
    assert.deepEqual(before, reserved);
    assert.deepEqual(store.doc(COLLECTIONS.stock, 'A'), { sku: 'A', available: 3, reserved: 0 });
    assert.equal(store.doc<Reservation>(COLLECTIONS.reservations, 'o1')?.status, 'committed');
  });

  it('records an order released before its reservation as cancelled, so a late reserve holds nothing', async () => {
    const store = documents();
    assert.equal(await releaseReservation(store.tx, 'o1'), undefined);
    assert.deepEqual(store.doc(COLLECTIONS.reservations, 'o1'), {
      orderId: 'o1',
      lines: [],
      status: 'cancelled',
    });
  });

  it('writes nothing when committing an order without a reservation', async () => {
    const store = documents();
    assert.equal(await commitReservation(store.tx, 'o1'), undefined);
    assert.equal(store.writes(), 0);
  });

  it('changes nothing when the reservation is already settled', async () => {
    for (const settle of [releaseReservation, commitReservation]) {
      const released: Reservation = { ...reserved, status: 'released' };
      const store = withReservation(released);
      assert.deepEqual(await settle(store.tx, 'o1'), released);
      assert.equal(store.writes(), 0);
      assert.deepEqual(store.doc(COLLECTIONS.stock, 'A'), stockA);
    }
  });
});
