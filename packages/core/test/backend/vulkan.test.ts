import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { VULKAN_LOADER, checkVulkanLoader } from '../../src/backend/vulkan.js';
import { probeWebGPU } from '../../src/backend/webgpu.js';

const dir = mkdtempSync(join(tmpdir(), 'var-vulkan-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('checkVulkanLoader', () => {
  it.runIf(process.platform === 'linux')('finds the loader through LD_LIBRARY_PATH', async () => {
    writeFileSync(join(dir, VULKAN_LOADER), '');
    expect(await checkVulkanLoader({ LD_LIBRARY_PATH: `/nonexistent:${dir}` })).toEqual({ found: true, where: join(dir, VULKAN_LOADER) });
  });

  it('VAR_WEBGPU_SKIP_VULKAN_CHECK=1 leaves the decision to Dawn', async () => {
    expect(await checkVulkanLoader({ VAR_WEBGPU_SKIP_VULKAN_CHECK: '1' })).toEqual({ found: true, where: 'not checked' });
  });

  it('without a loader, probeWebGPU says so and never starts Dawn', async (ctx) => {
    const vk = await checkVulkanLoader();
    if (vk.found) return ctx.skip(); // a machine with Vulkan: Dawn is started, nothing to check here
    expect(vk.where).toMatch(/ld\.so\.cache/);
    const p = await probeWebGPU();
    expect(p.adapter).toBeNull();
    expect(p.reason).toMatch(/Dawn needs the Vulkan loader libvulkan\.so\.1, which is not installed here/);
    expect(p.reason).toMatch(/apt-get install libvulkan1/);
  });
});
