/**
 * A proxy worker with faults a test can inject: the real entry point (worker_main.ts) plus two
 * messages of its own, "crash" (an uncaught error, as a bug in the worker would raise) and "hang"
 * (a loop that never ends, as a bug could leave it). Started by {@linkcode WorkerFaults}.
 */
import "../../lib/backends/http_proxy/worker_main.ts";

interface FaultScope {
  onmessage: ((event: MessageEvent<{ t: string }>) => void) | null;
}

const scope = globalThis as unknown as FaultScope;
const real = scope.onmessage!;

scope.onmessage = (event) => {
  switch (event.data.t) {
    case "crash":
      setTimeout(() => {
        throw new Error("proxy worker crash requested");
      }, 0);
      return;
    case "hang":
      for (;;) {
        // spin until terminated
      }
    default:
      real(event);
  }
};
