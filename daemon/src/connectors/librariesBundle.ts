/**
 * The entry of dist/connectors.js: the libraries the email, calendar and billing connectors speak
 * their protocols with (imapflow, nodemailer, mailparser, tsdav, stripe). Together with what they
 * pull in (libmime, encodings, HTML parsers) they were some 40% of the `keel` command's bundle,
 * which every start reads, hashes, decodes and deserialises, and Stripe's SDK, tsdav and
 * nodemailer's composer ran their module code at every start too (issue 14: `keel run` starts its
 * first step in <= 300 ms). Here they load the first time a connector needs one
 * (connectorLibraries.ts); each accessor requires its library on its first call, so sending an
 * email does not start Stripe's SDK.
 */
import type * as ImapFlowModule from 'imapflow';
import type * as MailParserModule from 'mailparser';
import type * as NodemailerModule from 'nodemailer';
import type MailComposerClass from 'nodemailer/lib/mail-composer';
import type StripeClass from 'stripe';
import type * as TsdavModule from 'tsdav';

/* eslint-disable @typescript-eslint/no-require-imports -- each loads on its first call, see above */
export const imapflow = (): typeof ImapFlowModule => require('imapflow') as typeof ImapFlowModule;
export const mailparser = (): typeof MailParserModule => require('mailparser') as typeof MailParserModule;
export const nodemailer = (): typeof NodemailerModule => require('nodemailer') as typeof NodemailerModule;
export const MailComposer = (): typeof MailComposerClass =>
  require('nodemailer/lib/mail-composer') as typeof MailComposerClass;
export const Stripe = (): typeof StripeClass => require('stripe') as typeof StripeClass;
export const tsdav = (): typeof TsdavModule => require('tsdav') as typeof TsdavModule;
