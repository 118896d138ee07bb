/**
 * Response bodies in end-to-end tests are checked by assertions, not by the type system: `jsonOf()`
 * hands them over untyped so a test reads like the API documentation.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Body = any;

export async function jsonOf(response: Response | Promise<Response>): Promise<Body> {
  return (await response).json();
}
