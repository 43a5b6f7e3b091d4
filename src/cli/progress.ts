/** Runs shorter than this show no progress. */
const MIN_TOTAL = 200;
const WIDTH = 30;

/**
 * A progress bar on stderr for long runs (so stdout stays clean for `--json` and pipes): redrawn
 * in place on a terminal, one line per tenth otherwise.
 */
export class ProgressBar {
  private done = 0;
  private lastTenth = -1;
  private readonly enabled: boolean;
  private readonly tty: boolean;

  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {
    this.enabled = total >= MIN_TOTAL;
    this.tty = stream.isTTY === true;
  }

  /** Counts `count` more items as done. */
  tick(count = 1): void {
    this.done = Math.min(this.total, this.done + count);
    if (!this.enabled) return;
    const ratio = this.total === 0 ? 1 : this.done / this.total;
    if (this.tty) {
      const filled = Math.round(ratio * WIDTH);
      this.stream.write(
        `\r${this.label} [${"#".repeat(filled)}${"-".repeat(WIDTH - filled)}] ` +
          `${Math.round(ratio * 100)}% ${this.done}/${this.total}`,
      );
      return;
    }
    const tenth = Math.floor(ratio * 10);
    if (tenth !== this.lastTenth) {
      this.lastTenth = tenth;
      this.stream.write(`${this.label}: ${this.done}/${this.total} (${tenth * 10}%)\n`);
    }
  }

  /** Ends the bar's line. */
  finish(): void {
    if (this.enabled && this.tty) this.stream.write("\n");
  }
}
