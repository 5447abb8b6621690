// A refusal names the rule that refused the request, so that a 403 and its
// log line tell the operator exactly which policy to look at.

export class Refusal extends Error {
  override readonly name = 'Refusal';
  constructor(
    readonly rule: string,
    message: string,
  ) {
    super(message);
  }
}
