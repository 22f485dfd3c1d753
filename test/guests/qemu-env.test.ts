/** The environment QEMU is started with (vm-process.ts). */
import { describe, expect, it } from 'vitest';
import { QEMU_GLIBC_TUNABLES, qemuEnv } from '../../src/guests/qemu/vm-process.js';

describe('qemuEnv', () => {
  it('adds the malloc settings that keep QEMU from faulting its request buffers in again', () => {
    const env = qemuEnv({ PATH: '/usr/bin', HOME: '/root' });
    expect(env).toEqual({ PATH: '/usr/bin', HOME: '/root', GLIBC_TUNABLES: QEMU_GLIBC_TUNABLES });
    expect(QEMU_GLIBC_TUNABLES).toMatch(/^glibc\.malloc\.mmap_threshold=\d+:glibc\.malloc\.trim_threshold=\d+$/);
  });

  it("leaves an administrator's own GLIBC_TUNABLES alone", () => {
    expect(qemuEnv({ GLIBC_TUNABLES: 'glibc.malloc.arena_max=2' }).GLIBC_TUNABLES).toBe('glibc.malloc.arena_max=2');
  });
});
