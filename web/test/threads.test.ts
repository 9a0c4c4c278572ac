import { describe, expect, it } from "vitest";
import {
  addSample,
  calibrationKey,
  chooseThreads,
  KEEP,
  parseRecord,
  threadCandidates,
  type ThreadRecord,
} from "../src/worker/model/threads";
import { median, steadyMs, TEXT_WARMUP, warmedUp, type WarmPolicy } from "../src/worker/model/warmup";

const rec = (m: Record<number, number[]>): ThreadRecord => ({
  steadyMs: Object.fromEntries(Object.entries(m).map(([k, v]) => [k, v])),
});

describe("threadCandidates", () => {
  it.each([
    [2, false, [1]],
    [8, false, [1]],
    [1, true, [1]],
    [0, true, [1]],
    [2, true, [1, 2]],
    [3, true, [1, 2]],
    [4, true, [1, 2, 4]],
    [16, true, [1, 2, 4]],
  ])("%i cores, isolated %s -> %j", (cores, isolated, want) => expect(threadCandidates(cores, isolated)).toEqual(want));
});

describe("chooseThreads: measured on this device, not assumed", () => {
  it("one candidate: 1 thread, nothing to measure", () => {
    expect(chooseThreads([1], null)).toEqual({ threads: 1, reason: "single" });
    expect(chooseThreads([1], rec({ 2: [10] }))).toEqual({ threads: 1, reason: "single" });
  });

  it("a first visit runs 1 thread, then each visit measures the next unmeasured count", () => {
    expect(chooseThreads([1, 2, 4], null)).toEqual({ threads: 1, reason: "default" });
    expect(chooseThreads([1, 2, 4], rec({ 1: [40] }))).toEqual({ threads: 2, reason: "explore" });
    expect(chooseThreads([1, 2, 4], rec({ 1: [40], 2: [30] }))).toEqual({ threads: 4, reason: "explore" });
  });

  it("then the fastest, where more threads must be at least 10% faster than fewer", () => {
    expect(chooseThreads([1, 2], rec({ 1: [40], 2: [30] }))).toEqual({ threads: 2, reason: "measured" });
    expect(chooseThreads([1, 2], rec({ 1: [40], 2: [37] }))).toEqual({ threads: 1, reason: "measured" });
    expect(chooseThreads([1, 2], rec({ 1: [30], 2: [60] }))).toEqual({ threads: 1, reason: "measured" });
    expect(chooseThreads([1, 2, 4], rec({ 1: [40], 2: [30], 4: [28] })).threads).toBe(2);
    expect(chooseThreads([1, 2, 4], rec({ 1: [40], 2: [30], 4: [20] })).threads).toBe(4);
    expect(chooseThreads([1, 2, 4], rec({ 1: [40], 2: [45], 4: [20] })).threads).toBe(4);
  });

  it("compares the median of the kept samples, so one disturbed visit does not flip the choice", () => {
    expect(chooseThreads([1, 2], rec({ 1: [40, 41, 120], 2: [30, 31, 29] })).threads).toBe(2);
    expect(chooseThreads([1, 2], rec({ 1: [40, 41, 39], 2: [30, 90, 95] })).threads).toBe(1);
  });
});

describe("addSample / parseRecord", () => {
  it("keeps the last KEEP finite samples per count", () => {
    let r: ThreadRecord | null = null;
    for (const ms of [10, 20, 30, 40, NaN, -1, Infinity]) r = addSample(r, 2, ms);
    expect(r!.steadyMs["2"]).toEqual([20, 30, 40].slice(-KEEP));
    r = addSample(r, 1, 50);
    expect(r.steadyMs).toEqual({ 1: [50], 2: [20, 30, 40] });
  });

  it("round-trips through JSON under its key, and refuses another key or damage", () => {
    const key = calibrationKey("abc", 4, "onnxruntime-web 1.30.0 wasm");
    const r = addSample(addSample(null, 1, 40), 2, 30);
    const stored = JSON.parse(JSON.stringify({ key, record: r }));
    expect(parseRecord(stored, key)).toEqual(r);
    expect(parseRecord(stored, calibrationKey("abc", 8, "onnxruntime-web 1.30.0 wasm"))).toBeNull();
    expect(parseRecord(stored, calibrationKey("def", 4, "onnxruntime-web 1.30.0 wasm"))).toBeNull();
    for (const bad of [null, 1, "x", [], { key }, { key, record: null }, { key, record: { steadyMs: 5 } }]) {
      expect(parseRecord(bad, key)).toBeNull();
    }
    const messy = { key, record: { steadyMs: { "1": [40, "x", -3, null, 41], "0": [1], two: [1], "2": "fast", "4": [] } } };
    expect(parseRecord(messy, key)).toEqual({ steadyMs: { 1: [40, 41] } });
  });
});

describe("warm-up stop rule", () => {
  const p: WarmPolicy = { ...TEXT_WARMUP, maxMs: 1e9 };

  it("does not stop on the Liftoff plateau before minRuns", () => {
    // measured shape (2 threads, 2 cores): a cold run, a plateau at ~70 ms, then TurboFan code at ~28 ms
    const plateau = [198, 87, 76, 71, 70, 71, 75, 75, 74, 72, 73, 71];
    expect(warmedUp(plateau, 0, p)).toBe(false);
  });

  it("keeps going while runs still get faster, stops once they have settled", () => {
    const runs = [198, 87, 76, 71, 70, 71, 75, 75, 54, 55, 62, 54, 65, 102, 48, 37, 41, 30, 26, 45, 28, 32, 26, 29, 28, 27, 26, 28, 27, 26];
    const stops = runs.map((_, i) => warmedUp(runs.slice(0, i + 1), 0, p));
    const first = stops.indexOf(true);
    expect(first).toBeGreaterThanOrEqual(p.minRuns - 1);
    expect(Math.min(...runs.slice(first - 4, first + 1))).toBeLessThan(35); // stopped on the fast code
    expect(steadyMs(runs.slice(0, first + 1), p)).toBeLessThan(35);
  });

  it("1 thread settles after minRuns", () => {
    const runs = [173, 55, 44, 38, 44, 36, 37, 37, 41, 39, 37, 36, 37, 36, 36, 39];
    expect(warmedUp(runs.slice(0, 15), 0, p)).toBe(false);
    expect(warmedUp(runs, 0, p)).toBe(true);
    expect(steadyMs(runs, p)).toBe(36);
  });

  it("stops at maxRuns or maxMs whatever the times", () => {
    const slower = Array.from({ length: p.maxRuns }, (_, i) => 100 - i);
    expect(warmedUp(slower.slice(0, -1), 0, p)).toBe(false);
    expect(warmedUp(slower, 0, p)).toBe(true);
    expect(warmedUp([300], TEXT_WARMUP.maxMs, TEXT_WARMUP)).toBe(true);
  });

  it("median", () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(2.5);
    expect(median([])).toBeNaN();
  });
});
