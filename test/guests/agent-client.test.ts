import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AgentClient, AgentCommandError, JsonLineParser } from '../../src/guests/index.js';
import { expectCode } from '../helpers/expect-code.js';

/** A scripted stand-in for qemu-ga behind QEMU's chardev socket. */
interface FakeAgent {
  sock: string;
  /** Every command name received, in order. */
  received: string[];
  /** Highest number of commands received but not yet answered at the same time. */
  maxInFlight: number;
  close(): Promise<void>;
}

interface FakeOptions {
  /** Ignore this many guest-sync-delimited requests (agent not started yet). */
  dropSyncs?: number;
  /** Send a stale reply and a partial line right after the connection is accepted. */
  staleOnConnect?: boolean;
  /** Write every reply one byte at a time. */
  byteByByte?: boolean;
}

let dir: string;
const agents: FakeAgent[] = [];
const clients: AgentClient[] = [];

async function fakeAgent(name: string, opts: FakeOptions = {}): Promise<FakeAgent> {
  const sock = path.join(dir, `${name}.sock`);
  const received: string[] = [];
  let dropSyncs = opts.dropSyncs ?? 0;
  const state = { inFlight: 0, max: 0, frozen: false };
  const conns = new Set<net.Socket>();
  const server = net.createServer((c) => {
    conns.add(c);
    c.on('close', () => conns.delete(c));
    c.on('error', () => undefined);
    const send = (data: Buffer | string): void => {
      const buf = Buffer.isBuffer(data) ? data : Buffer.from(data);
      if (!opts.byteByByte) {
        c.write(buf);
        return;
      }
      for (let i = 0; i < buf.length; i++) c.write(buf.subarray(i, i + 1));
    };
    const reply = (v: unknown, delayMs = 0): void => {
      state.inFlight++;
      state.max = Math.max(state.max, state.inFlight);
      setTimeout(() => {
        state.inFlight--;
        if (!c.destroyed) send(`${JSON.stringify(v)}\n`);
      }, delayMs);
    };
    if (opts.staleOnConnect) send('{"return": {"stale": 1}}\n{"return": 4');
    const parser = new JsonLineParser({
      onValue: (v) => {
        const msg = v as { execute: string; arguments?: { id?: number } };
        received.push(msg.execute);
        switch (msg.execute) {
          case 'guest-sync-delimited':
            if (dropSyncs > 0) {
              dropSyncs--;
              return;
            }
            // Stale output first, then the delimiter and the real answer.
            send('{"return": {}}\n');
            send(Buffer.concat([Buffer.from([0xff]), Buffer.from(`{"return": ${msg.arguments?.id}}\n`)]));
            return;
          case 'guest-ping':
            return reply({ return: {} }, 20);
          case 'guest-fsfreeze-freeze':
            state.frozen = true;
            return reply({ return: 2 });
          case 'guest-fsfreeze-status':
            return reply({ return: state.frozen ? 'frozen' : 'thawed' });
          case 'guest-fsfreeze-thaw':
            state.frozen = false;
            return reply({ return: 2 });
          case 'guest-slow':
            return reply({ return: 'late' }, 300);
          case 'guest-shutdown':
            return; // no reply on success
          default:
            return reply({ error: { class: 'CommandNotFound', desc: `The command ${msg.execute} has not been found` } });
        }
      },
    });
    c.on('data', (b: Buffer) => parser.push(b));
  });
  await new Promise<void>((r) => server.listen(sock, r));
  const agent: FakeAgent = {
    sock,
    received,
    get maxInFlight() {
      return state.max;
    },
    close: () =>
      new Promise<void>((r) => {
        for (const c of conns) c.destroy();
        server.close(() => r());
      }),
  };
  agents.push(agent);
  return agent;
}

async function connect(sock: string, timeoutMs = 3000): Promise<AgentClient> {
  const c = await AgentClient.connect(sock, { timeoutMs });
  clients.push(c);
  return c;
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'gv-qga-'));
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(agents.splice(0).map((a) => a.close()));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('JsonLineParser', () => {
  it('handles split and merged chunks, multi-byte UTF-8, blank lines and 0xFF markers', () => {
    const values: unknown[] = [];
    const invalid: string[] = [];
    let markers = 0;
    const p = new JsonLineParser({ onValue: (v) => values.push(v), onInvalid: (l) => invalid.push(l), onMarker: () => markers++ });
    const text = Buffer.from('{"a":1}\r\n\n{"b":"ä€"}\n{"c"');
    for (let i = 0; i < text.length; i++) p.push(text.subarray(i, i + 1));
    p.push(Buffer.from(':3}\n{"d":4}\n{"partial'));
    p.push(Buffer.from([0xff]));
    p.push(Buffer.from('{"e":5}\nnot json\n'));
    expect(values).toEqual([{ a: 1 }, { b: 'ä€' }, { c: 3 }, { d: 4 }, { e: 5 }]);
    expect(invalid).toEqual(['not json']);
    expect(markers).toBe(1);
  });
});

