/**
 * The backend's environment switches, read once when @yolo-launch/backend is imported (index.ts)
 * and nowhere else. Import time is the one moment that fits: eager backprop is installed on
 * tfjs-core's engine before any gradient is taken, and a later change would split one run's
 * steps between two memory behaviours.
 *
 * | variable            | effect                                                                  | default |
 * |---------------------|-------------------------------------------------------------------------|---------|
 * | YOLO_EAGER_BACKPROP | `0` keeps tfjs's own backprop (every gradient lives until the pass ends) | on      |
 *
 * YOLO_BACKEND is an option of initBackend (select.ts), read when it is called.
 */
export interface BackendSwitches {
  /** Free gradients and saved activations during backprop (engine/eager_backprop.ts). */
  eagerBackprop: boolean;
}

export function backendSwitches(env: Readonly<Record<string, string | undefined>> = process.env): BackendSwitches {
  return { eagerBackprop: env.YOLO_EAGER_BACKPROP !== '0' };
}
