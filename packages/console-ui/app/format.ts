// How values are shown. Everything the console shows from the log is rendered as React text
// nodes: event data, error messages and audit values are never parsed as HTML.

/** A timestamp (ISO string or epoch ms) as local ISO-like text; '—' for none. */
export function formatTime(value: string | number | null | undefined): string {
  if (value === null || value === undefined || value === '') return '—';
  const date = new Date(typeof value === 'number' ? value : value);
  if (Number.isNaN(date.getTime())) return String(value);
  return date.toISOString().replace('T', ' ').replace('Z', ' UTC');
}

export function formatNumber(value: number | string | null | undefined, digits = 0): string {
  if (value === null || value === undefined) return '—';
  if (typeof value === 'string') return value;
  return value.toLocaleString('en', { maximumFractionDigits: digits });
}

export function formatSeconds(value: number | null | undefined): string {
  if (value === null || value === undefined) return '—';
  if (value < 60) return `${value.toFixed(value < 10 ? 1 : 0)} s`;
  if (value < 3600) return `${(value / 60).toFixed(1)} min`;
  return `${(value / 3600).toFixed(1)} h`;
}

export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return 'unlimited';
  return formatSeconds(ms / 1000);
}

export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined) return 'unlimited';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

/** Any value as readable text: strings as they are, the rest as indented JSON. */
export function asText(value: unknown): string {
  if (value === undefined) return '';
  if (typeof value === 'string') return value;
  try {
    return JSON.stringify(value, null, 2) ?? typeof value;
  } catch {
    return `(${typeof value} that cannot be shown as JSON)`;
  }
}

/** A short one-line form of a value (audit targets, outcomes). */
export function asLine(value: unknown): string {
  if (value === undefined || value === null) return '—';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  try {
    return JSON.stringify(value) ?? typeof value;
  } catch {
    return `(${typeof value} that cannot be shown as JSON)`;
  }
}

/**
 * An event's data as text to show: JSON pretty-printed, other text as it is, binary (base64) as
 * its base64 text with a note. Never HTML.
 */
export function dataAsText(
  data: string,
  encoding: 'utf8' | 'base64',
  contentType: string | undefined,
): {
  text: string;
  note?: string;
} {
  if (encoding === 'base64') return { text: data, note: 'binary data, shown as base64' };
  const looksJson = contentType === undefined || /json/i.test(contentType);
  if (looksJson) {
    try {
      return { text: JSON.stringify(JSON.parse(data), null, 2) };
    } catch {
      return { text: data };
    }
  }
  return { text: data };
}
