import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import type { EventSchema } from './condition.js';
import { appendExceptions, compileExceptions, parseExceptions, type RuleException } from './exceptions.js';

/**
 * Falco's own exception regression inputs, recorded verbatim (licence header left out), to show
 * that the kernel's exceptions read and append as Falco's do on files Falco's authors wrote, not
 * only on ours. Falco runs each against the capture cat_write.scap, in which `cat /dev/null`
 * opens a file, and expects zero detections: the appended values except that event.
 *
 *   falcosecurity/falco test/rules/exceptions/rule_exception_append_second_item.yaml
 *   falcosecurity/falco test/rules/exceptions/rule_exception_single_field_append.yaml
 *     both at commit c483f41605059bbe87a945ecdc88daa0a8e41d11
 *   falcosecurity/falco test/rules/exceptions/rule_exception_new_single_field_append.yaml
 *     at commit 34cebffd39ffed25f155a481522fde5942efaddb
 *   expectations: falcosecurity/testing tests/falco/legacy_test.go at commit d849b777dbad61ea3b48a5fa2ae739669e0fbaaf
 *     (TestFalco_Legacy_RuleExceptionAppendSecondItem, ..._RuleExceptionSingleFieldAppend,
 *     ..._RuleExceptionNewSingleFieldAppend: Detections().Count() == 0)
 *
 * The conditions are Falco's filter language, which the kernel does not read; only the
 * exceptions are taken, with Falco's field names given as a schema of their own.
 */
const APPEND_SECOND_ITEM = `
- rule: Open From Cat
  desc: A process named cat does an open
  condition: evt.type=open and proc.name=cat
  output: "An open was seen (command=%proc.cmdline)"
  exceptions:
    - name: proc_name
      fields: [proc.name]
    - name: proc_name_cmdline
      fields: [proc.name, proc.cmdline]
    - name: proc_name_cmdline_pname
      fields: [proc.name, proc.cmdline, proc.pname]
  priority: WARNING

- rule: Open From Cat
  exceptions:
    - name: proc_name
      values:
        - [not-cat]
    - name: proc_name_cmdline
      values:
        - [cat, "cat /dev/null"]
    - name: proc_name_cmdline_pname
      values:
        - [not-cat, "cat /dev/null", bash]
  append: true
`;

const SINGLE_FIELD_APPEND = `
- rule: Open From Cat
  desc: A process named cat does an open
  condition: evt.type=open and proc.name=cat
  output: "An open was seen (command=%proc.cmdline)"
  exceptions:
    - name: proc_cmdline
      fields: proc.cmdline
      comps: in
      values:
        - cat /dev/zero
  priority: WARNING

- rule: Open From Cat
  exceptions:
    - name: proc_cmdline
      values:
        - "cat /dev/null"
  append: true
`;

const NEW_SINGLE_FIELD_APPEND = `
- rule: Open From Cat
  desc: A process named cat does an open
  condition: evt.type=open and proc.name=cat
  output: "An open was seen (command=%proc.cmdline)"
  priority: WARNING

- rule: Open From Cat
  exceptions:
    - name: proc_cmdline
      fields: proc.cmdline
      comps: in
      values:
        - "cat /dev/null"
  append: true
`;

type Ev = { proc: Record<string, string> };
const FALCO_FIELDS: EventSchema<Ev> = { code: 'test', roots: new Set(['proc']), cel: (e) => ({ event: e }) };
/** The open of cat_write.scap, in Falco's field names. */
const CAT_OPEN: Ev = { proc: { name: 'cat', cmdline: 'cat /dev/null', pname: 'bash' } };
const OTHER_CAT: Ev = { proc: { name: 'cat', cmdline: 'cat /etc/shadow', pname: 'bash' } };

/** The rule's exceptions as Falco's loader would leave them: the first entry's, with the second's appended. */
function excepted(file: string): { base: (e: Ev) => boolean; appended: (e: Ev) => boolean } {
  const [rule, append] = parseYaml(file) as Array<Record<string, unknown>>;
  expect(append).toMatchObject({ rule: rule!.rule, append: true });
  const compile = (exceptions: RuleException[]) => compileExceptions(exceptions, new Map(), FALCO_FIELDS, {}, 'e') ?? (() => false);
  return { base: compile(parseExceptions(rule!.exceptions, 'test', 'e')), appended: compile(appendExceptions(rule!.exceptions, append!.exceptions, 'test', 'e')) };
}

describe('Falco exception files (recorded from falcosecurity/falco)', () => {
  it('appends values by exception name to multi-field exceptions that had none (rule_exception_append_second_item)', () => {
    const { base, appended } = excepted(APPEND_SECOND_ITEM);
    // Exceptions without values except nothing: the rule alone fires on cat's open.
    expect(base(CAT_OPEN)).toBe(false);
    // proc_name_cmdline's [cat, "cat /dev/null"] now matches every field: no detection, as Falco.
    expect(appended(CAT_OPEN)).toBe(true);
    expect(appended(OTHER_CAT)).toBe(false);
  });

  it('appends a value to a single-field `in` exception (rule_exception_single_field_append)', () => {
    const { base, appended } = excepted(SINGLE_FIELD_APPEND);
    expect(base(CAT_OPEN)).toBe(false);
    expect(base({ proc: { ...CAT_OPEN.proc, cmdline: 'cat /dev/zero' } })).toBe(true);
    expect(appended(CAT_OPEN)).toBe(true);
    // Appended, not replaced: the rule's own value still excepts.
    expect(appended({ proc: { ...CAT_OPEN.proc, cmdline: 'cat /dev/zero' } })).toBe(true);
    expect(appended(OTHER_CAT)).toBe(false);
  });

  it('an append may bring a new exception to a rule that had none (rule_exception_new_single_field_append)', () => {
    const { base, appended } = excepted(NEW_SINGLE_FIELD_APPEND);
    expect(base(CAT_OPEN)).toBe(false);
    expect(appended(CAT_OPEN)).toBe(true);
    expect(appended(OTHER_CAT)).toBe(false);
  });
});
