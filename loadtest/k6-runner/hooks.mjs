// Module resolve hook for the runner's worker threads: a k6 script imports `k6`, `k6/http` and
// `k6/metrics`, which exist only inside the k6 binary, so they resolve to the runner's shims.
const SHIMS = {
  k6: './shims/k6.mjs',
  'k6/http': './shims/k6-http.mjs',
  'k6/metrics': './shims/k6-metrics.mjs',
};

/** @param {string} specifier @param {unknown} context @param {(s: string, c: unknown) => unknown} next */
export async function resolve(specifier, context, next) {
  const shim = /** @type {Record<string, string>} */ (SHIMS)[specifier];
  if (shim) return { url: new URL(shim, import.meta.url).href, shortCircuit: true };
  if (specifier.startsWith('k6/')) throw new Error(`the k6 runner does not provide the module "${specifier}" (only ${Object.keys(SHIMS).join(', ')}); run the script with real k6`);
  return next(specifier, context);
}
