/**
 * The web GUI in Debian's Chromium (playwright-core, headless) against a daemon on a scratch
 * GUESTVAULT_HOME: log in, create a job and see its next runs, back up a VM now and watch the task
 * finish, find the backup in the storage contents, restore it, run the retention simulator, look
 * at the task list, and a user without privileges who sees no guest and cannot back one up.
 * Screenshots of each main page (laptop and phone size) go to test-results/gui/.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CliEnv, ROOT } from '../helpers/cli.js';
import { MiB, writeImage } from '../helpers/data.js';
import { TestDaemon } from '../helpers/api.js';

const SHOTS = join(ROOT, 'test-results', 'gui');
const env = new CliEnv('gv-gui-');
let daemon: TestDaemon;
let browser: Browser;
let page: Page;
let base = '';

async function shot(p: Page, name: string): Promise<void> {
  await p.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

async function login(p: Page, user: string, password: string): Promise<void> {
  await p.goto(base);
  await p.getByTestId('login-username').fill(user);
  await p.getByTestId('login-password').fill(password);
  await p.getByTestId('login-submit').click();
  await p.getByTestId('nav-dashboard').waitFor();
}

/** Waits for the open task viewer to show a final status; returns it. */
async function taskResult(p: Page): Promise<string> {
  const status = p.getByTestId('task-status');
  await expect.poll(async () => (await status.textContent()) ?? '', { timeout: 120_000, interval: 250 }).toMatch(/OK|WARNINGS|ERROR|error/i);
  return (await status.textContent()) ?? '';
}

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  expect(env.run(['init']).code).toBe(0);
  const raw = writeImage(join(env.dir, 'disk.raw'), 16 * MiB, [['r', 3], ['z', 5]], 5);
  const r = env.run(['vm', 'create', '100', '--name', 'web', '--memory', '64', '--scsi0', `local:0,import-from=${raw},format=raw`]);
  expect(r.code, r.stderr).toBe(0);
  expect(env.run(['user', 'add', 'alice@gv', '--password-stdin'], { input: 'alice-password-1\n' }).code).toBe(0);
  daemon = await TestDaemon.start(env);
  base = `https://127.0.0.1:${daemon.port}/`;
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  page = await (await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1366, height: 800 } })).newPage();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await daemon?.stop();
  env.cleanup();
});

