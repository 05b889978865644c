/** Reading the tail of an openvpn log for error messages. */

/** The last few lines of an openvpn log, for error messages. */
export async function logTail(path: string, lines = 3): Promise<string> {
  try {
    const file = await Deno.open(path, { read: true });
    try {
      const size = (await file.stat()).size;
      const start = Math.max(0, size - 4096);
      await file.seek(start, Deno.SeekMode.Start);
      const buf = new Uint8Array(size - start);
      let off = 0;
      while (off < buf.length) {
        const n = await file.read(buf.subarray(off));
        if (n === null) break;
        off += n;
      }
      const text = new TextDecoder().decode(buf.subarray(0, off)).trim().split("\n");
      return text.slice(-lines).join(" | ") || "(empty log)";
    } finally {
      file.close();
    }
  } catch {
    return `(no log at ${path})`;
  }
}
