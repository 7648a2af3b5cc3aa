/**
 * `tesla-account` config node: one FleetApiClient (tokens, proxy CA, billing meter) shared by
 * every vehicle-data and telemetry-config node of the account. The rotated refresh token is
 * kept in a 0600 file under Node-RED's user directory, keyed by this node's id.
 */
import { FileTokenStore, FleetApiClient, Region } from '../../lib/fleet-api';
import { Config, NodeAPI, TeslaAccountCredentials, TeslaAccountNode, closeWith, dataDir } from '../common/red';

interface TeslaAccountConfig {
  region?: string;
  proxyUrl?: string;
  proxyCa?: string;
  tokenUrl?: string;
  fleetApiUrl?: string;
  domain?: string;
}

export = function (RED: NodeAPI): void {
  function TeslaAccount(this: TeslaAccountNode, config: Config<TeslaAccountConfig>): void {
    RED.nodes.createNode(this, config);
    const creds = this.credentials ?? {};
    this.domain = (config.domain ?? '').trim();
    this.client = null;
    this.problem = null;
    try {
      this.client = new FleetApiClient({
        region: (['na', 'eu', 'cn'].includes(config.region ?? '') ? config.region : 'na') as Region,
        proxyUrl: config.proxyUrl?.trim() || undefined,
        proxyCa: config.proxyCa?.trim() || undefined,
        tokenUrl: config.tokenUrl?.trim() || undefined,
        fleetApiUrl: config.fleetApiUrl?.trim() || undefined,
        clientId: creds.clientId ?? '',
        clientSecret: creds.clientSecret || undefined,
        refreshToken: creds.refreshToken || undefined,
        accessToken: creds.accessToken || undefined,
        tokenStore: new FileTokenStore(dataDir(RED), this.id),
      });
      this.client.on('warning', (text: string) => this.warn(text));
      this.client.on('login-required', (e: Error) => this.error(e.message));
    } catch (e) {
      this.problem = (e as Error).message;
      this.error(`tesla-account: ${this.problem}`);
    }
    this.on(
      'close',
      closeWith(this, async () => this.client?.close()),
    );
  }
  RED.nodes.registerType<TeslaAccountNode, Config<TeslaAccountConfig>, unknown, TeslaAccountCredentials>('tesla-account', TeslaAccount, {
    credentials: {
      clientId: { type: 'text' },
      clientSecret: { type: 'password' },
      refreshToken: { type: 'password' },
      accessToken: { type: 'password' },
    },
  });
};
