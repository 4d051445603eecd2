import { hex } from '@simtap/sdk/core/bytes';
import { describe, expect, it } from 'vitest';
import { CardTornError, StoreError } from './errors';
import { PersistentMemory, PersistentStore, TransientStore } from './memory';

function fresh(): { mem: PersistentMemory; store: PersistentStore } {
  const mem = new PersistentMemory();
  return { mem, store: new PersistentStore(mem, 'app/X/') };
}

describe('PersistentMemory transactions', () => {
  it('refuses a write outside atomically with NOT_IN_TRANSACTION', () => {
    const { store } = fresh();
    expect(() => store.put('a', 1)).toThrow(expect.objectContaining({ code: 'NOT_IN_TRANSACTION' }));
    expect(() => store.delete('a')).toThrow(StoreError);
  });

  it('commits all writes of a transaction and counts the commit as a persistent write', () => {
    const { mem, store } = fresh();
    store.atomically(() => {
      store.put('a', 1);
      store.put('b', hex`01 02`);
    });
    expect(store.getNumber('a')).toBe(1);
    expect(store.getBytes('b')).toEqual(hex`01 02`);
    expect(mem.writeCount).toBe(3);
    expect(mem.commitCount).toBe(1);
  });

  it('rolls back every write when the function throws', () => {
    const { mem, store } = fresh();
    store.atomically(() => store.put('a', 1));
    expect(() =>
      store.atomically(() => {
        store.put('a', 2);
        store.put('b', 'new');
        store.delete('a');
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(store.getNumber('a')).toBe(1);
    expect(store.has('b')).toBe(false);
    expect(mem.commitCount).toBe(1);
  });

  it('joins nested calls to the outer transaction and rolls back only a failing nested part', () => {
    const { mem, store } = fresh();
    store.atomically(() => {
      store.put('outer', 1);
      store.atomically(() => store.put('inner', 1));
      try {
        store.atomically(() => {
          store.put('failed', 1);
          throw new Error('inner');
        });
      } catch {
        // caught by the outer function: the outer transaction continues
      }
      expect(mem.commitCount).toBe(0); // nothing committed before the outermost returns
    });
    expect(store.keys().sort()).toEqual(['inner', 'outer']);
    expect(mem.commitCount).toBe(1);
  });

  it('runs rollback hooks newest first', () => {
    const { mem } = fresh();
    const order: number[] = [];
    expect(() =>
      mem.atomically(() => {
        mem.onRollback(() => order.push(1));
        mem.onRollback(() => order.push(2));
        throw new Error('x');
      }),
    ).toThrow();
    expect(order).toEqual([2, 1]);
  });

  it('refuses an async function with TRANSACTION_ASYNC and rolls it back', async () => {
    const { store } = fresh();
    const p = Promise.resolve();
    expect(() =>
      store.atomically(() => {
        store.put('a', 1);
        return p;
      }),
    ).toThrow(expect.objectContaining({ code: 'TRANSACTION_ASYNC' }));
    expect(store.has('a')).toBe(false);
    await p;
  });

  it('refuses a snapshot inside a transaction', () => {
    const { mem } = fresh();
    mem.atomically(() => {
      expect(() => mem.entries()).toThrow(expect.objectContaining({ code: 'TRANSACTION_OPEN' }));
    });
  });
});

describe('PersistentMemory values', () => {
  it('copies bytes on the way in and out', () => {
    const { store } = fresh();
    const b = hex`01 02 03`;
    store.atomically(() => store.put('b', b));
    b[0] = 0xff;
    const got = store.getBytes('b')!;
    expect(got).toEqual(hex`01 02 03`);
    got[1] = 0xff;
    expect(store.getBytes('b')).toEqual(hex`01 02 03`);
  });

  it('stores deep-frozen JSON copies', () => {
    const { store } = fresh();
    const v = { list: [1, 2], name: 'x' };
    store.atomically(() => store.put('j', v));
    v.list.push(3);
    const got = store.getJson<{ list: number[] }>('j')!;
    expect(got.list).toEqual([1, 2]);
    expect(Object.isFrozen(got) && Object.isFrozen(got.list)).toBe(true);
  });

  it('rejects values that are not bytes or JSON-safe', () => {
    const { store } = fresh();
    for (const bad of [
      Number.NaN,
      Number.POSITIVE_INFINITY,
      undefined,
      new Date(),
      new Map(),
      () => 1,
      { a: undefined },
    ])
      expect(() => store.atomically(() => store.put('x', bad as never))).toThrow(
        expect.objectContaining({ code: 'STORE_VALUE_INVALID' }),
      );
    expect(() => store.atomically(() => store.put('', 1))).toThrow(
      expect.objectContaining({ code: 'STORE_KEY_INVALID' }),
    );
  });

  it('typed getters throw STORE_TYPE_MISMATCH on another type', () => {
    const { store } = fresh();
    store.atomically(() => {
      store.put('n', 1);
      store.put('b', hex`00`);
    });
    expect(() => store.getBytes('n')).toThrow(expect.objectContaining({ code: 'STORE_TYPE_MISMATCH' }));
    expect(() => store.getNumber('b')).toThrow(expect.objectContaining({ code: 'STORE_TYPE_MISMATCH' }));
    expect(() => store.getString('n')).toThrow(StoreError);
    expect(() => store.getJson('b')).toThrow(StoreError);
    expect(store.getNumber('missing')).toBeUndefined();
  });

  it('keeps namespaces apart and clears one', () => {
    const mem = new PersistentMemory();
    const a = new PersistentStore(mem, 'app/A/');
    const b = new PersistentStore(mem, 'app/B/');
    mem.atomically(() => {
      a.put('k', 1);
      b.put('k', 2);
    });
    mem.atomically(() => a.clear());
    expect(a.keys()).toEqual([]);
    expect(b.getNumber('k')).toBe(2);
  });
});

describe('PersistentMemory tears', () => {
  function threeWrites(store: PersistentStore): void {
    store.atomically(() => {
      store.put('a', 2);
      store.put('b', 2);
      store.put('c', 2);
    });
  }

  function state(store: PersistentStore): unknown[] {
    return [store.get('a'), store.get('b'), store.get('c')];
  }

  for (const when of ['before', 'after'] as const)
    for (let n = 1; n <= 3; n++)
      it(`a tear ${when} data write ${n} leaves the old state`, () => {
        const { mem, store } = fresh();
        store.atomically(() => {
          for (const k of ['a', 'b', 'c']) store.put(k, 1);
        });
        let torn = false;
        mem.onTear = () => {
          torn = true;
        };
        mem.armTear(n, when);
        expect(() => threeWrites(store)).toThrow(CardTornError);
        expect(torn).toBe(true);
        expect(state(store)).toEqual([1, 1, 1]);
        expect(mem.torn).toBe(true);
        expect(() => threeWrites(store)).toThrow(CardTornError); // no power, no writes
        mem.revive();
        threeWrites(store);
        expect(state(store)).toEqual([2, 2, 2]);
      });

  it('a tear before the commit record rolls back, after it keeps the new state', () => {
    for (const [when, expected] of [
      ['before', [undefined, undefined, undefined]],
      ['after', [2, 2, 2]],
    ] as const) {
      const { mem, store } = fresh();
      mem.armTear(4, when);
      expect(() => threeWrites(store)).toThrow(CardTornError);
      expect(state(store)).toEqual(expected);
    }
  });

  it('a tear swallowed by the transaction function still rolls back', () => {
    const { mem, store } = fresh();
    mem.armTear(1);
    expect(() =>
      store.atomically(() => {
        try {
          store.put('a', 1);
        } catch {
          // a careless applet
        }
        return 0;
      }),
    ).toThrow(CardTornError);
    expect(store.has('a')).toBe(false);
  });

  it('counts writes from the moment a tear is armed', () => {
    const { mem, store } = fresh();
    threeWrites(store); // 4 writes
    mem.armTear(2, 'after');
    expect(() => threeWrites(store)).toThrow(CardTornError);
    expect(mem.writeCount).toBe(6);
    expect(mem.tearCount).toBe(1);
  });
});

describe('TransientStore', () => {
  it('holds values until cleared', () => {
    const t = new TransientStore();
    t.set('k', { x: 1 });
    expect(t.get<{ x: number }>('k')?.x).toBe(1);
    expect(t.size).toBe(1);
    t.clear();
    expect(t.has('k')).toBe(false);
  });
});

describe('TransientStore disposers', () => {
  it('runs onClear when the runtime clears the store, not on delete or overwrite', async () => {
    const { TransientStore } = await import('./memory');
    const t = new TransientStore();
    const key = Uint8Array.of(1, 2, 3);
    let overwritten = 0;
    t.set('a', key, () => key.fill(0));
    t.set('b', 1, () => overwritten++);
    t.set('b', 2);
    t.set('c', 3, () => {
      throw new Error('boom');
    });
    t.delete('c');
    t.clear();
    expect(key).toEqual(new Uint8Array(3));
    expect(overwritten).toBe(0);
    expect(t.size).toBe(0);
  });
});
