import { env } from "cloudflare:workers";
import { createLocalJWKSet, exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { createApp, undocumentedPublicRoutes } from "../../src/app";
import { call, type TokenName } from "../support/http";

interface Operation {
  method: string;
  path: string;
  scope: "public" | "read" | "write" | "admin";
  hasBody: boolean;
}

/** Every operation of the published document, with the scope it declares. */
async function operations(): Promise<Operation[]> {
  const document = (await (await call("GET", "/openapi.json", { token: null })).json()) as {
    paths: Record<string, Record<string, { "x-keeper-scope"?: Operation["scope"]; requestBody?: unknown }>>;
  };
  const result: Operation[] = [];
  for (const [path, methods] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(methods)) {
      const scope = operation["x-keeper-scope"];
      if (!scope) throw new Error(`${method.toUpperCase()} ${path} declares no x-keeper-scope`);
      result.push({ method: method.toUpperCase(), path, scope, hasBody: Boolean(operation.requestBody) });
    }
  }
  return result;
}

const concrete = (path: string) => path.replaceAll(/\{[^}]+\}/g, "auth-probe");
const lowerTokens: Record<Operation["scope"], TokenName[]> = { public: [], read: [], write: ["read"], admin: ["read", "write"] };
const sufficientToken: Record<Operation["scope"], TokenName | null> = {
  public: null,
  read: "read",
  write: "write",
  admin: "admin",
};

describe("every registered route is covered by a declared scope", () => {
  it("has no route outside the OpenAPI document except the listed public ones", async () => {
    const documented = new Set((await operations()).map((op) => `${op.method} ${op.path.replaceAll(/\{([^}]+)\}/g, ":$1")}`));
    const registered = createApp()
      .routes.filter((route) => route.method !== "ALL")
      .map((route) => `${route.method} ${route.path}`);
    const stray = registered.filter(
      (route) => !documented.has(route) && !(undocumentedPublicRoutes as readonly string[]).includes(route),
    );
    expect(stray).toEqual([]);
    expect(registered.length).toBeGreaterThan(10);
  });

  it("lists only known scopes, and /admin routes are never public", async () => {
    for (const op of await operations()) {
      expect(["public", "read", "write", "admin"]).toContain(op.scope);
      if (op.path.startsWith("/admin") || op.path === "/metrics") expect(op.scope, op.path).not.toBe("public");
      if (op.path.startsWith("/v1") && op.method !== "GET") expect(op.scope, `${op.method} ${op.path}`).not.toBe("read");
    }
  });
});

describe("credentials on every operation", async () => {
  const ops = await operations();
  for (const op of ops.filter((o) => o.scope !== "public")) {
    const label = `${op.method} ${op.path} [${op.scope}]`;
    const body = op.hasBody ? {} : undefined;

    it(`${label}: missing credential → 401 problem`, async () => {
      const res = await call(op.method, concrete(op.path), { token: null, body });
      expect(res.status).toBe(401);
      expect(res.headers.get("content-type")).toContain("application/problem+json");
      expect(res.headers.get("www-authenticate")).toContain("Bearer");
    });

    it(`${label}: wrong token and malformed header → 401`, async () => {
      const wrong = await call(op.method, concrete(op.path), {
        token: null,
        body,
        headers: { Authorization: "Bearer test-admin-token-0123456788" },
      });
      expect(wrong.status).toBe(401);
      const basic = await call(op.method, concrete(op.path), {
        token: null,
        body,
        headers: { Authorization: "Basic dXNlcjpwdw==" },
      });
      expect(basic.status).toBe(401);
    });

    for (const lower of lowerTokens[op.scope]) {
      it(`${label}: ${lower} token → 403`, async () => {
        const res = await call(op.method, concrete(op.path), { token: lower, body });
        expect(res.status).toBe(403);
        expect(((await res.json()) as { requiredScope: string }).requiredScope).toBe(op.scope);
      });
    }

    const enough = sufficientToken[op.scope];
    it(`${label}: ${enough} token is let through`, async () => {
      const res = await call(op.method, concrete(op.path), { token: enough, body });
      expect([401, 403]).not.toContain(res.status);
    });
  }

  it("accepts every token of a rotated (comma-separated) list", async () => {
    expect((await call("GET", "/admin/status", { token: "admin" })).status).toBe(200);
    expect((await call("GET", "/admin/status", { token: "adminRotated" })).status).toBe(200);
  });

  it("public operations answer without a credential", async () => {
    for (const op of ops.filter((o) => o.scope === "public" && o.method === "GET")) {
      expect((await call("GET", concrete(op.path), { token: null })).status, op.path).toBe(200);
    }
    expect((await call("GET", "/openapi.json", { token: null })).status).toBe(200);
    expect((await call("GET", "/docs", { token: null })).status).toBe(200);
  });

  it("sends no CORS headers on /admin", async () => {
    const res = await call("OPTIONS", "/admin/status", {
      token: null,
      headers: { Origin: "https://evil.example", "Access-Control-Request-Method": "GET" },
    });
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
  });
});

describe("Cloudflare Access JWT", () => {
  const team = "keeper-test.cloudflareaccess.com";
  const aud = "keeper-audience-tag";
  let privateKey: CryptoKey;
  let jwks: ReturnType<typeof createLocalJWKSet>;
  let otherKey: CryptoKey;

  beforeAll(async () => {
    const pair = await generateKeyPair("RS256");
    privateKey = pair.privateKey;
    const jwk: JWK = { ...(await exportJWK(pair.publicKey)), kid: "k1", alg: "RS256" };
    jwks = createLocalJWKSet({ keys: [jwk] });
    otherKey = (await generateKeyPair("RS256")).privateKey;
  });

  const sign = (claims: { aud?: string; iss?: string; exp?: string }, key = privateKey) =>
    new SignJWT({ email: "operator@example.com" })
      .setProtectedHeader({ alg: "RS256", kid: "k1" })
      .setIssuer(claims.iss ?? `https://${team}`)
      .setAudience(claims.aud ?? aud)
      .setIssuedAt()
      .setExpirationTime(claims.exp ?? "5m")
      .sign(key);

  const request = async (assertion: string, scope = "read") => {
    const app = createApp({ accessKeySet: jwks });
    const accessEnv = { ...env, ACCESS_TEAM_DOMAIN: team, ACCESS_AUD: aud, ACCESS_SCOPE: scope };
    return app.request("/admin/status", { headers: { "Cf-Access-Jwt-Assertion": assertion } }, accessEnv);
  };

  it("accepts a valid assertion with the configured scope and names the person as actor", async () => {
    const res = await request(await sign({}));
    expect(res.status).toBe(200);
    expect(((await res.json()) as { principal: { actor: string } }).principal.actor).toBe("access:operator@example.com");
  });

  it("refuses a wrong audience, a wrong issuer, an expired token and a foreign signature", async () => {
    expect((await request(await sign({ aud: "someone-else" }))).status).toBe(401);
    expect((await request(await sign({ iss: "https://evil.cloudflareaccess.com" }))).status).toBe(401);
    expect((await request(await sign({ exp: "-1m" }))).status).toBe(401);
    expect((await request(await sign({}, otherKey))).status).toBe(401);
    expect((await request("not-a-jwt")).status).toBe(401);
  });

  it("is ignored when Access is not configured", async () => {
    const res = await createApp({ accessKeySet: jwks }).request(
      "/admin/status",
      { headers: { "Cf-Access-Jwt-Assertion": await sign({}) } },
      env,
    );
    expect(res.status).toBe(401);
  });
});
