/**
 * billing@1's probe: reads the account's balance (which any valid secret key may) and one page
 * of customers through the same output schema the actions use, so a key that Stripe refuses or
 * an API whose answers no longer parse fails here first.
 */
import { checkSample } from '../probeCheck';
import type { ActionContext, ProbeResult } from '../sdk';
import { redact, settings, withStripe } from './account';
import { customersOutputSchema } from './customers';
import { toCustomer } from './model';

type Context = Omit<ActionContext, 'idempotencyKey'>;

export async function probeBilling(ctx: Context): Promise<ProbeResult> {
  const checkedAt = new Date().toISOString();
  try {
    const account = settings(ctx);
    const { live, currencies, customers } = await withStripe(ctx, async ({ stripe }) => {
      const balance = await stripe.balance.retrieve();
      const page = await stripe.customers.list({ limit: 3 });
      const parsed = checkSample('listCustomers', customersOutputSchema, {
        customers: page.data.map(toCustomer),
        hasMore: page.has_more,
      });
      return {
        live: balance.livemode,
        currencies: [...new Set(balance.available.map((entry) => entry.currency))],
        customers: parsed.customers.length,
      };
    });
    return {
      ok: true,
      detail:
        `Stripe at ${new URL(account.apiBase).host}, ${live ? 'LIVE' : 'test'} mode: balance in ` +
        `${currencies.join(', ') || 'no currency yet'}; customers readable (${customers} on the first page)`,
      checkedAt,
    };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    let secret = '';
    try {
      secret = ctx.credential('secretKey');
    } catch {
      // An unset credential is itself the failure being reported.
    }
    return { ok: false, detail: redact(message, secret), checkedAt };
  }
}
