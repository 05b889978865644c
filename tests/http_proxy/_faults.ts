/**
 * Fault injection for the proxy workers: pass {@linkcode WorkerFaults.spawn} as the data plane's
 * `spawnWorker`, and every worker runs the real entry point wrapped by _fault_worker.ts, which a
 * test can crash or hang by worker id.
 */

const FAULT_WORKER_URL = new URL("./_fault_worker.ts", import.meta.url).href;

/** Starts proxy workers that can be crashed or hung, and remembers them by id. */
export class WorkerFaults {
  #workers = new Map<number, Worker>();

  /** The data plane's `spawnWorker`: a worker named like the real one, on the fault module. */
  readonly spawn = (id: number): Worker => {
    const worker = new Worker(FAULT_WORKER_URL, { type: "module", name: `sozu-proxy-${id}` });
    this.#workers.set(id, worker);
    return worker;
  };

  /** Makes worker `id` throw an uncaught error, as a bug would. */
  crash(id: number): void {
    this.#post(id, "crash");
  }

  /** Makes worker `id` spin forever, so it stops answering. */
  hang(id: number): void {
    this.#post(id, "hang");
  }

  #post(id: number, t: "crash" | "hang"): void {
    const worker = this.#workers.get(id);
    if (!worker) throw new Error(`No proxy worker ${id} was started`);
    worker.postMessage({ t });
  }
}
