import { describe, expect, it } from "vitest";
import { RunQueue } from "../src/worker/model/runQueue";
import { warmUp } from "../src/worker/model/warmup";

/** A job that records when it starts and ends, and finishes when `release()` is called. */
function gate(log: string[], name: string) {
  let release!: () => void;
  const done = new Promise<void>((r) => (release = r));
  const job = async () => {
    log.push(`${name}:start`);
    await done;
    log.push(`${name}:end`);
    return name;
  };
  return { job, release };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

describe("RunQueue: one model run at a time, real queries before warm-up runs", () => {
  it("a real query during a warm-up run waits for that run only, then goes before the next warm-up run", async () => {
    const q = new RunQueue();
    const log: string[] = [];
    const w1 = gate(log, "warm1");
    const w2 = gate(log, "warm2");
    const real = gate(log, "real");
    const p1 = q.background(w1.job);
    await tick();
    const p2 = q.background(w2.job); // queued behind warm1
    const pr = q.run(real.job); // arrives while warm1 runs
    await tick();
    expect(log).toEqual(["warm1:start"]);
    expect(q.contended).toBe(true);
    w1.release();
    await p1;
    await tick();
    expect(log).toEqual(["warm1:start", "warm1:end", "real:start"]);
    real.release();
    expect(await pr).toBe("real");
    await tick();
    expect(log.at(-1)).toBe("warm2:start");
    w2.release();
    await p2;
    expect(log).toEqual(["warm1:start", "warm1:end", "real:start", "real:end", "warm2:start", "warm2:end"]);
  });

  it("real queries run in arrival order and never overlap", async () => {
    const q = new RunQueue();
    const log: string[] = [];
    const jobs = ["a", "b", "c"].map((n) => gate(log, n));
    const ps = jobs.map((j) => q.run(j.job));
    for (const j of jobs) {
      await tick();
      j.release();
      await tick();
    }
    expect(await Promise.all(ps)).toEqual(["a", "b", "c"]);
    expect(log).toEqual(["a:start", "a:end", "b:start", "b:end", "c:start", "c:end"]);
  });

  it("a real query on an idle queue starts at once; a failing job frees the queue", async () => {
    const q = new RunQueue();
    const log: string[] = [];
    await expect(q.run(async () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    const r = gate(log, "r");
    const p = q.run(r.job);
    await tick();
    expect(log).toEqual(["r:start"]);
    r.release();
    await p;
    expect(await q.background(async () => "idle")).toBe("idle");
  });

  it("a warm-up loop yields to every real query that arrives", async () => {
    const q = new RunQueue();
    const order: string[] = [];
    let stop = false;
    const loop = (async () => {
      while (!stop) {
        await q.background(async () => {
          order.push("w");
          await tick();
        });
      }
    })();
    await tick();
    await Promise.all([q.run(async () => order.push("r1")), q.run(async () => order.push("r2"))]);
    stop = true;
    await loop;
    const i = order.indexOf("r1");
    expect(order.slice(i, i + 2)).toEqual(["r1", "r2"]); // no warm-up run between two waiting queries
    expect(order.slice(0, i).every((x) => x === "w") && i <= 2).toBe(true); // at most the run in progress first
  });
});

describe("warmUp", () => {
  it("lets a real query's message in between warm-up runs (a run that never returns to the event loop)", async () => {
    const q = new RunQueue();
    const log: string[] = [];
    let clock = 0;
    const policy = { minRuns: 6, maxRuns: 6, window: 2, settled: 0.9, maxMs: 1e9 };
    // like onnxruntime-web's WASM run: synchronous work, resolved through microtasks only
    const run = async () => {
      clock += 40;
      log.push("warm");
    };
    const warm = warmUp(q, run, policy, () => clock);
    // the page's message arrives while the first warm-up run is going on
    setTimeout(() => void q.run(async () => log.push("real")), 0);
    const samples = await warm;
    expect(samples).toEqual([40, 40, 40, 40, 40, 40]);
    expect(log.indexOf("real")).toBeGreaterThan(0);
    expect(log.indexOf("real")).toBeLessThanOrEqual(2); // after the run in progress, not after the whole warm-up
  });
});
