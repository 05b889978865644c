/** What the agent stores about its containers, and the pure helpers over that state. */

/** One container the agent made. */
export interface StoredContainer {
  id: string;
  ipv4: string;
  ipv6: string;
  mac: string;
  internet: boolean;
  image: string;
  /** Whether the container should be running (restored after an agent or host restart). */
  running: boolean;
}

/** A DNAT port forward. */
export interface StoredForward {
  protocol: "tcp" | "udp";
  externalPort: number;
  id: string;
  internalPort: number;
}

/** The durable document. */
export interface IntervirtState {
  containers: Record<string, StoredContainer>;
  /** Connected pairs, each sorted, the list sorted. */
  connections: [string, string][];
  forwards: StoredForward[];
}

/** A fresh, empty state. */
export function emptyState(): IntervirtState {
  return { containers: {}, connections: [], forwards: [] };
}

/** Checks a stored document's shape (throws so the store moves a bad file aside). */
export function parseState(data: unknown): IntervirtState {
  const d = data as Partial<IntervirtState> | null;
  if (
    !d || typeof d !== "object" || typeof d.containers !== "object" || d.containers === null ||
    !Array.isArray(d.connections) || !Array.isArray(d.forwards)
  ) {
    throw new TypeError("Invalid intervirt state document");
  }
  for (const c of Object.values(d.containers)) {
    if (typeof c?.id !== "string" || typeof c.ipv4 !== "string" || typeof c.ipv6 !== "string") {
      throw new TypeError("Invalid container record");
    }
  }
  return d as IntervirtState;
}

/** The sorted form of a pair. */
export function pairOf(a: string, b: string): [string, string] {
  return a < b ? [a, b] : [b, a];
}

/** Whether the pair is connected. */
export function isConnected(state: IntervirtState, a: string, b: string): boolean {
  const [x, y] = pairOf(a, b);
  return state.connections.some(([p, q]) => p === x && q === y);
}

/** Deep copy, so a failed operation never leaves the in-memory state half-changed. */
export function cloneState(state: IntervirtState): IntervirtState {
  return structuredClone(state);
}

/** Host-side veth name for a container id: prefix plus 8 hex digits of a hash. */
export function vethName(prefix: string, id: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    h ^= id.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return `${prefix}${h.toString(16).padStart(8, "0")}`;
}

/** The runtime name of container `id`: the agent's prefix plus the id. */
export function containerName(prefix: string, id: string): string {
  return `${prefix}${id}`;
}

/** Drops container `id` and everything that refers to it (pairs, forwards) from `state`. */
export function forgetContainer(state: IntervirtState, id: string): void {
  delete state.containers[id];
  state.connections = state.connections.filter(([a, b]) => a !== id && b !== id);
  state.forwards = state.forwards.filter((f) => f.id !== id);
}

/** Reports progress of a streamed operation: a fraction 0–1 and a line of text. */
export type ProgressFn = (fraction: number, output: string) => void;
