// Composed query vectors (worker/rank/compose.ts, weights in lib/query/composeWeights.ts): the weights and the
// arithmetic pinned on small vectors.
import { describe, expect, it } from "vitest";
import { ADD_WORDS_WEIGHT, EXCLUDE_WEIGHT, ROCCHIO } from "../src/lib/query/composeWeights";
import { composeQuery, excludeWords, imagePlusWords, normalize, rocchio } from "../src/worker/rank/compose";

const close = (got: ArrayLike<number>, want: number[]) => {
  expect(got.length).toBe(want.length);
  want.forEach((w, i) => expect(got[i]).toBeCloseTo(w, 6));
};
const unit = (v: number[]) => {
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
};

describe("composed query vectors", () => {
  it("uses Rocchio's classic weights, lambda 0.5 for exclusions and equal weights for image + words", () => {
    expect(ROCCHIO).toEqual({ alpha: 1, beta: 0.75, gamma: 0.15 });
    expect(EXCLUDE_WEIGHT).toBe(0.5);
    expect(ADD_WORDS_WEIGHT).toBe(1);
  });

  it("normalizes, and refuses a zero vector", () => {
    close(normalize([3, 4]), [0.6, 0.8]);
    expect(() => normalize([0, 0])).toThrow(/cancels out/);
  });

  it("Rocchio: normalize(q + 0.75 mean(pos) - 0.15 mean(neg)), parts made unit first", () => {
    const q = [1, 0, 0];
    const pos = [
      [0, 2, 0], // unit: (0, 1, 0)
      [0, 0, 5], // unit: (0, 0, 1)
    ];
    const neg = [[-3, 0, 0]]; // unit: (-1, 0, 0)
    // 1 (1,0,0) + 0.75 (0, .5, .5) - 0.15 (-1, 0, 0) = (1.15, .375, .375)
    close(rocchio(q, pos, neg), unit([1.15, 0.375, 0.375]));
    close(rocchio(q, [], []), [1, 0, 0]);
    close(rocchio([2, 0], [], [[0, 1]]), unit([1, -0.15]));
  });

  it("exclusions: normalize(e(words) - 0.5 x each excluded)", () => {
    close(excludeWords([1, 0], [[0, 1]]), unit([1, -0.5]));
    close(excludeWords([1, 0], [[0, 1], [0, 3]]), unit([1, -1]));
  });

  it("image + words: normalize(e(image) + 1 x e(words))", () => {
    close(imagePlusWords([2, 0], [0, 7]), unit([1, 1]));
  });

  it("composes exclusions or added words first, then the marks", () => {
    const base = [1, 0, 0];
    const after = excludeWords(base, [[0, 1, 0]]);
    close(composeQuery({ base, minus: [[0, 1, 0]], pos: [[0, 0, 1]] }), Array.from(rocchio(after, [[0, 0, 1]], [])));
    close(composeQuery({ base: [0, 0, 3] }), [0, 0, 1]);
    close(composeQuery({ base, plus: [0, 1, 0] }), unit([1, 1, 0]));
  });

  it("returns float32 unit vectors", () => {
    const v = composeQuery({ base: [0.3, -0.2, 0.9, 0.1], neg: [[1, 1, 1, 1]], pos: [[0.5, 0, 0, 0]] });
    expect(v).toBeInstanceOf(Float32Array);
    expect(Math.hypot(...v)).toBeCloseTo(1, 6);
  });
});
