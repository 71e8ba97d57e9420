/**
 * Test-only: make sure tfjs-core's gradient functions are registered. tfjs-core's CommonJS
 * node bundle (what `import '@tensorflow/tfjs-core'` loads) has no gradients; the union
 * package @tensorflow/tfjs adds them with `import '@tensorflow/tfjs-core/dist/register_all_gradients'`,
 * an ESM file tree with extensionless imports that Node cannot load as is. Until
 * @yolo-launch/backend registers them itself, load that tree through a small resolve/load
 * hook. The registries and the engine live in a global namespace, so gradients registered by
 * the ESM copy serve the CommonJS one.
 */
import { register } from 'node:module';
import { tf } from '@yolo-launch/backend';

export async function ensureGradients(): Promise<void> {
  if (tf.getGradient('Conv2D') !== undefined) return;
  register('./tfjs-esm-hooks.js', import.meta.url);
  await import('@tensorflow/tfjs-core/dist/register_all_gradients.js' as string);
  if (tf.getGradient('Conv2D') === undefined) throw new Error('could not register tfjs gradients');
}
