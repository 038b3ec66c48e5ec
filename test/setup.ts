/**
 * oidc-provider prints two warnings that say nothing about a test: that Node
 * 20 is not its preferred runtime, and that the test runner's fetch cannot be
 * guarded against private addresses. Keep them out of the test output; every
 * other warning still shows.
 */
const KNOWN = /^oidc-provider WARNING: (Unsupported runtime|failed to setup SSRF protection)/;
const warn = console.warn.bind(console);
console.warn = (...args: unknown[]) => {
  if (typeof args[0] === 'string' && KNOWN.test(args[0])) return;
  warn(...args);
};
