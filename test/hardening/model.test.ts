import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { call, json } from "../support/http";

/**
 * Model-based test of the data API: random command sequences run against the Worker and against a
 * plain in-memory model, and the two must never disagree — on status codes, on what lists return,
 * or on what is refused. Each run works in its own id namespace, so runs cannot see each other.
 */

interface ModelVideo {
  id: string;
  filePath: string;
  deleted: boolean;
  context: Set<string>;
  memory: number;
  conversations: Map<string, number>;
}

interface Model {
  prefix: string;
  videos: Map<string, ModelVideo>;
}

type Real = { prefix: string };

const pick = <T>(items: T[], index: number): T | undefined => (items.length ? items[index % items.length] : undefined);

async function listAll(path: string): Promise<{ id: string | number }[]> {
  const items: { id: string | number }[] = [];
  let cursor: string | null = null;
  do {
    const separator = path.includes("?") ? "&" : "?";
    const page: { items: { id: string | number }[]; next_cursor: string | null } = await json(
      await call("GET", `${path}${separator}limit=200${cursor ? `&cursor=${cursor}` : ""}`),
    );
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor);
  return items;
}

class CreateVideo implements fc.AsyncCommand<Model, Real> {
  readonly name: string;
  readonly reusePathOf: number | null;
  readonly duration: number;
  constructor(name: string, reusePathOf: number | null, duration: number) {
    this.name = name;
    this.reusePathOf = reusePathOf;
    this.duration = duration;
  }
  check = () => true;
  async run(model: Model): Promise<void> {
    const existing = this.reusePathOf === null ? undefined : pick([...model.videos.values()], this.reusePathOf);
    const id = `${model.prefix}-${this.name}`;
    const filePath = existing ? existing.filePath : `/m/${model.prefix}/${this.name}.mp4`;
    const res = await call("POST", "/v1/videos", {
      body: { id, filename: `${this.name}.mp4`, file_path: filePath, duration: this.duration },
    });
    const duplicate = model.videos.has(id) || [...model.videos.values()].some((v) => v.filePath === filePath);
    if (this.duration <= 0) expect(res.status).toBe(422);
    else if (duplicate) expect(res.status).toBe(409);
    else {
      expect(res.status).toBe(201);
      model.videos.set(id, { id, filePath, deleted: false, context: new Set(), memory: 0, conversations: new Map() });
    }
  }
  toString = () => `CreateVideo(${this.name}, reuse=${this.reusePathOf}, ${this.duration})`;
}

class AddContext implements fc.AsyncCommand<Model, Real> {
  readonly video: number;
  readonly tool: string;
  readonly timestamp: number | null;
  constructor(video: number, tool: string, timestamp: number | null) {
    this.video = video;
    this.tool = tool;
    this.timestamp = timestamp;
  }
  check = () => true;
  async run(model: Model): Promise<void> {
    const target = pick([...model.videos.values()], this.video);
    const id = target?.id ?? `${model.prefix}-missing`;
    const res = await call("POST", `/v1/videos/${id}/context`, {
      body: { context_type: "scene", tool_name: this.tool, timestamp: this.timestamp, data: { description: "d" } },
    });
    const key = `${this.tool}@${this.timestamp}`;
    if (!target) expect(res.status).toBe(404);
    else if (target.context.has(key)) expect(res.status).toBe(409);
    else {
      expect(res.status).toBe(201);
      target.context.add(key);
    }
  }
  toString = () => `AddContext(${this.video}, ${this.tool}, ${this.timestamp})`;
}

class AddMemory implements fc.AsyncCommand<Model, Real> {
  readonly video: number;
  constructor(video: number) {
    this.video = video;
  }
  check = (model: Readonly<Model>) => model.videos.size > 0;
  async run(model: Model): Promise<void> {
    const target = pick([...model.videos.values()], this.video) as ModelVideo;
    const res = await call("POST", `/v1/videos/${target.id}/memory`, { body: { timestamp: 1, content: "m" } });
    expect(res.status).toBe(201);
    target.memory++;
  }
  toString = () => `AddMemory(${this.video})`;
}

class Converse implements fc.AsyncCommand<Model, Real> {
  readonly video: number;
  readonly messages: number;
  constructor(video: number, messages: number) {
    this.video = video;
    this.messages = messages;
  }
  check = (model: Readonly<Model>) => model.videos.size > 0;
  async run(model: Model): Promise<void> {
    const target = pick([...model.videos.values()], this.video) as ModelVideo;
    const created = await call("POST", `/v1/videos/${target.id}/conversations`, { body: {} });
    expect(created.status).toBe(201);
    const { id } = await json<{ id: string }>(created);
    for (let i = 0; i < this.messages; i++) {
      expect((await call("POST", `/v1/conversations/${id}/messages`, { body: { role: "user", content: `q${i}` } })).status).toBe(
        201,
      );
    }
    target.conversations.set(id, this.messages);
  }
  toString = () => `Converse(${this.video}, ${this.messages})`;
}

class CheckEverything implements fc.AsyncCommand<Model, Real> {
  check = () => true;
  async run(model: Model): Promise<void> {
    const listed = (await listAll("/v1/videos")).map((v) => String(v.id)).filter((id) => id.startsWith(`${model.prefix}-`));
    expect(listed.sort()).toEqual([...model.videos.keys()].sort());
    for (const video of model.videos.values()) {
      expect(await listAll(`/v1/videos/${video.id}/context`)).toHaveLength(video.context.size);
      expect(await listAll(`/v1/videos/${video.id}/memory`)).toHaveLength(video.memory);
      const conversations = await listAll(`/v1/videos/${video.id}/conversations`);
      expect(conversations.map((c) => String(c.id)).sort()).toEqual([...video.conversations.keys()].sort());
      for (const [conversation, count] of video.conversations) {
        expect(await listAll(`/v1/conversations/${conversation}/messages`)).toHaveLength(count);
      }
    }
  }
  toString = () => "CheckEverything";
}

describe("data API against an in-memory model", () => {
  it("never disagrees over random command sequences", async () => {
    let run = 0;
    const name = fc.constantFrom("a", "b", "c", "d", "e");
    const commands = fc.commands(
      [
        fc
          .tuple(name, fc.option(fc.nat(5), { nil: null }), fc.constantFrom(-1, 0, 0.5, 60))
          .map(([n, reuse, d]) => new CreateVideo(n, reuse, d)),
        fc
          .tuple(fc.nat(5), fc.constantFrom("t1", "t2"), fc.constantFrom(null, 0, 2.5))
          .map(([v, t, ts]) => new AddContext(v, t, ts)),
        fc.nat(5).map((v) => new AddMemory(v)),
        fc.tuple(fc.nat(5), fc.nat(3)).map(([v, m]) => new Converse(v, m)),
        fc.constant(new CheckEverything()),
      ],
      { maxCommands: 25 },
    );
    await fc.assert(
      fc.asyncProperty(commands, async (sequence) => {
        const prefix = `model${run++}x${Math.random().toString(36).slice(2, 7)}`;
        await fc.asyncModelRun(
          () => ({ model: { prefix, videos: new Map() }, real: { prefix } }),
          [...sequence, new CheckEverything()],
        );
      }),
      { numRuns: 20, seed: 20261124 },
    );
  }, 180_000);
});
