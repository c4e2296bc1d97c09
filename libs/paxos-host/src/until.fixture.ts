/** Polls `cond` every `everyMs` until it holds; throws once `ms` have passed without it. */
export async function until(cond: () => boolean, ms = 10_000, everyMs = 5): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
