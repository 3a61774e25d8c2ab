/** Runtime facts shared by the backend loaders. Node modules are loaded lazily through
 * variable specifiers so bundlers targeting browsers neither resolve nor bundle them. */

export function isNode(): boolean {
  const p = (globalThis as any).process;
  return typeof p === 'object' && p !== null && typeof p.versions?.node === 'string';
}

/** Dynamic import that bundlers leave alone (the specifier is not a literal). */
export function importDynamic<T = any>(specifier: string): Promise<T> {
  return import(/* webpackIgnore: true */ /* @vite-ignore */ specifier) as Promise<T>;
}

let requireFn: NodeJS.Require | undefined;
/** Node's `require`, created relative to this module. Node only. */
export async function nodeRequire(): Promise<NodeJS.Require> {
  if (!requireFn) {
    const mod = await importDynamic<typeof import('node:module')>('node:module');
    requireFn = mod.createRequire(import.meta.url);
  }
  return requireFn;
}

/** Whether a package can be resolved from here (Node), without loading it. */
export async function canResolve(specifier: string): Promise<boolean> {
  if (!isNode()) return false;
  try {
    const req = await nodeRequire();
    req.resolve(specifier);
    return true;
  } catch {
    return false;
  }
}

/** Logical cores available to this process. */
export async function availableCores(): Promise<number> {
  if (isNode()) {
    const os = await importDynamic<typeof import('node:os')>('node:os');
    return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  }
  const hc = (globalThis as any).navigator?.hardwareConcurrency;
  return typeof hc === 'number' && hc > 0 ? hc : 1;
}

export function errorMessage(e: unknown): string {
  if (e instanceof Error) return e.message;
  if (e && typeof e === 'object' && 'message' in e) return String((e as any).message);
  return String(e);
}
