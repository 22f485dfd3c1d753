import type { ComponentChildren, CSSProperties } from 'preact';
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';

interface VirtualListProps<T> {
  items: readonly T[];
  /** Every row has this height in pixels (the CSS must not make rows taller). */
  rowHeight: number;
  /** Rows rendered above and below the visible ones, so fast scrolling shows no gaps. */
  overscan?: number;
  /** Rendered once, sticky at the top; it scrolls sideways with the rows. */
  header?: ComponentChildren;
  /** Columns of the header and rows (CSS grid-template-columns). */
  columns: string;
  /** Below this width the list scrolls sideways instead of squeezing the columns. */
  minWidth?: number;
  /** Must return one element with the given key-able identity; `style` positions it. */
  renderRow: (item: T, index: number, style: CSSProperties) => ComponentChildren;
  /** Told which rows are visible, e.g. to load the next page before the user gets there. */
  onRange?: (first: number, last: number) => void;
  /** When this changes the list scrolls back to the top (new filter, other storage). */
  resetKey?: string;
  empty?: ComponentChildren;
  class?: string;
  testId?: string;
}

/**
 * A list that renders only the rows in view (plus overscan) inside a spacer as tall as all rows,
 * so ten thousand entries scroll as smoothly as ten.
 */
export function VirtualList<T>(props: VirtualListProps<T>) {
  const { items, rowHeight, overscan = 8, header, columns, minWidth = 0, renderRow, onRange, resetKey, empty } = props;
  const scroller = useRef<HTMLDivElement>(null);
  const body = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [viewport, setViewport] = useState(600);
  const [bodyOffset, setBodyOffset] = useState(0);

  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const measure = () => {
      setViewport(el.clientHeight);
      setBodyOffset(body.current?.offsetTop ?? 0);
    };
    measure();
    const ro = new ResizeObserver(measure);
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  useLayoutEffect(() => {
    const el = scroller.current;
    if (el) el.scrollTop = 0;
    setScrollTop(0);
  }, [resetKey]);

  const top = Math.max(0, scrollTop - bodyOffset);
  const first = Math.max(0, Math.floor(top / rowHeight) - overscan);
  const last = Math.min(items.length, Math.ceil((top + viewport) / rowHeight) + overscan);

  const rangeCb = useRef(onRange);
  rangeCb.current = onRange;
  useEffect(() => {
    rangeCb.current?.(first, last);
  }, [first, last, items.length]);

  const rows: ComponentChildren[] = [];
  for (let i = first; i < last; i++) {
    rows.push(renderRow(items[i]!, i, { position: 'absolute', top: `${i * rowHeight}px`, left: 0, right: 0, height: `${rowHeight}px` }));
  }

  const style = { '--vl-cols': columns, '--vl-row': `${rowHeight}px`, minWidth: minWidth ? `${minWidth}px` : undefined } as CSSProperties;
  return (
    <div
      class={`vlist${props.class ? ` ${props.class}` : ''}`}
      ref={scroller}
      data-testid={props.testId}
      onScroll={(e) => setScrollTop(e.currentTarget.scrollTop)}
    >
      <div class="vlist-inner" style={style}>
        {header && <div class="vlist-header vlist-grid">{header}</div>}
        <div class="vlist-body" ref={body} style={{ height: `${items.length * rowHeight}px` }}>
          {rows}
        </div>
        {items.length === 0 && empty && <div class="vlist-empty">{empty}</div>}
      </div>
    </div>
  );
}
