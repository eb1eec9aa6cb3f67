/** Query parameters whose values are secrets, by name (any case): passwords, tokens, keys. */
const SECRET_PARAMETER = /pass|pwd|token|secret|key|auth|cred|sig/i;

/**
 * `url` fit for logs and error messages: the user-info's secret (`user:***@`, or `***@` for a
 * token alone, as in `nats://TOKEN@host`) and the values of secret-named query parameters
 * (`password`, `token`, `apiKey`, …) become `***`. Written for what people really type: it
 * does not parse the URL, so a password with an unencoded `/`, `?`, `#` or `@` is hidden too
 * (everything up to the last `@` is user-info). Text without `scheme://` keeps its start.
 * Every message of Herald that shows a URL passes it through this.
 *
 * @example redactUrl('postgres://app:s3cret@db/shop') // 'postgres://app:***@db/shop'
 * @example redactUrl('nats://T0KEN@nats:4222') // 'nats://***@nats:4222'
 */
export function redactUrl(url: string): string {
  let out = url;
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(out)?.[0];
  if (scheme !== undefined) {
    const rest = out.slice(scheme.length);
    const at = rest.lastIndexOf('@');
    if (at !== -1) {
      const userinfo = rest.slice(0, at);
      const colon = userinfo.indexOf(':');
      out = `${scheme}${colon === -1 ? '***' : `${userinfo.slice(0, colon)}:***`}${rest.slice(at)}`;
    }
  }
  const query = out.indexOf('?');
  if (query === -1) return out;
  const parameters = out
    .slice(query + 1)
    .split('&')
    .map((pair) => {
      const equals = pair.indexOf('=');
      return equals !== -1 && SECRET_PARAMETER.test(pair.slice(0, equals))
        ? `${pair.slice(0, equals)}=***`
        : pair;
    });
  return `${out.slice(0, query + 1)}${parameters.join('&')}`;
}
