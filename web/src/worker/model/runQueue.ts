// One model run at a time in the search worker, real queries first. onnxruntime-web's WASM runs are not
// interruptible and share the CPU, so a warm-up run (background) only starts when no real query runs or waits, and
// a real query arriving during a warm-up run waits for that run only, then goes before any further warm-up run.

export class RunQueue {
  private busy = false;
  private waiting: (() => void)[] = [];
  private idle: (() => void)[] = [];

  /** Runs `job` as soon as the current run (if any) ends, ahead of background jobs. */
  async run<T>(job: () => Promise<T>): Promise<T> {
    if (this.busy) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.busy = true;
    try {
      return await job();
    } finally {
      this.release();
    }
  }

  /** Runs `job` once nothing runs and no real job waits. */
  async background<T>(job: () => Promise<T>): Promise<T> {
    while (this.busy || this.waiting.length > 0) await new Promise<void>((resolve) => this.idle.push(resolve));
    this.busy = true;
    try {
      return await job();
    } finally {
      this.release();
    }
  }

  /** Whether a real job waits for the current run. */
  get contended(): boolean {
    return this.waiting.length > 0;
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) {
      next(); // the engine passes straight to the next real job (busy stays true)
      return;
    }
    this.busy = false;
    for (const wake of this.idle.splice(0)) wake();
  }
}
