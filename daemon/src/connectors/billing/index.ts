/**
 * `billing@1`: a Stripe account through the official `stripe` SDK. Actions: `findCustomers`,
 * `listCustomers`, `getCustomer`, `overdueInvoices` (read); `createCustomer`, `createInvoice` (a draft; undo:
 * `deleteDraftInvoice`) (internal); `finalizeInvoice`, `sendInvoice` (external); `refund`
 * (irreversible). Each write is once per key (a Stripe idempotency key and metadata `keel_key`
 * that `find` looks up after a crash). Events: signed Stripe webhooks (`invoice.paid`,
 * `invoice.payment_failed`, `invoice.overdue`, `charge.dispute.created`). Credentials:
 * `secretKey`, `webhookSecret` (for inbound events). The API origin is a trust endpoint.
 *
 * Action names are camelCase, not `customers.create`: keel.yaml rules read `<connector>.<action>`
 * with no dot in the action, and agents' tool names allow none.
 */
import type { Connector } from '../sdk';
import { billingConfigSchema, billingTrustEndpoints } from './account';
import {
  createCustomerAction,
  findCustomersAction,
  getCustomerAction,
  listCustomersAction,
} from './customers';
import {
  createInvoiceAction,
  deleteDraftInvoiceAction,
  finalizeInvoiceAction,
  overdueInvoicesAction,
  sendInvoiceAction,
} from './invoices';
import { probeBilling } from './probe';
import { refundAction } from './refunds';
import { billingEvents } from './events';
import { billingWebhook } from './webhook';

export const BILLING_CONNECTOR = 'billing@1';

export const billingConnector: Connector = {
  id: BILLING_CONNECTOR,
  description:
    'A Stripe account: find and create customers, draft, finalize and send invoices, list overdue ones, refund; hear of paid, failed and overdue invoices.',
  configSchema: billingConfigSchema,
  credentials: ['secretKey', 'webhookSecret'],
  // Only a workspace that receives Stripe's webhooks needs their signing secret.
  optionalCredentials: ['webhookSecret'],
  actions: {
    findCustomers: findCustomersAction,
    listCustomers: listCustomersAction,
    getCustomer: getCustomerAction,
    createCustomer: createCustomerAction,
    createInvoice: createInvoiceAction,
    deleteDraftInvoice: deleteDraftInvoiceAction,
    finalizeInvoice: finalizeInvoiceAction,
    sendInvoice: sendInvoiceAction,
    overdueInvoices: overdueInvoicesAction,
    refund: refundAction,
  },
  events: billingEvents,
  webhook: billingWebhook,
  probe: probeBilling,
  trustEndpoints: billingTrustEndpoints,
};
