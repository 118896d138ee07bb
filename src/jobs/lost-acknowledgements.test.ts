import { describe, expect, it } from 'vitest';
import { isLostDatabaseConnection } from './lost-acknowledgements.js';

describe('which unhandled rejections a worker survives', () => {
  it('a lost database connection (what pg-boss 10 leaves unhandled when acknowledging during a restart)', () => {
    // The shape pg raised in the fault test: "the database system is starting up".
    const startingUp = Object.assign(new Error('the database system is starting up'), { code: '57P03', severity: 'FATAL' });
    expect(isLostDatabaseConnection(startingUp)).toBe(true);
    expect(isLostDatabaseConnection(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }))).toBe(true);
    expect(isLostDatabaseConnection(Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }))).toBe(true);
    expect(isLostDatabaseConnection(new Error('Connection terminated unexpectedly'))).toBe(true);
  });

  it('not a bug: anything else still ends the process', () => {
    expect(isLostDatabaseConnection(new TypeError("Cannot read properties of undefined (reading 'digest')"))).toBe(false);
    expect(isLostDatabaseConnection(Object.assign(new Error('duplicate key value violates unique constraint'), { code: '23505' }))).toBe(false);
    expect(isLostDatabaseConnection('a string')).toBe(false);
  });
});
