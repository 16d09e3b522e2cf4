/** Messages between the main thread and a namespace runtime worker. */
export type ToRuntime = { id: number; source: string; args: unknown[] }
export type FromRuntime =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: { name: string; message: string; stack?: string; code?: string } }
