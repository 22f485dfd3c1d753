import type { InputHTMLAttributes } from 'preact';
import { useState } from 'preact/hooks';
import { login } from '../api';
import { useSubmit } from '../use-submit';

interface LoginProps {
  /** Why the user is here again (an expired ticket), shown until the next attempt. */
  message?: string;
  onLoggedIn: (username: string) => Promise<void>;
}

/** A required input of the login form, with its label. */
function LoginField({ label, testId, ...input }: { label: string; testId: string } & InputHTMLAttributes<HTMLInputElement>) {
  return (
    <label>
      {label}
      <input {...input} required data-testid={testId} />
    </label>
  );
}

export function LoginPage({ message, onLoggedIn }: LoginProps) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const { busy, error, run } = useSubmit(message);

  const submit = (e: Event) => {
    e.preventDefault();
    if (busy) return;
    void run(async () => {
      const answer = await login(username.trim(), password);
      await onLoggedIn(answer.username);
    });
  };

  return (
    <div class="login-screen">
      <form class="login-box" onSubmit={submit} data-testid="login-form">
        <h1 class="brand">
          guest<span>vault</span>
        </h1>
        <p class="muted">Backup of QEMU guests</p>
        <LoginField label="User name" type="text" name="username" autocomplete="username" placeholder="root@pam" value={username} onInput={(e) => setUsername(e.currentTarget.value)} testId="login-username" />
        <LoginField label="Password" type="password" name="password" autocomplete="current-password" value={password} onInput={(e) => setPassword(e.currentTarget.value)} testId="login-password" />
        <button type="submit" class="primary" disabled={busy} data-testid="login-submit">
          {busy ? 'Logging in…' : 'Log in'}
        </button>
        {error && (
          <div class="error-message" role="alert" data-testid="login-error">
            {error}
          </div>
        )}
      </form>
    </div>
  );
}
