/**
 * The week's runbooks against what an outsider controls: a calendar invitation's title, a Stripe
 * event's fields and an inbound mail. The reminder rule that lets invoice-reminder send without a
 * second approval (the demo's keel.yaml, parsed as the daemon parses it) must not become a way
 * to mail anyone: not to an address outside the customers' domains (also hidden in Cc), not for a
 * run an event started (an inbound mail asking for a "Payment reminder"), not for another subject.
 * And the fenced, untrusted event fields never reach a file path or a mail header.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { Runbook, WorkspaceConfig } from '@keel/schemas';
import { DEMO_CONFIG } from '../../daemon/src/cli/commands/demo';
import { decideAction } from '../../daemon/src/connectors/actionPolicy';
import { emailConnector } from '../../daemon/src/connectors/email';
import { REPO_ROOT } from '../helpers/processes';

const approvals = WorkspaceConfig.parse(parseYaml(DEMO_CONFIG)).approvals;
const send = emailConnector.actions.send!;

function decide(mail: { to: string[]; cc?: string[]; subject: string }, fromEvent = false): string {
  const input = send.input.parse({ text: 'Please pay.', ...mail });
  const policy = (value: unknown) => send.policy!(value);
  return decideAction('mail', 'send', send.risk, input, approvals, false, policy, fromEvent).decide;
}

describe("invoice-reminder's reminder rule", () => {
  it('allows a reminder to a customer from a run the operator or the schedule started', () => {
    expect(
      decide({ to: ['Dana <dana@acme-logistics.example>'], subject: 'Payment reminder: invoice KEEL-7' }),
    ).toBe('allow');
  });

  it('asks for a reminder to anyone else, also when the outsider is only in Cc', () => {
    expect(decide({ to: ['x@evil.example'], subject: 'Payment reminder: invoice KEEL-7' })).toBe('ask');
    expect(
      decide({
        to: ['dana@acme-logistics.example'],
        cc: ['x@evil.example'],
        subject: 'Payment reminder: invoice KEEL-7',
      }),
    ).toBe('ask');
    expect(decide({ to: ['dana@acme-logistics.example.evil.example'], subject: 'Payment reminder: x' })).toBe(
      'ask',
    );
  });

  it('asks when an event started the run (a mail that asks for a "Payment reminder")', () => {
    expect(
      decide({ to: ['dana@acme-logistics.example'], subject: 'Payment reminder: invoice KEEL-7' }, true),
    ).toBe('ask');
  });

  it('asks for any other subject, a reply about a reminder included', () => {
    expect(decide({ to: ['dana@acme-logistics.example'], subject: 'Re: Payment reminder: KEEL-7' })).toBe(
      'ask',
    );
    expect(decide({ to: ['dana@acme-logistics.example'], subject: 'Thank you for your payment' })).toBe(
      'ask',
    );
  });
});

async function runbook(name: string): Promise<Runbook> {
  return Runbook.parse(parseYaml(await readFile(join(REPO_ROOT, 'runbooks', `${name}.yaml`), 'utf8')));
}

function step(book: Runbook, id: string): Record<string, unknown> {
  const found = book.steps.find((s) => s.id === id);
  if (!found) throw new Error(`${book.name} has no step ${id}`);
  return found;
}

describe('untrusted event fields in the week runbooks', () => {
  it("never name a file: notes are named by the run's id, or are the customer note memory found", async () => {
    const prep = step(await runbook('meeting-prep'), 'note');
    const unknownPayer = step(await runbook('payment-received'), 'newNote');
    for (const path of [prep.path, unknownPayer.path]) {
      expect(path).toMatch(/\{\{ run\.id \}\}/);
      expect(path).not.toMatch(/inputs\./);
    }
    // A payment is appended to the customer note the retrieve found, only when it is one.
    const paid = step(await runbook('payment-received'), 'note');
    expect(paid.path).toBe('{{ steps.account.output.first.path }}');
    expect(paid.when).toMatch(/steps\.account\.output\.first\.type == 'customer'/);
    expect(paid.content).toBeUndefined();
  });

  it('never make a mail header: the thank-you and the reminder take no event field in to or subject', async () => {
    const thanks = step(await runbook('payment-received'), 'draft').with as Record<string, string>;
    const reminder = step(await runbook('invoice-reminder'), 'send').with as Record<string, string>;
    for (const header of [thanks.to, thanks.subject, reminder.to, reminder.subject, reminder.text]) {
      expect(header).not.toMatch(/inputs\./);
    }
    // invoice-chaser has no inputs at all, and invoice-reminder's one input only picks whose
    // invoices Stripe is asked for: everything it sends comes from Stripe and the operator.
    expect((await runbook('invoice-chaser')).inputs).toEqual({});
    const reminderBook = await runbook('invoice-reminder');
    expect(Object.keys(reminderBook.inputs)).toEqual(['customer']);
    const readers = reminderBook.steps.filter((s) => JSON.stringify(s).includes('inputs.'));
    expect(readers.map((s) => s.id)).toEqual(['overdue']);
  });
});
