/** Tesla Fleet API core library: client, tokens, token store, billing meter, errors. No Node-RED import. */
export {
  FleetApiError,
  isFleetApiError,
  saysAsleep,
  parseRetryAfter,
  parseRegionBaseUrl,
  type FleetApiErrorKind,
  type FleetApiErrorDetails,
} from './errors';
export {
  BillingMeter,
  BILLING_CATEGORIES,
  CALLS_PER_DOLLAR,
  priceOf,
  isBilled,
  localDay,
  formatCost,
  type BillingCategory,
  type BillingEvent,
  type BillingListener,
  type BillingSummary,
  type CallCounts,
  type DaySummary,
} from './billing';
export { FileTokenStore, MemoryTokenStore, fingerprint, type StoredTokens, type TokenStore } from './token-store';
export { jwtExpiry, REFRESH_MARGIN_MS, type TokenState } from './tokens';
export * from './client';
