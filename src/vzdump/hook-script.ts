/**
 * vzdump hook scripts: `<script> <phase> <mode> <vmid>` for guest phases, with STOREID, VMTYPE,
 * HOSTNAME and TARGET in the environment, as Proxmox calls them. A non-zero exit fails the phase.
 */
import { spawn } from 'node:child_process';
import { GuestvaultError } from '../errors.js';

export type GuestPhase = 'backup-start' | 'pre-stop' | 'pre-restart' | 'post-restart' | 'backup-end' | 'backup-abort' | 'log-end';

export interface HookContext {
  script?: string;
  mode: string;
  vmid: string;
  env: { STOREID?: string; VMTYPE: string; HOSTNAME?: string; TARGET?: string; LOGFILE?: string };
  log: (line: string) => void;
}

export async function runHook(ctx: HookContext, phase: GuestPhase, timeoutMs = 600_000): Promise<void> {
  if (!ctx.script) return;
  const script = ctx.script;
  ctx.log(`hook ${phase}: ${script} ${phase} ${ctx.mode} ${ctx.vmid}`);
  const env = { ...process.env, ...Object.fromEntries(Object.entries(ctx.env).filter(([, v]) => v !== undefined)) };
  await new Promise<void>((resolve, reject) => {
    const child = spawn(script, [phase, ctx.mode, ctx.vmid], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    const forward = (b: Buffer) => b.toString().split('\n').filter(Boolean).forEach((l) => ctx.log(`hook ${phase}: ${l}`));
    child.stdout.on('data', forward);
    child.stderr.on('data', forward);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new GuestvaultError('E_HOOK', `hook script ${script} cannot run: ${err.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new GuestvaultError('E_HOOK', `hook script ${script} failed in phase ${phase} (${signal ? `killed by ${signal}` : `exit code ${code}`})`));
    });
  });
}
