/**
 * pharmid's one error vocabulary. Each error has a stable code, an HTTP status
 * and a message that is safe to show to the person (never a stack trace, never
 * a secret). `src/http/errors.ts` turns them into a page or JSON.
 */
export class PharmidError extends Error {
  constructor(readonly code: string, readonly status: number, message: string, readonly field?: string) {
    super(message);
    this.name = new.target.name;
  }
}

export class InvalidInput extends PharmidError {
  constructor(message: string, field?: string) { super('invalid_input', 400, message, field); }
}

/** What was sent is larger than the act takes (an import file): split it. */
export class TooLarge extends PharmidError {
  constructor(message: string, field?: string) { super('too_large', 413, message, field); }
}

export class NotFound extends PharmidError {
  constructor(message: string) { super('not_found', 404, message); }
}

export class Conflict extends PharmidError {
  constructor(message: string, field?: string) { super('conflict', 409, message, field); }
}

export class Forbidden extends PharmidError {
  constructor(message = 'You do not have permission to do that.') { super('forbidden', 403, message); }
}

export class Unavailable extends PharmidError {
  constructor(message = 'pharmid is temporarily unavailable. Please try again in a minute.') {
    super('unavailable', 503, message);
  }
}

/**
 * pharmid has no room for this work now (the password hashing line is full,
 * or this address already has its share of it): try again shortly.
 */
export class Busy extends PharmidError {
  constructor(message = 'pharmid is busy. Please try again in a few seconds.', readonly retryAfterSeconds = 2) {
    super('busy', 503, message);
  }
}

/** The answer was well-formed but wrong (a password, a code). */
export class Rejected extends PharmidError {
  constructor(message: string, field?: string) { super('rejected', 401, message, field); }
}

/** Too many wrong answers: the step is locked for a while (or until an administrator unlocks it). */
export class TooManyAttempts extends PharmidError {
  constructor(message: string, field: string, readonly retryAfterSeconds?: number) {
    super('too_many_attempts', 429, message, field);
  }
}

/**
 * The person's account changed while a sign-in was under way (a reset, a
 * disable, a new password or authenticator, an authenticator set up by
 * another sign-in): what that sign-in proved no longer counts, and it starts
 * again from the password.
 */
export class AccountChanged extends PharmidError {
  constructor(message = 'Your account changed since you started signing in. Please sign in again.') {
    super('account_changed', 409, message);
  }
}
