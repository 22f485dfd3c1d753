/** An API error in words, where it happened. */
export function ErrorMessage({ error, testId = 'error-message' }: { error: string | undefined; testId?: string }) {
  if (!error) return null;
  return (
    <div class="error-message" data-testid={testId} role="alert">
      {error}
    </div>
  );
}