describe('AgentClient against a fake qemu-ga', { timeout: 10_000 }, () => {
  it('resyncs past stale output and runs the helpers', async () => {
    const agent = await fakeAgent('basic', { staleOnConnect: true });
    const c = await connect(agent.sock);
    expect(agent.received[0]).toBe('guest-sync-delimited');
    await c.ping();
    expect(await c.fsfreezeStatus()).toBe('thawed');
    expect(await c.fsfreezeFreeze()).toBe(2);
    expect(await c.fsfreezeStatus()).toBe('frozen');
    expect(await c.fsfreezeThaw()).toBe(2);
    expect(await c.fsfreezeStatus()).toBe('thawed');
  });

  it('copes with replies written one byte at a time', async () => {
    const agent = await fakeAgent('bytes', { byteByByte: true, staleOnConnect: true });
    const c = await connect(agent.sock);
    expect(await c.fsfreezeFreeze()).toBe(2);
  });

  it('resends guest-sync-delimited while the agent is not up yet', async () => {
    const agent = await fakeAgent('late', { dropSyncs: 2 });
    const c = await connect(agent.sock, 5000);
    expect(agent.received.filter((n) => n === 'guest-sync-delimited')).toHaveLength(3);
    await c.ping();
  });

  it('runs one command at a time', async () => {
    const agent = await fakeAgent('queue');
    const c = await connect(agent.sock);
    await Promise.all([c.ping(), c.ping(), c.ping(), c.fsfreezeStatus()]);
    expect(agent.maxInFlight).toBe(1);
    expect(agent.received.slice(1)).toEqual(['guest-ping', 'guest-ping', 'guest-ping', 'guest-fsfreeze-status']);
  });

  it('maps error replies to E_AGENT_COMMAND', async () => {
    const agent = await fakeAgent('err');
    const c = await connect(agent.sock);
    const err = await expectCode(c.execute('guest-bogus'), 'E_AGENT_COMMAND');
    expect(err).toBeInstanceOf(AgentCommandError);
    expect((err as AgentCommandError).errorClass).toBe('CommandNotFound');
    expect(err.message).toContain('guest-bogus');
    expect(err.message).toContain(agent.sock);
    await c.ping();
  });

  it('times out with E_AGENT_TIMEOUT and resyncs so the late reply is not taken for the next one', async () => {
    const agent = await fakeAgent('slow');
    const c = await connect(agent.sock);
    const err = await expectCode(c.execute('guest-slow', undefined, { timeoutMs: 100 }), 'E_AGENT_TIMEOUT');
    expect(err.message).toContain('guest-slow');
    await new Promise((r) => setTimeout(r, 350)); // the late "late" reply arrives now
    expect(await c.fsfreezeStatus()).toBe('thawed');
    expect(agent.received.filter((n) => n === 'guest-sync-delimited')).toHaveLength(2);
  });

  it('shutdown resolves without a reply', async () => {
    const agent = await fakeAgent('shutdown');
    const c = await connect(agent.sock);
    await c.shutdown('powerdown', { timeoutMs: 1000 });
    await new Promise((r) => setTimeout(r, 50));
    expect(agent.received).toContain('guest-shutdown');
  });

  it('fails queued commands with E_AGENT_CLOSED when the connection goes away', async () => {
    const agent = await fakeAgent('close');
    const c = await connect(agent.sock);
    const slow = c.execute('guest-slow', undefined, { timeoutMs: 5000 });
    const queued = c.ping();
    await new Promise((r) => setTimeout(r, 50));
    await agent.close();
    await expectCode(slow, 'E_AGENT_CLOSED');
    await expectCode(queued, 'E_AGENT_CLOSED');
    expect(c.closed).toBe(true);
  });

  it('times out the connect with a clear message when nothing answers', async () => {
    const conns: net.Socket[] = [];
    const server = net.createServer((c) => {
      conns.push(c); // accepts and reads nothing, like a chardev with no guest behind it
    });
    const sock = path.join(dir, 'silent.sock');
    await new Promise<void>((r) => server.listen(sock, r));
    try {
      const t0 = Date.now();
      const err = await expectCode(AgentClient.connect(sock, { timeoutMs: 600 }), 'E_AGENT_TIMEOUT');
      expect(Date.now() - t0).toBeLessThan(1500);
      expect(err.message).toContain(`guest agent not responding on ${sock} (is qemu-guest-agent running in the guest?)`);
    } finally {
      for (const c of conns) c.destroy();
      await new Promise<void>((r) => {
        server.close(() => r());
      });
    }
  });
});
