/**
 * Access-token lifecycle: refresh when the access token is missing, expires within 5 minutes,
 * or a call answered 401; one refresh in flight shared by every caller; rotated refresh tokens
 * written to the store before they are used; after a refused refresh ('login-required') no
 * more refresh attempts until new credentials are deployed (a new client).
 */
import { clip, FleetApiError } from './errors';
import type { HttpAnswer } from './http';
import { fingerprint, type TokenStore } from './token-store';

/** Refresh when the access token expires within this margin. */
export const REFRESH_MARGIN_MS = 5 * 60 * 1000;
/** After a transient refresh failure while the token is still valid, wait this long before trying again. */
const PROACTIVE_RETRY_MS = 30 * 1000;
/** How many recent tokens are kept for scrubbing texts. */
const MAX_REMEMBERED = 16;

/** What may be shown about tokens: nothing secret. */
export interface TokenState {
  hasAccessToken: boolean;
  hasRefreshToken: boolean;
  /** Access token expiry (ms since the epoch), null when unknown. */
  expiresAt: number | null;
  /** True after the refresh token was refused: deploy new credentials. */
  loginRequired: boolean;
}

export interface TokenManagerOptions {
  tokenUrl: string;
  clientId: string;
  refreshToken?: string;
  accessToken?: string;
  store?: TokenStore;
  now: () => number;
  /** POSTs the form to the token endpoint; transport failures throw FleetApiError. */
  post: (url: URL, form: string) => Promise<HttpAnswer>;
  /** Called after every token-endpoint attempt with its status (null: no answer). */
  record: (status: number | null) => void;
  /** Removes secrets from a text. */
  scrub: (text: string) => string;
  onWarning: (message: string) => void;
  onRefreshed: (state: TokenState) => void;
  onLoginRequired: (error: FleetApiError) => void;
}

/** `exp` of a JWT access token in ms, or null (Tesla's access tokens are JWTs). */
export function jwtExpiry(token: string): number | null {
  const parts = token.split('.');
  if (parts.length !== 3) return null;
  try {
    const payload: unknown = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
    const exp = (payload as { exp?: unknown } | null)?.exp;
    return typeof exp === 'number' && Number.isFinite(exp) ? exp * 1000 : null;
  } catch {
    return null;
  }
}

const TRANSIENT = new Set(['server', 'timeout', 'network', 'rate-limited']);

export class TokenManager {
  private readonly opts: TokenManagerOptions;
  private readonly deployedFingerprint: string | null;
  private access: string | null;
  private expiresAt: number | null;
  private refreshTok: string | null;
  private loginError: FleetApiError | null = null;
  private inflight: Promise<string> | null = null;
  private ready: Promise<void> | null = null;
  private proactiveRetryAt = 0;
  private readonly seen = new Set<string>();

  constructor(opts: TokenManagerOptions) {
    this.opts = opts;
    this.refreshTok = opts.refreshToken || null;
    this.access = opts.accessToken || null;
    this.expiresAt = this.access ? jwtExpiry(this.access) : null;
    this.deployedFingerprint = this.refreshTok ? fingerprint(this.refreshTok) : null;
    this.remember(this.refreshTok, this.access);
  }

  /** The secrets this manager holds or held recently (for scrubbing texts). */
  secrets(): string[] {
    return [...this.seen];
  }

  private remember(...tokens: (string | null | undefined)[]): void {
    for (const t of tokens) {
      if (!t) continue;
      this.seen.delete(t);
      this.seen.add(t);
    }
    while (this.seen.size > MAX_REMEMBERED) this.seen.delete(this.seen.values().next().value as string);
  }

  state(): TokenState {
    return {
      hasAccessToken: this.access !== null,
      hasRefreshToken: this.refreshTok !== null,
      expiresAt: this.expiresAt,
      loginRequired: this.loginError !== null,
    };
  }

  /** A usable access token, refreshing first when needed. */
  async accessToken(): Promise<string> {
    await this.init();
    if (this.loginError) throw this.loginError;
    const now = this.opts.now();
    if (this.access && (this.expiresAt === null || this.expiresAt - now > REFRESH_MARGIN_MS)) return this.access;
    if (this.access && this.expiresAt !== null && this.expiresAt > now) {
      // Expiring soon but still valid: refresh, and keep using it if the auth server is unreachable.
      if (now < this.proactiveRetryAt) return this.access;
      const current = this.access;
      try {
        return await this.refresh(null);
      } catch (e) {
        if (e instanceof FleetApiError && TRANSIENT.has(e.kind) && this.access === current) {
          this.proactiveRetryAt = this.opts.now() + PROACTIVE_RETRY_MS;
          return current;
        }
        throw e;
      }
    }
    return this.refresh(null);
  }

  /**
   * A call with `usedToken` answered 401: refresh unless someone already did since that
   * token was handed out, and return the token to retry with.
   */
  async afterUnauthorized(usedToken: string): Promise<string> {
    await this.init();
    return this.refresh(usedToken);
  }

  private init(): Promise<void> {
    if (!this.ready) this.ready = this.loadStore();
    return this.ready;
  }

