import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

/**
 * Structured JSON logs. Request lines carry the path without its query (which
 * holds codes, states and token hints); the redaction list is a second line
 * of defence for anything that slips into a log object.
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino({
    level,
    base: { service: 'pharmid' },
    redact: {
      paths: [
        'password', '*.password', 'new_password', '*.new_password', 'code', '*.code', 'recovery_code', '*.recovery_code',
        'activation_code', '*.activation_code', 'activationCode', '*.activationCode', 'secret', '*.secret',
        'client_secret', '*.client_secret', 'token', '*.token', 'authorization', '*.authorization', 'cookie', '*.cookie',
        'headers.cookie', 'headers.authorization', 'req.headers.cookie', 'req.headers.authorization',
      ],
      censor: '[redacted]',
    },
  }, destination);
}
