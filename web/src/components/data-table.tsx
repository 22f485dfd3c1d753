import type { ComponentChildren } from 'preact';

/** A column heading: its text, or its text and class; `false` leaves the column out (one the user may not use). */
export type Column = string | { label: string; class: string } | false;

interface DataTableProps {
  columns: readonly Column[];
  /** The rows. */
  children: ComponentChildren;
  testId?: string;
  /** Below the table, inside its scroll box. */
  after?: ComponentChildren;
}

/** A table of a page (its rows stack on phones): a heading row, then the rows. */
export function DataTable({ columns, children, testId, after }: DataTableProps) {
  return (
    <div class="table-wrap">
      <table class="table responsive" data-testid={testId}>
        <thead>
          <tr>
            {columns.map((c) => {
              if (c === false) return null;
              return typeof c === 'string' ? <th key={c}>{c}</th> : <th key={c.label} class={c.class}>{c.label}</th>;
            })}
          </tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
      {after}
    </div>
  );
}

/** A row across the table that says something instead of data: nothing there, or still loading. */
export function MessageRow({ colSpan, children }: { colSpan: number; children: ComponentChildren }) {
  return (
    <tr>
      <td colSpan={colSpan} class="muted">
        {children}
      </td>
    </tr>
  );
}
