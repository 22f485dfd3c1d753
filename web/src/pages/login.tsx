import { useState } from 'preact/hooks';
import { errorText, login } from '../api';

interface LoginProps {
  /** Why the user is here again (an expired ticket), shown until the next attempt. */
  message?: string;
  onLoggedIn: (username: string) => Promise<void>;
}

export function LoginPage({ message, onLoggedIn }: LoginProps) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | undefined>(message);
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    if (busy) return;
    setBusy(true);
    setError(undefined);
    try {
      const answer = await login(username.trim(), password);
      await onLoggedIn(answer.username);
    } catch (err) {
      setError(errorText(err));
      setBusy(false);
    }
  };

  return (
    <div class="login-screen">
      <form class="login-box" onSubmit={(e) => void submit(e)} data-testid="login-form">
        <h1 class="brand">
          guest<span>vault</span>
        </h1>
        <p class="muted">Backup of QEMU guests</p>
        <label>
          User name
          <input
            type="text"
            name="username"
            autocomplete="username"
            placeholder="root@pam"
            required
            value={username}
            onInput={(e) => setUsername(e.currentTarget.value)}
            data-testid="login-username"
          />
        </label>
        <label>
          Password
          <input
            type="password"
            name="password"
            autocomplete="current-password"
            required
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
            data-testid="login-password"
          />
        </label>
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
