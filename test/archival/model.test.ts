import { env } from "cloudflare:workers";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { at, atUntilDone, DAY } from "./support";

/**
 * Random sequences of soft-delete, restore, purge, policy runs and time passing, against a model
 * of what must survive: never is a live video lost, nor one soft-deleted within its 7-day window.
 */
interface Model {
  prefix: string;
  now: number;
  videos: Map<string, { deletedAt: number | null }>;
}
type Real = Record<string, never>;

const ids = ["a", "b", "c", "d"];
const idOf = (model: Model, name: string) => `${model.prefix}-${name}`;

class Create implements fc.AsyncCommand<Model, Real> {
  readonly name: string;
  constructor(name: string) {
    this.name = name;
  }
  check = (model: Readonly<Model>) => !model.videos.has(idOf(model as Model, this.name));
  async run(model: Model) {
    const id = idOf(model, this.name);
    const res = await at(model.now, "POST", "/v1/videos", {
      body: { id, filename: `${id}.mp4`, file_path: `/m/${id}.mp4`, duration: 5 },
    });
    expect(res.status).toBe(201);
    model.videos.set(id, { deletedAt: null });
  }
  toString = () => `Create(${this.name})`;
}

class SoftDelete implements fc.AsyncCommand<Model, Real> {
  readonly name: string;
  constructor(name: string) {
    this.name = name;
  }
  check = () => true;
  async run(model: Model) {
    const id = idOf(model, this.name);
    const res = await at(model.now, "POST", `/admin/archival/videos/${id}/soft-delete`);
    const known = model.videos.get(id);
    if (!known) return void expect(res.status).toBe(404);
    expect(res.status).toBe(200);
    expect(res.body.changed).toBe(known.deletedAt === null);
    if (known.deletedAt === null) known.deletedAt = model.now;
  }
  toString = () => `SoftDelete(${this.name})`;
}

class Restore implements fc.AsyncCommand<Model, Real> {
  readonly name: string;
  constructor(name: string) {
    this.name = name;
  }
  check = () => true;
  async run(model: Model) {
    const id = idOf(model, this.name);
    const res = await at(model.now, "POST", `/admin/archival/videos/${id}/restore`);
    const known = model.videos.get(id);
    if (!known) return void expect(res.status).toBe(404);
    expect(res.status).toBe(200);
    known.deletedAt = null;
  }
  toString = () => `Restore(${this.name})`;
}

class Purge implements fc.AsyncCommand<Model, Real> {
  readonly name: string;
  readonly confirm: boolean;
  constructor(name: string, confirm: boolean) {
    this.name = name;
    this.confirm = confirm;
  }
  check = () => true;
  async run(model: Model) {
    const id = idOf(model, this.name);
    const res = await at(model.now, "POST", `/admin/archival/videos/${id}/purge`, { body: { confirm: this.confirm } });
    const known = model.videos.get(id);
    if (!known) return void expect(res.status).toBe(404);
    if (known.deletedAt === null) return void expect(res.status).toBe(409);
    if (!this.confirm) return void expect(res.status).toBe(428);
    expect(res.status).toBe(200);
    model.videos.delete(id);
  }
  toString = () => `Purge(${this.name}, confirm=${this.confirm})`;
}

class ApplyPolicies implements fc.AsyncCommand<Model, Real> {
  check = () => true;
  async run(model: Model) {
    const res = await atUntilDone(model.now, "/admin/archival/apply-policies", {
      body: { confirm: true, deleteDays: 7, optimize: false },
    });
    expect(res.status).toBe(200);
    expect(res.body.run.status).toBe("succeeded");
    for (const [id, video] of model.videos) {
      if (video.deletedAt !== null && video.deletedAt < model.now - 7 * DAY) model.videos.delete(id);
    }
  }
  toString = () => "ApplyPolicies";
}

class Wait implements fc.AsyncCommand<Model, Real> {
  readonly days: number;
  constructor(days: number) {
    this.days = days;
  }
  check = () => true;
  async run(model: Model) {
    model.now += this.days * DAY;
  }
  toString = () => `Wait(${this.days}d)`;
}

async function assertAgrees(model: Model) {
  const { results } = await env.DB.prepare("SELECT id, deleted_at FROM videos WHERE id LIKE ?")
    .bind(`${model.prefix}-%`)
    .all<{ id: string; deleted_at: number | null }>();
  const actual = new Map(results.map((row) => [row.id, row.deleted_at]));
  expect([...actual.keys()].sort()).toEqual([...model.videos.keys()].sort());
  for (const [id, video] of model.videos) expect(actual.get(id), id).toBe(video.deletedAt);
}

describe("archival against a model", () => {
  it("never loses a live video or one inside its retention window", async () => {
    let run = 0;
    const name = fc.constantFrom(...ids);
    const softDelete = name.map((n) => new SoftDelete(n));
    const wait = fc.constantFrom(1, 3, 6, 8).map((days) => new Wait(days));
    const policies = fc.constant(new ApplyPolicies());
    // Deletes, time passing and policy runs are listed more than once: they are what the property is about.
    const commands = fc.commands(
      [
        name.map((n) => new Create(n)),
        softDelete,
        softDelete,
        name.map((n) => new Restore(n)),
        fc.tuple(name, fc.boolean()).map(([n, confirm]) => new Purge(n, confirm)),
        policies,
        policies,
        wait,
        wait,
      ],
      { maxCommands: 30, size: "large" },
    );
    await fc.assert(
      fc.asyncProperty(commands, async (sequence) => {
        run++;
        const model: Model = {
          prefix: `am${run}x${Math.random().toString(36).slice(2, 6)}`,
          now: Date.UTC(2040, 0, 1) + run * 1000 * DAY,
          videos: new Map(),
        };
        // Every run starts with all videos live, so deletes, waits and policy runs meet often.
        for (const name of ids) await new Create(name).run(model);
        await fc.asyncModelRun(() => ({ model, real: {} }), sequence);
        await assertAgrees(model);
      }),
      { numRuns: 40, seed: 45 },
    );
  }, 240_000);
});
