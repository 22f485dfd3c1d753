import { FormatError } from './format-error.js';

/**
 * Proxmox section-config files: `type: id` header lines, then indented `key value` lines, with
 * blank lines between sections and `#` comments. Values keep their inner spaces.
 */
export interface Section {
  type: string;
  id: string;
  props: Record<string, string>;
  /** 1-based line of the header, for error messages. */
  line: number;
}

/**
 * Parse a section-config file. A duplicate section is an error, unless `onDuplicate` is given:
 * then it is reported there and skipped (the first one wins), so callers can go on with the rest.
 */
export function parseSectionConfig(text: string, file: string, onDuplicate?: (message: string) => void): Section[] {
  const sections: Section[] = [];
  let current: Section | undefined;
  text.split('\n').forEach((raw, i) => {
    const lineNo = i + 1;
    const line = raw.replace(/\r$/, '');
    if (line.trim() === '' ) {
      current = undefined;
      return;
    }
    if (line.trimStart().startsWith('#')) return;
    if (/^\s/.test(line)) {
      if (!current) throw new FormatError('E_CONFIG_SYNTAX', `${file}:${lineNo}`, 'property line outside of a section');
      const m = /^\s+([A-Za-z0-9_-]+)(?:\s+(.*))?$/.exec(line);
      if (!m) throw new FormatError('E_CONFIG_SYNTAX', `${file}:${lineNo}`, `cannot parse ${JSON.stringify(line.trim())}`);
      const key = m[1]!;
      if (key in current.props) throw new FormatError('E_CONFIG_SYNTAX', `${file}:${lineNo}`, `duplicate property '${key}'`);
      current.props[key] = (m[2] ?? '').trim();
      return;
    }
    const m = /^([a-z][a-z0-9-]*):\s*(\S+)\s*$/.exec(line);
    if (!m) throw new FormatError('E_CONFIG_SYNTAX', `${file}:${lineNo}`, `expected 'type: id', got ${JSON.stringify(line)}`);
    current = { type: m[1]!, id: m[2]!, props: {}, line: lineNo };
    if (sections.some((s) => s.id === m[2] && s.type === m[1])) {
      const first = sections.find((s) => s.id === m[2] && s.type === m[1])!;
      const message = `duplicate section '${m[1]}: ${m[2]}' (first at line ${first.line}); this one is ignored`;
      if (!onDuplicate) throw new FormatError('E_CONFIG_SYNTAX', `${file}:${lineNo}`, message);
      onDuplicate(`${file}:${lineNo}: ${message}`);
      return; // its property lines go to the detached section above, which is not kept
    }
    sections.push(current);
  });
  return sections;
}

export function writeSectionConfig(sections: readonly Omit<Section, 'line'>[]): string {
  return sections
    .map((s) => [`${s.type}: ${s.id}`, ...Object.entries(s.props).map(([k, v]) => `\t${k} ${v}`)].join('\n'))
    .join('\n\n') + (sections.length ? '\n' : '');
}
