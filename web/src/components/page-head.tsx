import type { ComponentChildren } from 'preact';

interface RefreshProps {
  onClick: () => void;
  /** The smaller button of a panel's head. */
  small?: boolean;
  testId?: string;
}

export function RefreshButton({ onClick, small, testId }: RefreshProps) {
  return (
    <button type="button" class={small ? 'small' : undefined} onClick={() => onClick()} data-testid={testId}>
      Refresh
    </button>
  );
}

interface PageHeadProps {
  title: string;
  /** Between the title and the Refresh button (filters, other actions). */
  children?: ComponentChildren;
  onRefresh: () => void;
  refreshTestId?: string;
}

/** A list page's title line, with its Refresh button last. */
export function PageHead({ title, children, onRefresh, refreshTestId }: PageHeadProps) {
  return (
    <div class="page-head">
      <h1>{title}</h1>
      {children}
      <RefreshButton onClick={onRefresh} testId={refreshTestId} />
    </div>
  );
}
