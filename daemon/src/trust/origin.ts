/**
 * How an endpoint's URL is named in what the operator consents to. Its own file so the connectors
 * (MCP servers, email accounts) can name their endpoints without importing all of wants.ts.
 */

/** `scheme://host:port` of a URL as keel.yaml gives it (an unreadable one is kept as written). */
export function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return url;
  }
}
