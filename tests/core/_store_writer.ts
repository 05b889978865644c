/** Test child: writes ever-growing versions of one document until killed. */
import { silentLogger, StateStore } from "../../lib/core/mod.ts";

const dir = Deno.args[0]!;
const store = new StateStore(dir, silentLogger());
const doc = await store.open<{ n: number; body: string }>("torture", {
  version: 1,
  empty: () => ({ n: 0, body: "" }),
});
let n = doc.value.n;
console.log("ready");
while (true) {
  n++;
  // A body whose content is checkable from n, large enough that a torn write would show.
  await doc.write({ n, body: String(n % 10).repeat(20_000 + (n % 7) * 5000) });
}
