/**
 * The registry loads Keel's built-in connectors with `require` at their first use (issue 14), which
 * works in the bundles and under tsx but not in vitest, which runs the TypeScript sources as ES
 * modules: this setup file hands it the connectors, loaded the tests' way.
 */
import { billingConnector } from '../../daemon/src/connectors/billing';
import { calendarConnector } from '../../daemon/src/connectors/calendar';
import { emailConnector } from '../../daemon/src/connectors/email';
import { httpConnector } from '../../daemon/src/connectors/http';
import { useLoadedBuiltIns } from '../../daemon/src/connectors/registry';

useLoadedBuiltIns([emailConnector, calendarConnector, httpConnector, billingConnector]);
