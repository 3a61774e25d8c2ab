/**
 * Whether Dawn (the `webgpu` npm package) can find a Vulkan loader on this Linux machine,
 * checked without loading it. Dawn itself writes "Warning: Couldn't load Vulkan: … / at
 * operator() (…BackendVk.cpp…)" straight to the process's stdout when the loader is missing
 * (native output that JavaScript cannot catch), so the probe asks first and never starts Dawn
 * there: `var info` then says why WebGPU is unavailable, and nothing else is printed.
 */
import { importDynamic, isNode } from './env.js';

/** The loader Dawn opens on Linux. */
export const VULKAN_LOADER = 'libvulkan.so.1';

/** Library directories the dynamic linker searches by default (Debian/Ubuntu multiarch, Fedora, Alpine). */
const DEFAULT_DIRS = [
  '/lib',
  '/usr/lib',
  '/lib64',
  '/usr/lib64',
  '/usr/local/lib',
  '/lib/x86_64-linux-gnu',
  '/usr/lib/x86_64-linux-gnu',
  '/lib/aarch64-linux-gnu',
  '/usr/lib/aarch64-linux-gnu',
];

export interface VulkanLoaderCheck {
  /** false only when the loader was looked for and is certainly absent (Linux). */
  found: boolean;
  /** Where it was found (a path, or "ld.so.cache"), or the places searched. */
  where: string;
}

/**
 * Look for {@link VULKAN_LOADER} the way the dynamic linker would: `LD_LIBRARY_PATH`, the
 * ld.so cache, then the default directories. Off Linux (or outside Node) it answers
 * `found: true` and leaves the decision to Dawn. `VAR_WEBGPU_SKIP_VULKAN_CHECK=1` skips it.
 */
export async function checkVulkanLoader(
  env: Record<string, string | undefined> = (globalThis as any).process?.env ?? {},
): Promise<VulkanLoaderCheck> {
  const proc = (globalThis as any).process;
  if (!isNode() || proc.platform !== 'linux' || env.VAR_WEBGPU_SKIP_VULKAN_CHECK === '1') return { found: true, where: 'not checked' };
  const fs = await importDynamic<typeof import('node:fs')>('node:fs');
  const path = await importDynamic<typeof import('node:path')>('node:path');
  const fromEnv = (env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean);
  for (const dir of fromEnv) {
    const p = path.join(dir, VULKAN_LOADER);
    if (fs.existsSync(p)) return { found: true, where: p };
  }
  try {
    // the cache is binary, but it holds every library's soname as plain bytes
    if (fs.readFileSync('/etc/ld.so.cache').includes(VULKAN_LOADER)) return { found: true, where: '/etc/ld.so.cache' };
  } catch {
    // no cache (some containers): fall through to the directories
  }
  for (const dir of DEFAULT_DIRS) {
    const p = path.join(dir, VULKAN_LOADER);
    if (fs.existsSync(p)) return { found: true, where: p };
  }
  return { found: false, where: ['LD_LIBRARY_PATH', '/etc/ld.so.cache', ...DEFAULT_DIRS].join(', ') };
}
