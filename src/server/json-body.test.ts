import { describe, expect, it } from 'vitest';
import { exceedsDepth } from './json-body.js';

/** The nesting check runs before JSON.parse on every body: brackets inside strings never count, whatever the escapes. */
describe('exceedsDepth', () => {
  it('counts brackets outside strings only', () => {
    expect(exceedsDepth('[[["a"]]]', 3)).toBe(false);
    expect(exceedsDepth('[[["a"]]]', 2)).toBe(true);
    expect(exceedsDepth('{"a":{"b":[1,{"c":2}]}}', 3)).toBe(true);
    expect(exceedsDepth('["[[[[[[", "{{{{{{"]', 1)).toBe(false);
  });

  it('sees where a string ends through escaped quotes and escaped backslashes', () => {
    // "\"[[[[" is one string: the escaped quote does not end it.
    expect(exceedsDepth(String.raw`["\"[[[["]`, 1)).toBe(false);
    // "\\" ends at its second quote (the backslash is escaped), so what follows is structure.
    expect(exceedsDepth(String.raw`["\\",[[[]]]]`, 3)).toBe(true);
    expect(exceedsDepth(String.raw`["\\\"[[[["]`, 1)).toBe(false);
    expect(exceedsDepth(String.raw`["a\\\\",[[]]]`, 2)).toBe(true);
  });

  it('leaves an unterminated string to the parser', () => {
    expect(exceedsDepth('["abc', 1)).toBe(false);
    expect(exceedsDepth('[[[["', 2)).toBe(true);
  });
});