  private async loadStore(): Promise<void> {
    const { store } = this.opts;
    if (!store || !this.deployedFingerprint) return;
    try {
      const stored = await store.load();
      if (stored && stored.fingerprint === this.deployedFingerprint) {
        this.refreshTok = stored.refreshToken;
        this.remember(stored.refreshToken, stored.accessToken);
        if (stored.accessToken) {
          this.access = stored.accessToken;
          this.expiresAt = stored.expiresAt ?? jwtExpiry(stored.accessToken);
        }
      }
      // Otherwise the newly deployed token wins; the store is overwritten after the next refresh.
    } catch (e) {
      this.opts.onWarning(`${(e as Error).message} Using the deployed refresh token.`);
    }
  }

  private refresh(usedToken: string | null): Promise<string> {
    if (this.loginError) return Promise.reject(this.loginError);
    if (this.inflight) return this.inflight;
    if (usedToken !== null && this.access !== null && this.access !== usedToken) {
      // Someone refreshed since this caller got its token: retry with the new one.
      return Promise.resolve(this.access);
    }
    const p = this.doRefresh();
    this.inflight = p;
    const clear = (): void => {
      if (this.inflight === p) this.inflight = null;
    };
    p.then(clear, clear);
    return p;
  }

  private loginRequired(reason: string, status: number | null): FleetApiError {
    const err = new FleetApiError(
      'login-required',
      `Tesla refused the refresh token (${reason}). Paste a new refresh token into the tesla-account node and deploy.`,
      { status, method: 'POST', path: this.tokenPath() },
    );
    this.loginError = err;
    this.opts.onLoginRequired(err);
    return err;
  }

  private tokenPath(): string {
    return new URL(this.opts.tokenUrl).pathname;
  }

  private async doRefresh(): Promise<string> {
    if (!this.refreshTok) {
      throw this.loginRequired('no refresh token is set', null);
    }
    const url = new URL(this.opts.tokenUrl);
    const form = new URLSearchParams({
      grant_type: 'refresh_token',
      client_id: this.opts.clientId,
      refresh_token: this.refreshTok,
    }).toString();
    let answer: HttpAnswer;
    try {
      answer = await this.opts.post(url, form);
    } catch (e) {
      this.opts.record(null);
      throw e;
    }
    this.opts.record(answer.status);
    let body: Record<string, unknown> | null = null;
    try {
      const parsed: unknown = JSON.parse(answer.text);
      if (parsed && typeof parsed === 'object') body = parsed as Record<string, unknown>;
    } catch {
      body = null;
    }
    const details = { status: answer.status, method: 'POST', path: url.pathname };
    const oauthError = typeof body?.error === 'string' ? body.error : null;
    // Only a plain OAuth error code is shown, never free text from the token endpoint.
    const shownError = oauthError && /^[a-z0-9_.-]{1,64}$/i.test(oauthError) ? oauthError : null;

    if (answer.status >= 200 && answer.status < 300) {
      const access = body?.access_token;
      if (typeof access !== 'string' || access === '') {
        throw new FleetApiError('bad-response', `The token endpoint ${url.host} answered without an access token.`, details);
      }
      const rotated = typeof body?.refresh_token === 'string' && body.refresh_token !== '' ? body.refresh_token : this.refreshTok;
      this.remember(rotated, access);
      const expiresIn = body?.expires_in;
      const expiresAt =
        typeof expiresIn === 'number' && Number.isFinite(expiresIn) && expiresIn > 0 ? this.opts.now() + expiresIn * 1000 : jwtExpiry(access);
      if (this.opts.store && this.deployedFingerprint) {
        try {
          await this.opts.store.save({
            fingerprint: this.deployedFingerprint,
            refreshToken: rotated,
            accessToken: access,
            ...(expiresAt !== null ? { expiresAt } : {}),
          });
        } catch (e) {
          this.opts.onWarning(`${(e as Error).message} The rotated refresh token is kept in memory only and will be lost at restart.`);
        }
      }
      this.refreshTok = rotated;
      this.access = access;
      this.expiresAt = expiresAt;
      this.proactiveRetryAt = 0;
      this.opts.onRefreshed(this.state());
      return access;
    }
    if (oauthError === 'login_required' || oauthError === 'invalid_grant' || answer.status === 400 || answer.status === 401) {
      throw this.loginRequired(shownError ?? `HTTP ${answer.status}`, answer.status);
    }
    if (answer.status === 429) {
      throw new FleetApiError('rate-limited', `The token endpoint ${url.host} is rate limiting (429). Try again later.`, details);
    }
    if (answer.status >= 500) {
      throw new FleetApiError(
        'server',
        `The token endpoint ${url.host} had a server error (${answer.status}). It will be tried again on the next call.`,
        details,
      );
    }
    if (answer.status === 403) {
      throw new FleetApiError(
        'forbidden',
        `The token endpoint ${url.host} refused the client (403${shownError ? `, ${shownError}` : ''}). Check the client id in the tesla-account node.`,
        details,
      );
    }
    throw new FleetApiError(
      'bad-request',
      this.opts.scrub(
        `The token endpoint ${url.host} answered ${answer.status}${shownError ? ` (${clip(shownError, 64)})` : ''}. Check the token URL and client id of the tesla-account node.`,
      ),
      details,
    );
  }
}
