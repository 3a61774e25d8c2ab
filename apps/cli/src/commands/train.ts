import type { Command } from 'commander';
import type { Ctx } from '../ui.js';

/**
 * `var train` is not wired yet: @var/train (packages/train) is being written. Until its
 * pipelines are final, the CLI has no train command (no stub).
 */
export function trainCommand(_ctx: Ctx): Command | null {
  return null;
}
