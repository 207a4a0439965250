/**
 * A fetch response's body, read to the end unless it is larger than `max` bytes: then the transfer is
 * cancelled (a Content-Length over the cap is refused before reading) and `tooBig()` is thrown.
 */
export async function readCapped(res: Response, max: number, tooBig: () => Error): Promise<Buffer> {
  if (Number(res.headers.get("content-length")) > max) {
    await res.body?.cancel();
    throw tooBig();
  }
  if (!res.body) return Buffer.alloc(0);
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > max) {
      await reader.cancel();
      throw tooBig();
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}
