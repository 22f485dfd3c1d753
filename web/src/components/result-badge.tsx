import { resultKind } from '../format';

/** A task result (OK, WARNINGS: N, error text) or "running", coloured by kind. */
export function ResultBadge({ status, title }: { status: string | undefined; title?: string }) {
  const kind = resultKind(status);
  const text = kind === 'running' ? 'running' : status;
  return (
    <span class={`badge badge-${kind}`} title={title ?? text}>
      {text}
    </span>
  );
}
