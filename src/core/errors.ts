/**
 * Every error a user can cause carries a stable code, the offending field and a hint,
 * so the CLI prints one useful line and the HTTP layer maps it to a status and `{ code, message }`.
 */
export type ErrorKind = 'invalid' | 'unauthorized' | 'forbidden' | 'not-found' | 'conflict' | 'too-large' | 'unprocessable' | 'unavailable' | 'internal';

const STATUS: Record<ErrorKind, number> = {
  invalid: 400,
  unauthorized: 401,
  forbidden: 403,
  'not-found': 404,
  conflict: 409,
  'too-large': 413,
  unprocessable: 422,
  unavailable: 503,
  internal: 500,
};

export interface PalisadeErrorOptions {
  kind?: ErrorKind;
  field?: string;
  hint?: string;
  cause?: unknown;
}

export class PalisadeError extends Error {
  readonly code: string;
  readonly kind: ErrorKind;
  readonly field: string | undefined;
  readonly hint: string | undefined;

  constructor(code: string, message: string, options: PalisadeErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PalisadeError';
    this.code = code;
    this.kind = options.kind ?? 'invalid';
    this.field = options.field;
    this.hint = options.hint;
  }

  get status(): number {
    return STATUS[this.kind];
  }

  /** One line for a terminal: what went wrong, then how to fix it. */
  toLine(): string {
    return this.hint ? `${this.message} (${this.hint})` : this.message;
  }
}

export function isPalisadeError(error: unknown): error is PalisadeError {
  return error instanceof PalisadeError;
}