describe('web GUI in Chromium', () => {
  it('serves the app; a wrong password is said in words; root logs in and sees the dashboard', async () => {
    await page.goto(base);
    await shot(page, '01-login');
    await page.getByTestId('login-username').fill('root@pam');
    await page.getByTestId('login-password').fill('wrong-password');
    await page.getByTestId('login-submit').click();
    await expect.poll(async () => (await page.getByTestId('login-error').textContent()) ?? '', { timeout: 10_000 }).toMatch(/authentication failure/);
    await login(page, 'root@pam', daemon.rootPassword());
    await page.getByTestId('guest-row-100').first().waitFor();
    await shot(page, '02-dashboard');
  }, 60_000);

  it('jobs: the schedule validates as you type and shows the next five runs; the new job is listed', async () => {
    await page.getByTestId('nav-jobs').click();
    await page.getByTestId('job-create').click();
    await page.getByTestId('job-id').fill('nightly');
    await page.getByTestId('job-schedule').fill('mon..fri 25:00');
    await page.getByTestId('job-schedule-error').waitFor();
    expect(await page.getByTestId('job-schedule-error').textContent()).toMatch(/25/);
    await page.getByTestId('job-schedule').fill('mon..fri 22:30');
    await expect.poll(() => page.getByTestId('job-next-runs').locator('li').count(), { timeout: 10_000 }).toBe(5);
    expect(await page.getByTestId('job-next-runs').textContent()).toContain('22:30');
    await shot(page, '03-job-dialog');
    await page.getByTestId('job-selection-all').check();
    await page.getByTestId('job-storage').selectOption('local-store');
    await page.getByTestId('job-submit').click();
    await page.getByTestId('job-row-nightly').waitFor();
    expect(await page.getByTestId('job-row-nightly').textContent()).toContain('22:30');
    await shot(page, '04-jobs');
    const jobs = readFileSync(join(env.home, 'etc', 'jobs.cfg'), 'utf8');
    expect(jobs).toMatch(/vzdump: nightly\n\tschedule mon\.\.fri 22:30\n/);
  }, 60_000);

  it('backup now: the task viewer follows the log until TASK OK; the backup shows in the storage', async () => {
    await page.getByTestId('nav-guests').click();
    await page.getByTestId('guest-row-100').click();
    await page.getByTestId('backup-now').click();
    await page.getByTestId('backup-storage').selectOption('local-store');
    await page.getByTestId('backup-notes').fill('pressed in the GUI');
    await page.getByTestId('backup-submit').click();
    await page.getByTestId('task-viewer').waitFor();
    expect(await taskResult(page)).toMatch(/OK/);
    expect(await page.getByTestId('task-log').textContent()).toContain('Finished Backup of VM 100');
    await shot(page, '05-backup-task');
    await page.getByTestId('task-close').click();

    await page.getByTestId('nav-storages').click();
    await page.getByTestId('storage-row-local-store').click();
    const row = page.getByTestId('content-row').first();
    await row.waitFor();
    expect(await row.getAttribute('data-volid')).toMatch(/^local-store:backup\/vm\/100\//);
    expect(await row.textContent()).toContain('pressed in the GUI');
    await shot(page, '06-storage-contents');
  }, 180_000);

  it('restore: to a new VMID, through a task; the VM exists afterwards', async () => {
    await page.getByTestId('content-row').first().getByTestId('restore-button').click();
    await page.getByTestId('restore-vmid').fill('300');
    await page.getByTestId('restore-submit').click();
    await page.getByTestId('task-viewer').waitFor();
    expect(await taskResult(page)).toMatch(/OK/);
    await shot(page, '07-restore-task');
    await page.getByTestId('task-close').click();
    expect(existsSync(join(env.home, 'guests', '300.conf'))).toBe(true);
  }, 180_000);

  it('retention simulator: a calendar of backups, kept and removed, with the reason', async () => {
    await page.getByTestId('nav-retention').click();
    await page.getByTestId('retention-keep-daily').fill('3');
    await page.getByTestId('retention-keep-weekly').fill('2');
    await page.getByTestId('retention-simulate').click();
    const result = page.getByTestId('retention-result');
    await result.waitFor();
    const kept = await result.locator('[data-mark="keep"]').count();
    const removed = await result.locator('[data-mark="remove"]').count();
    expect(kept).toBe(5); // 3 daily + 2 weekly, as Proxmox computes it
    expect(removed).toBeGreaterThan(0);
    expect(await result.textContent()).toMatch(/keep-daily/);
    await shot(page, '08-retention');
  }, 60_000);

  it('tasks: the backup and the restore are listed with their result', async () => {
    await page.getByTestId('nav-tasks').click();
    await expect.poll(() => page.getByTestId('task-row').count(), { timeout: 10_000 }).toBeGreaterThanOrEqual(2);
    const text = await page.getByTestId('task-row').allTextContents();
    expect(text.join('\n')).toMatch(/vzdump/);
    expect(text.join('\n')).toMatch(/qmrestore/);
    await shot(page, '09-tasks');
  }, 60_000);

  it('on a phone: the dashboard fits the screen', async () => {
    const phone = await (await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 390, height: 844 }, isMobile: true })).newPage();
    await login(phone, 'root@pam', daemon.rootPassword());
    const width = await phone.evaluate<number>('document.documentElement.scrollWidth');
    expect(width).toBeLessThanOrEqual(390);
    await shot(phone, '10-phone-dashboard');
    await phone.context().close();
  }, 60_000);

  it('a user without privileges sees no guests and cannot start a backup', async () => {
    const p = await (await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1366, height: 800 } })).newPage();
    await login(p, 'alice@gv', 'alice-password-1');
    await p.getByTestId('nav-guests').click();
    await p.waitForTimeout(1000);
    expect(await p.locator('[data-testid^="guest-row-"]').count()).toBe(0);
    expect(await p.getByTestId('backup-now').count()).toBe(0);
    // Even straight at the guest's page, the API refuses and the page says so in words.
    await p.goto(`${base}#/guests/100`);
    await p.locator('.error-message, [data-testid="error-message"]').first().waitFor({ timeout: 10_000 });
    expect(await p.getByTestId('backup-now').count()).toBe(0);
    await shot(p, '11-no-permission');
    const root = await daemon.login();
    const node = (await root.data<Array<{ node: string }>>('/nodes'))[0]!.node;
    expect(await root.data(`/nodes/${node}/tasks?userfilter=alice`)).toEqual([]);
    await p.context().close();
  }, 60_000);
});
