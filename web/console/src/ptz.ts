// PTZ over the server's API: `POST /api/v1/cameras/{id}/ptz` with a command
// (`{"action": "move", "pan": .., "tilt": .., "zoom": .., "timeout_ms": ..}`, `stop`,
// `presets`, `goto_preset`), and whether the logged-in user's role may send them.
import { api, me, Unauthorized, type Camera } from './api';

/** Roles whose `Role::may(Action::Ptz)` holds (command/src/access/model.rs). */
const PTZ_ROLES = ['operator', 'commander', 'admin'];

/**
 * A camera as the API sends it, with its ONVIF endpoint (PTZ needs one) and `ptz`: whether
 * it can be steered, `null` while the server has not learned its ONVIF services yet.
 */
export type OnvifCamera = Camera & { onvif_url?: string | null; ptz?: boolean | null };

/** A stored preset: its token for `goto_preset` and its display name. */
export interface Preset {
  token: string;
  name: string;
}

/** A PTZ request the server or the camera refused. */
export class PtzError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Who is logged in, asked once per burst of tiles (10 s), not once per tile. */
const ROLE_TTL_MS = 10000;
let role: { at: number; value: Promise<string | null> } | null = null;

/** Forgets who was logged in (a console shown after a login asks again). */
export function forgetRole(): void {
  role = null;
}

/** Whether the logged-in user's role may move cameras (the server checks again). */
export async function mayPtz(): Promise<boolean> {
  if (!role || Date.now() - role.at > ROLE_TTL_MS) {
    role = {
      at: Date.now(),
      value: me().then(
        (u) => u.role ?? null,
        () => null,
      ),
    };
  }
  const value = await role.value;
  return value !== null && PTZ_ROLES.includes(value);
}

/** Sends `command` to camera `id`; the camera's answer. Throws [`PtzError`]. */
export async function ptz(id: string, command: Record<string, unknown>): Promise<Record<string, unknown>> {
  const r = await api(`/api/v1/cameras/${encodeURIComponent(id)}/ptz`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(command),
  });
  const body = (await r.json().catch(() => ({}))) as Record<string, unknown>;
  if (!r.ok) throw new PtzError(r.status, typeof body.message === 'string' ? body.message : `${r.status}`);
  return body;
}

/**
 * The camera's presets, or `null` when it has no PTZ (`409`: no ONVIF PTZ service) or the
 * user may not use it (`403`, `404`). Other failures throw.
 */
export async function presets(id: string): Promise<Preset[] | null> {
  try {
    const reply = await ptz(id, { action: 'presets' });
    const list = Array.isArray(reply.presets) ? (reply.presets as Preset[]) : [];
    return list.filter((p) => typeof p.token === 'string').map((p) => ({ token: p.token, name: p.name || p.token }));
  } catch (e) {
    if (e instanceof PtzError && [403, 404, 409].includes(e.status)) return null;
    if (e instanceof Unauthorized) return null;
    throw e;
  }
}
