/**
 * The Stripe SDK exactly as billing@1 loads it (npm keeps it under daemon/node_modules, where
 * only the daemon resolves it): tests sign webhooks and type request shapes with the same version.
 */
import { connectorLibraries } from '../../daemon/src/connectors/connectorLibraries';

export const Stripe = connectorLibraries().Stripe();
export type Stripe = InstanceType<typeof Stripe>;
