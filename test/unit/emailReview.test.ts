/** email@1's review document: an email as headers and body, and the operator's edits read back. */
import { describe, expect, it } from 'vitest';
import { sendAction } from '../../daemon/src/connectors/email/send';

const original = sendAction.input.parse({
  to: ['Bob <bob@example.org>'],
  subject: 'Re: Order 17',
  text: 'Hello Bob,\n\nit ships Monday.\n',
  inReplyTo: '<order-17@example.org>',
  references: ['<order-17@example.org>'],
  attachments: [{ path: 'outbox/q-17.pdf' }],
});

describe('email review', () => {
  it('shows the email as headers, a blank line and the body', () => {
    const doc = sendAction.review(original);
    expect(doc.language).toBe('email');
    expect(doc.text).toBe(
      'To: Bob <bob@example.org>\nSubject: Re: Order 17\nIn-Reply-To: <order-17@example.org>\n' +
        'References: <order-17@example.org>\nAttachments: outbox/q-17.pdf\n\nHello Bob,\n\nit ships Monday.\n',
    );
    expect(sendAction.fromReview!(doc.text, original)).toEqual(original);
  });

  it('reads back an edited recipient list, subject and body', () => {
    const edited = sendAction
      .review(original)
      .text.replace(
        'To: Bob <bob@example.org>',
        'To: Bob <bob@example.org>, ops@example.org\nCc: me@example.org',
      )
      .replace('Subject: Re: Order 17', 'Subject: Re: Order 17 (shipping)')
      .replace('it ships Monday.', 'it ships Tuesday.');
    expect(sendAction.fromReview!(edited, original)).toEqual({
      ...original,
      to: ['Bob <bob@example.org>', 'ops@example.org'],
      cc: ['me@example.org'],
      subject: 'Re: Order 17 (shipping)',
      text: 'Hello Bob,\n\nit ships Tuesday.\n',
    });
  });

  it('refuses edits to the thread or attachments, unknown headers and bad addresses', () => {
    const text = sendAction.review(original).text;
    const cases: [string, RegExp][] = [
      [
        text.replace('Attachments: outbox/q-17.pdf', 'Attachments: .keel/secrets'),
        /Attachments cannot be changed/,
      ],
      [text.replace('In-Reply-To: <order-17@example.org>\n', ''), /In-Reply-To cannot be changed/],
      [text.replace('Subject:', 'Bcc: all@example.org\nSubject:'), /header "Bcc"/],
      [text.replace('To: Bob <bob@example.org>', 'To: not an address'), /not valid at to/],
    ];
    for (const [edited, error] of cases)
      expect(() => sendAction.fromReview!(edited, original)).toThrow(error);
  });
});
