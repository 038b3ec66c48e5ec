import { parseArgs } from 'node:util';
import { loadConfig, ConfigError } from '../config.js';
import { PharmidError } from '../domain/errors.js';
import { migrate } from '../db/migrate.js';
import { openDatabase, openStore, buildDeps, buildMailer } from '../backends.js';
import type { KeyValueStore } from '../store/key-value-store.js';
import { COMMANDS as CORE, UsageError, type Command, type Flags } from './commands.js';
import { checkFlags } from './flags.js';
import { rolloutCommands } from './rollout-commands.js';
import type { Config } from '../config.js';

/** The configuration of this run, once read (commands that mail need it). */
let loaded: Readonly<Config> | undefined;
const COMMANDS: Command[] = [
  ...CORE,
  ...rolloutCommands(() => ({ mailer: buildMailer(loaded!), reminderDays: loaded!.notices.reminderDays, issuer: loaded!.issuer, issuerSet: Boolean(process.env.ISSUER) })),
];

const HELP = [
  'usage: pharmid <group> <verb> [--flags] [--json]',
  '',
  '  migrate',
  ...COMMANDS.map((c) => `  ${c.usage}`),
].join('\n');

function parse(command: Command, args: string[]): Flags {
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean }> = { json: { type: 'boolean' } };
  // A command that lists `_` in its options takes positional arguments (a file), given to it as `_`.
  const positional = '_' in command.options;
  for (const [name, o] of Object.entries(command.options)) {
    if (name === '_') continue;
    options[name] = o.switch ? { type: 'boolean' } : { type: 'string', multiple: o.many === true };
  }
  try {
    const { values, positionals } = parseArgs({ args, options, strict: true, allowPositionals: positional });
    return (positional ? { ...values, _: positionals } : values) as Flags;
  } catch (err) {
    throw new UsageError(`${(err as Error).message.split('\n')[0]} (usage: pharmid ${command.usage})`);
  }
}

/** Runs one command; returns the process exit code. Output is one JSON object with --json. */
export async function runCli(argv: string[], out = process.stdout, err = process.stderr): Promise<number> {
  const [group, verb, ...rest] = argv;
  const json = argv.includes('--json');
  const fail = (message: string, code = 1) => {
    err.write(json ? `${JSON.stringify({ error: message })}\n` : `pharmid: ${message}\n`);
    return code;
  };
  if (!group || group === 'help' || group === '--help') {
    out.write(`${HELP}\n`);
    return group ? 0 : 2;
  }
  const isMigrate = group === 'migrate';
  const command = COMMANDS.find((c) => c.name === `${group} ${verb}`) ?? COMMANDS.find((c) => c.name === group);
  if (!isMigrate && !command) return fail(`unknown command "${[group, verb].filter(Boolean).join(' ')}"; try: pharmid help`, 2);

  let config;
  try {
    config = loadConfig();
    loaded = config;
  } catch (e) {
    if (e instanceof ConfigError) return fail(e.message.replace(/\n\s*/g, ' '), 2);
    throw e;
  }
  let flags: Flags;
  try {
    flags = isMigrate ? parseArgs({ args: argv.slice(1), options: { json: { type: 'boolean' } }, strict: true }).values
      : parse(command!, command!.name.includes(' ') ? rest : argv.slice(1));
    checkFlags(flags);
  } catch (e) {
    // Bad bytes in a flag are bad input (1), as the domain's own refusals are; a malformed command line is a usage error (2).
    return fail((e as Error).message, e instanceof PharmidError ? 1 : 2);
  }

  let opened: Awaited<ReturnType<typeof openDatabase>>;
  try {
    opened = await openDatabase(config);
  } catch (e) {
    return fail(`cannot reach the database: ${(e as Error).message.split('\n')[0]}`);
  }
  const { pool, embedded } = opened;
  let store: KeyValueStore | undefined;
  try {
    const applied = await migrate(pool);
    if (isMigrate) {
      out.write(json ? `${JSON.stringify({ applied })}\n` : `${applied.length ? `applied ${applied.join(', ')}` : 'up to date'}\n`);
      return 0;
    }
    // The server's own store (Redis, or the Postgres store): `user unlock` must lift the locks the server set.
    store = await openStore(config, pool).catch((e: Error) => { throw new Error(`cannot reach Redis: ${e.message.split('\n')[0]}`); });
    const deps = buildDeps(config, pool, store);
    const result = await command!.run(deps, { kind: 'cli' }, flags);
    out.write(`${json ? JSON.stringify(result) : command!.say(result)}\n`);
    // A dry run that found problems has done its job, and says so to a script by its exit code.
    return command!.found?.(result) ? 1 : 0;
  } catch (e) {
    if (e instanceof PharmidError || e instanceof UsageError) return fail(e.message);
    return fail(`failed: ${(e as Error).message}`);
  } finally {
    await store?.close();
    await pool.end();
    await embedded?.stop();
  }
}
