// The test harness: a real `rampart serve` on a free port and a fresh data
// directory, and `eventually` to wait on a condition (never a fixed sleep).
//
// The binary is RAMPART_BIN, else the workspace's debug build
// (../../target/debug/rampart from clients/node).

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { Rampart, Worker } from '../dist/index.js';

const here = dirname(fileURLToPath(import.meta.url));
export const BIN = resolve(process.env.RAMPART_BIN ?? resolve(here, '../../../target/debug/rampart'));

const LISTENING = 'rampart is listening on ';

/** A running server; `kill()` and `restart()` keep the data directory and the port. */
export class Server {
  constructor({ config } = {}) {
    this.dir = mkdtempSync(join(tmpdir(), 'rampart-node-'));
    this.dataDir = join(this.dir, 'data');
    this.configPath = undefined;
    if (config) {
      this.configPath = join(this.dir, 'rampart.toml');
      writeFileSync(this.configPath, config);
    }
    this.listen = '127.0.0.1:0';
    this.proc = undefined;
    this.clients = [];
    this.workers = [];
  }

  /** Starts the binary and waits until it says where it listens. */
  async start() {
    if (!existsSync(BIN))
      throw new Error(`no rampart binary at ${BIN}: run \`cargo build -p rampart\` or set RAMPART_BIN`);
    const env = Object.fromEntries(
      Object.entries(process.env).filter(
        ([k]) => !k.startsWith('RAMPART_') && !['DATABASE_URL', 'REDIS_URL', 'SENTRY_DSN'].includes(k),
      ),
    );
    const args = ['serve', '--listen', this.listen, '--data-dir', this.dataDir];
    if (this.configPath) args.push('--config', this.configPath);
    const proc = spawn(BIN, args, { env, cwd: this.dir, stdio: ['ignore', 'ignore', 'pipe'] });
    this.proc = proc;
    this.stderr = '';
    const address = await new Promise((resolvePromise, reject) => {
      const timer = setTimeout(() => reject(new Error(`the server did not start:\n${this.stderr}`)), 30_000);
      proc.stderr.setEncoding('utf8');
      proc.stderr.on('data', (chunk) => {
        this.stderr = (this.stderr + chunk).slice(-20_000);
        const at = this.stderr.indexOf(LISTENING);
        if (at >= 0) {
          const rest = this.stderr.slice(at + LISTENING.length).split(/\s/)[0];
          if (rest) {
            clearTimeout(timer);
            resolvePromise(rest);
          }
        }
      });
      proc.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      proc.on('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`the server exited (${code}) before listening:\n${this.stderr}`));
      });
    });
    this.url = address.startsWith('http') ? address : `http://${address}`;
    this.listen = new URL(this.url).host;
    this.key = readFileSync(join(this.dataDir, 'admin.key'), 'utf8').trim();
    return this;
  }

  /** A client of this server (closed by `stop()`). */
  client(options = {}) {
    const client = new Rampart({ url: this.url, apiKey: this.key, ...options });
    this.clients.push(client);
    return client;
  }

  /** A worker of `client` (closed by `stop()` before the server goes), with no signal handlers. */
  worker(client, queue, handler, options = {}) {
    const worker = new Worker(client, queue, handler, { closeOnSignals: [], ...options });
    this.workers.push(worker);
    return worker;
  }

  /** SIGKILLs the server and waits for it to be gone. */
  async kill() {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const gone = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGKILL');
    await gone;
  }

  /** Starts the server again on the same port and data directory. */
  async restart() {
    await this.kill();
    return eventually(() => this.start().catch(() => undefined), { timeoutMs: 20_000, what: 'the server to restart' });
  }

  /** Stops the server and its clients, and deletes the directory. */
  async stop() {
    await Promise.all(this.workers.map((w) => w.close({ graceMs: 0 })));
    for (const c of this.clients) c.close();
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Starts a server; `t.after` stops it. */
export async function startServer(t, options) {
  const server = await new Server(options).start();
  t.after(() => server.stop());
  return server;
}

/** Calls `check` until it answers something truthy; fails after `timeoutMs`. */
export async function eventually(check, { timeoutMs = 15_000, what = 'the condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let pause = 10;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, pause));
    pause = Math.min(200, pause * 2);
  }
}

/** A promise with its resolve, for a handler the test lets go. */
export function gate() {
  let open;
  const promise = new Promise((r) => (open = r));
  return { promise, open };
}
