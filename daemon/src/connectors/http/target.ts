/**
 * Where an http@1 request goes: a path under `baseUrl` (or under one of `hosts`), never a switch
 * of scheme, host or user by the path itself. Paths come from runbooks and models, so `//evil`,
 * `https://evil`, `..` (also percent-encoded), backslashes and `user@` are refused, not resolved.
 */
import { ActionInputError } from '../sdk';
import { allowedOrigins, originOf, type HttpSettings } from './config';

export type Query = Record<string, string | number | boolean | (string | number | boolean)[]>;

/** The URL of `path` (with `query`) under the chosen origin; throws ActionInputError when it escapes. */
export function resolveTarget(settings: HttpSettings, path: string, query: Query = {}, host?: string): URL {
  const base = baseFor(settings, host);
  checkPath(path);
  const prefix = base.pathname.replace(/\/+$/, '');
  const url = new URL(`${base.origin}${prefix}/${path.replace(/^\/+/, '')}`);
  if (
    originOf(url) !== originOf(base) ||
    !(url.pathname === prefix || url.pathname.startsWith(`${prefix}/`))
  ) {
    throw new ActionInputError(`http@1 refused the path "${path}": it leaves ${base.href}`);
  }
  for (const [name, value] of Object.entries(query)) {
    for (const item of Array.isArray(value) ? value : [value]) url.searchParams.append(name, String(item));
  }
  return url;
}

/** `baseUrl`, or the allow-listed origin `host` names; anything else is refused. */
function baseFor(settings: HttpSettings, host: string | undefined): URL {
  const allowed = allowedOrigins(settings);
  if (host === undefined) {
    const first = settings.baseUrl ?? settings.hosts[0];
    if (!first) {
      throw new ActionInputError('http@1 has nowhere to send requests: set baseUrl (or hosts) in keel.yaml');
    }
    return new URL(first);
  }
  let wanted: string;
  try {
    wanted = originOf(host);
  } catch {
    throw new ActionInputError(`http@1: host "${host}" is not a URL like https://api.example.com`);
  }
  if (!allowed.includes(wanted)) {
    throw new ActionInputError(
      `http@1 refused to contact ${wanted}: keel.yaml allows only ${allowed.join(', ') || 'no host'} (add it to hosts, then trust it)`,
    );
  }
  if (settings.baseUrl && originOf(settings.baseUrl) === wanted) return new URL(settings.baseUrl);
  return new URL(settings.hosts.find((h) => originOf(h) === wanted)!);
}

function checkPath(path: string): void {
  const refuse = (why: string): never => {
    throw new ActionInputError(`http@1 refused the path "${path.slice(0, 200)}": ${why}`);
  };
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  if (/[\u0000-\u001f\u007f\\]/.test(path)) refuse('control characters and backslashes are not allowed');
  if (/^[a-z][a-z0-9+.-]*:/i.test(path)) refuse('it names a scheme; give a path under baseUrl');
  if (/^\/\//.test(path)) refuse('"//" would name another host; give a path under baseUrl');
  if (/[?#]/.test(path)) refuse('give the query as "query", not in the path');
  if (path.includes('@')) refuse('"@" is not allowed in a path (it could name a user)');
  for (const segment of path.split('/')) {
    let decoded: string;
    try {
      decoded = decodeURIComponent(segment);
    } catch {
      return refuse('it holds a broken percent-encoding');
    }
    if (decoded === '.' || decoded === '..') refuse('"." and ".." segments are not allowed');
    if (/[/\\?#@]/.test(decoded)) refuse('an encoded "/", "\\", "?", "#" or "@" is not allowed');
  }
}
