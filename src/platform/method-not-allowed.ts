import { KeeperError } from "./errors";

interface RegisteredRoute {
  method: string;
  path: string;
}

const patternOf = (path: string) =>
  new RegExp(
    `^${path
      .split("/")
      .map((segment) => (segment.startsWith(":") ? "[^/]+" : segment.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")))
      .join("/")}/?$`,
  );

/**
 * The methods a path answers to, from the app's registered routes (middleware registered for every
 * method and wildcard paths are not routes). HEAD is answered wherever GET is.
 */
export function methodsFor(routes: readonly RegisteredRoute[], pathname: string): string[] {
  const methods = new Set<string>();
  for (const route of routes) {
    if (route.method === "ALL" || route.path.includes("*")) continue;
    if (patternOf(route.path).test(pathname)) methods.add(route.method.toUpperCase());
  }
  if (methods.has("GET")) methods.add("HEAD");
  return [...methods].sort();
}

/** For a path that exists under other methods: 405 with `Allow` (RFC 9110 §15.5.6), not 404. */
export function methodNotAllowed(routes: readonly RegisteredRoute[], method: string, pathname: string): KeeperError | null {
  const allowed = methodsFor(routes, pathname);
  if (allowed.length === 0 || allowed.includes(method.toUpperCase())) return null;
  return new KeeperError("METHOD_NOT_ALLOWED", `${method} is not allowed on ${pathname}; allowed: ${allowed.join(", ")}`, {
    headers: { Allow: allowed.join(", ") },
  });
}
